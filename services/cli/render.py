"""Human-readable status."""

from __future__ import annotations

from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import (
    HostSnapshot,
    PoolCost,
    PoolSnapshot,
    ScalingImpact,
    Snapshot,
    WindowFigures,
)

CLEAR = "\x1b[H\x1b[J"
"""Cursor home and clear the screen: a live view redraws in place."""
GIB = 1024**3
MIB = 1024**2


def render_status(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for pool in snapshot.pools:
        lines.extend(_pool(pool))
        lines.append(_room(pool, snapshot.host))
        if pool.auto is not None:
            lines.append(_auto(pool.auto, active=pool.mode == "auto"))
        if pool.last_decision is not None:
            lines.append(_last(pool.last_decision, snapshot.at))
        if pool.cost is not None:
            lines.append(_cost(pool.cost))
        lines.extend(_impact(i, snapshot.at, priced=pool.cost is not None) for i in pool.impacts)
        lines.append("")
    if len(snapshot.pools) > 1:
        lines.extend([_system(snapshot.pools), ""])
    lines.extend(_host(snapshot.host))
    return "\n".join(lines)


def _pool(p: PoolSnapshot) -> list[str]:
    a, q, t = p.agents, p.queue, p.tasks
    running = a.ready + a.busy
    return [
        f"pool {p.name}   mode {p.mode}   desired {p.desired}   running {running}   max {p.max_agents}",
        f"  agents   ready {a.ready}   busy {a.busy}   starting {a.starting}   draining {a.draining}"
        + (f"   start {p.start_time:.2f}s" if p.start_time > 0 else ""),
        f"  queue    pending {q.pending}   in flight {q.in_flight}   idle pulls {q.waiting_pulls}",
        f"  tasks    completed {t.completed}   failed {t.failed}   throughput {t.throughput:.2f}/s   "
        f"latency p50 {t.latency_p50:.2f}s  p95 {t.latency_p95:.2f}s   wait p95 {t.wait_p95:.2f}s   "
        f"(last {t.window:g}s)",
    ]


def _system(pools: list[PoolSnapshot]) -> str:
    """Every pool together: agents by state and, for the priced ones, the burn rate."""
    starting, draining = sum(p.agents.starting for p in pools), sum(p.agents.draining for p in pools)
    running = sum(p.agents.ready + p.agents.busy for p in pools)
    words = (
        f"system   {len(pools)} pools   desired {sum(p.desired for p in pools)}   running {running}   "
        f"starting {starting}   draining {draining}   busy {sum(p.agents.busy for p in pools)}"
    )
    priced = [p.cost for p in pools if p.cost is not None]
    if priced:
        words += f"   burning {sum(c.burn_rate for c in priced):.2f}/h ({len(priced)} priced)"
    return words


def _room(p: PoolSnapshot, h: HostSnapshot) -> str:
    """How many more agents the pool can have, and what bounds it."""
    limit, why = p.max_agents, "the pool's max_agents"
    if p.mode == "auto" and p.auto is not None and p.auto.max_agents is not None and p.auto.max_agents < limit:
        limit, why = p.auto.max_agents, "its auto max"
    room = max(limit - p.desired, 0)
    bound = f"{why} {limit}"
    if h.agents_fit < room:
        room, bound = h.agents_fit, f"memory on {h.host}: fits {h.agents_fit} more"
    words = f"  room     {room} more agents (bound by {bound})"
    if p.mode == "auto" and h.cpu_percent >= 95:
        words += f"; host CPU at {h.cpu_percent:.0f}%: auto mode adds none until it falls"
    return words


def _auto(a: AutoConfig, active: bool) -> str:
    high = "pool max" if a.max_agents is None else str(a.max_agents)
    predict = f"on (season {_duration(a.season)})" if a.predict else "off"
    return (
        f"  auto     {'in force' if active else 'stored, not in force'}{'   DRY RUN' if a.dry_run else ''}   "
        f"min {a.min_agents}  max {high}   target wait {a.target_wait:g}s   utilization {a.utilization:.0%}   "
        f"scale-down window {a.scale_down_window:g}s   tolerance {a.tolerance:.0%}   flap window "
        f"{a.flap_window:g}s   step {a.max_step_up}   prediction {predict}"
    )


def _last(d: DecisionEvent, now: float) -> str:
    counts = f"{d.previous} -> {d.desired}" if d.desired != d.previous else f"holding {d.desired}"
    extras = "".join(
        [
            "" if d.applied else " (dry run, not applied)",
            f"   limit {d.limit}" if d.limit else "",
            f"   predicted {d.predicted}" if d.predicted else "",
        ]
    )
    return (
        f"  last     {_duration(max(now - d.at, 0.0))} ago   {d.rule} on {d.trigger}   {counts}{extras}\n"
        f"           {d.reason}"
    )


def _cost(c: PoolCost) -> str:
    prices = [f"{c.per_agent_hour:g} per agent-hour"] if c.per_agent_hour > 0 else []
    prices += [f"{c.per_task:g} per task"] if c.per_task > 0 else []
    seen = "" if c.covered >= 86400 else f" (seen for {_duration(c.covered)})"
    return (
        f"  cost     burning {c.burn_rate:.2f}/h   last hour {c.last_hour:.2f}   last day {c.last_day:.2f}{seen}"
        f"   at {', '.join(prices)}"
    )


FLAGS = {"no_gain": "NO THROUGHPUT GAIN", "degraded": "PER-AGENT THROUGHPUT DEGRADED"}


def _impact(i: ScalingImpact, now: float, priced: bool) -> str:
    """One change of count: the figures before -> after, per agent, its cost an hour and any flag."""
    head = f"  change   {_duration(max(now - i.at, 0.0))} ago   {i.previous} -> {i.desired} ({i.rule}):"
    if i.after is None:
        figures = f"before {_figures(i.before)}; after: measuring"
    else:
        a, b = i.before, i.after
        figures = (
            f"throughput {a.throughput:.2f} -> {b.throughput:.2f}/s, "
            f"per agent {i.per_agent_before:.3f} -> {i.per_agent_after:.3f}/s, "
            f"wait {a.wait_mean:.2f} -> {b.wait_mean:.2f}s, latency {a.latency_mean:.2f} -> {b.latency_mean:.2f}s"
        )
    cost = ""
    if priced and i.cost_per_hour:
        cost = f", {'+' if i.cost_per_hour > 0 else ''}{i.cost_per_hour:.2f}/h" + (
            " saved" if i.cost_per_hour < 0 else ""
        )
    flags = "".join(f"   {FLAGS.get(f, f.upper())}" for f in i.flags)
    return f"{head} {figures}{cost}{flags}"


def _figures(w: WindowFigures) -> str:
    return f"throughput {w.throughput:.2f}/s, wait {w.wait_mean:.2f}s, latency {w.latency_mean:.2f}s"


def _duration(seconds: float) -> str:
    """``seconds`` in the largest whole units that fit: 42s, 5m 3s, 2h 10m, 1d 2h."""
    s = int(seconds)
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if s >= size:
            rest = (s % size) // subsize
            return f"{s // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"


def _host(h: HostSnapshot) -> list[str]:
    used = h.memory_total - h.memory_available
    return [
        f"host {h.host}",
        f"  cpu      {h.cpu_percent:.0f}% of {h.cpu_count} cores   load {h.load1:.2f}",
        f"  memory   {used / GIB:.1f} GiB used   {h.memory_available / GIB:.1f} GiB available "
        f"of {h.memory_total / GIB:.1f} GiB",
        f"  disk     {h.disk_free / GIB:.1f} GiB free of {h.disk_total / GIB:.1f} GiB   "
        f"read {h.disk_read_bps / MIB:.1f} MiB/s   write {h.disk_write_bps / MIB:.1f} MiB/s",
        f"  agents   {h.agents} running, ~{h.agent_memory_budget / MIB:.0f} MiB each   fits {h.agents_fit} more "
        f"(keeping {h.memory_reserve / MIB:.0f} MiB free)",
    ]
