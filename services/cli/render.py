"""Human-readable status."""

from __future__ import annotations

from agentscaler.shared.capacity import CPU_CEILING
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.hosts import Cordon
from agentscaler.shared.messages.leases import LeaseRecord
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import (
    HostSnapshot,
    PoolCost,
    PoolSnapshot,
    ScalingImpact,
    Snapshot,
    WindowFigures,
)
from agentscaler.shared.numbers import GIB, MIB

from .render_cluster import render_cluster
from .units import duration

CLEAR = "\x1b[H\x1b[J"
"""Cursor home and clear the screen: a live view redraws in place."""


def render_status(snapshot: Snapshot) -> str:
    lines: list[str] = []
    hosts = snapshot.hosts or [snapshot.host]
    for pool in snapshot.pools:
        lines.extend(_pool(pool))
        lines.extend(f"  problem  {problem}" for problem in pool.problems)
        lines.append(_room(pool))
        if pool.auto is not None:
            lines.append(_auto(pool.auto, active=pool.mode == "auto"))
        if pool.last_decision is not None:
            lines.append(_last(pool.last_decision, snapshot.at))
        if pool.cost is not None:
            lines.append(_cost(pool.cost))
        lines.extend(_impact(i, snapshot.at, priced=pool.cost is not None) for i in pool.impacts)
        lines.extend(_optimized(pool, snapshot.at))
        lines.append("")
    if len(snapshot.pools) > 1:
        lines.extend([_system(snapshot.pools), ""])
    for host in hosts:
        lines.extend([*_host(host, snapshot.cordons.get(host.host)), ""])
    if len(hosts) > 1:
        lines.append(_all_hosts(hosts))
    if snapshot.leaders:
        lines.append(_leaders(snapshot.leaders, snapshot.at))
    if snapshot.cluster is not None:
        lines.extend(render_cluster(snapshot.cluster))
    return "\n".join(lines).rstrip("\n")


def _leaders(leaders: dict[str, LeaseRecord | None], now: float) -> str:
    """One line: which instance leads each leased service, and for how long."""
    shown = [
        f"{name} none" if r is None else f"{name} {r.host} pid {r.pid} for {duration(max(now - r.since, 0.0))}"
        for name, r in sorted(leaders.items())
    ]
    return "leaders  " + "   ".join(shown)


def _pool(p: PoolSnapshot) -> list[str]:
    a, q, t = p.agents, p.queue, p.tasks
    running = a.ready + a.busy
    placed = [f"  placed   {'   '.join(f'{host} {n}' for host, n in sorted(p.placement.items()))}"]
    return [
        f"pool {p.name}   mode {p.mode}   desired {p.desired}   running {running}   max {p.max_agents}",
        *(placed if len(p.placement) > 1 else []),
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


def _room(p: PoolSnapshot) -> str:
    """How many more agents the pool can have and what bounds it, as the monitor figured them."""
    if not p.room_bound:
        return "  room     not reported (by a monitor older than the room figures)"
    words = f"  room     {p.room} more agents (bound by {p.room_bound})"
    if p.cpu_hold:
        words += f"; {p.cpu_hold}: auto mode adds none until it falls"
    return words


def _auto(a: AutoConfig, active: bool) -> str:
    high = "pool max" if a.max_agents is None else str(a.max_agents)
    predict = f"on (season {duration(a.season)})" if a.predict else "off"
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
        f"  last     {duration(max(now - d.at, 0.0))} ago   {d.rule} on {d.trigger}   {counts}{extras}\n"
        f"           {d.reason}" + (f"\n  predict  {d.prediction}" if d.prediction else "")
    )


def _cost(c: PoolCost) -> str:
    prices = [f"{c.per_agent_hour:g} per agent-hour"] if c.per_agent_hour > 0 else []
    prices += [f"{c.per_task:g} per task"] if c.per_task > 0 else []
    seen = "" if c.covered >= 86400 else f" (seen for {duration(c.covered)})"
    return (
        f"  cost     burning {c.burn_rate:.2f}/h   last hour {c.last_hour:.2f}   last day {c.last_day:.2f}{seen}"
        f"   at {', '.join(prices)}"
    )


def _optimized(p: PoolSnapshot, now: float) -> list[str]:
    """The latest optimize run's recommendation, and whether it is stored with the pool."""
    r = p.optimized
    if r is None:
        return [f"  optimize none yet: `agentscaler optimize --pool {p.name}` tunes the auto settings to the load"]
    head = f"  optimize {duration(max(now - r.at, 0.0))} ago, on {duration(r.span)} of recorded load:"
    rec = r.recommended
    if rec is None:
        return [f"{head} no recommendation: {r.note}"]
    if not r.changes:
        return [f"{head} keep the current settings ({r.note})"]
    cur = r.current
    saved = rec.agent_seconds / cur.agent_seconds - 1 if cur.agent_seconds else 0.0
    cost = f", cost {cur.cost_per_hour:.2f} -> {rec.cost_per_hour:.2f}/h" if r.per_agent_hour > 0 else ""
    if p.auto == rec.config:
        state = "stored with the pool" + (" and in force" if p.mode == "auto" else "")
    else:
        state = f"not applied: `agentscaler optimize --pool {p.name} --apply`"
    return [
        f"{head} recommends {'; '.join(r.changes)}",
        f"           agent-seconds {saved:+.1%}{cost}, minutes over {r.target_wait:g}s {cur.minutes_over:g} -> "
        f"{rec.minutes_over:g}, p95 wait {cur.p95_wait:.2f} -> {rec.p95_wait:.2f}s; {state}",
    ]


FLAGS = {"no_gain": "NO THROUGHPUT GAIN", "degraded": "PER-AGENT THROUGHPUT DEGRADED"}


def _impact(i: ScalingImpact, now: float, priced: bool) -> str:
    """One change of count: the figures before -> after, per agent, its cost an hour and any flag."""
    head = f"  change   {duration(max(now - i.at, 0.0))} ago   {i.previous} -> {i.desired} ({i.rule}):"
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


def _host(h: HostSnapshot, cordon: Cordon | None = None) -> list[str]:
    """One host: CPU, memory and disk used and free, its agents with their averages, and how many more fit;
    whether an operator holds it."""
    used = h.memory_total - h.memory_available
    held = "" if cordon is None else "   DRAINING (no agents)" if cordon.drain else "   CORDONED (no new agents)"
    return [
        f"host {h.host}{held}",
        f"  cpu      {h.cpu_percent:.0f}% used, {max(100 - h.cpu_percent, 0):.0f}% free of {h.cpu_count} cores   "
        f"load {h.load1:.2f}",
        f"  memory   {used / GIB:.1f} GiB used   {h.memory_available / GIB:.1f} GiB available "
        f"of {h.memory_total / GIB:.1f} GiB",
        f"  disk     {(h.disk_total - h.disk_free) / GIB:.1f} GiB used   {h.disk_free / GIB:.1f} GiB free of "
        f"{h.disk_total / GIB:.1f} GiB   read {h.disk_read_bps / MIB:.1f} MiB/s   "
        f"write {h.disk_write_bps / MIB:.1f} MiB/s   I/O wait {h.iowait_percent:.1f}%",
        _agents(h),
        _host_room(h),
    ]


def _agents(h: HostSnapshot) -> str:
    """The host's agents and what one uses on average: memory (PSS, else the budget) and CPU."""
    if h.agent_pss_avg:
        memory = f"~{h.agent_pss_avg / MIB:.0f} MiB each (PSS; RSS {h.agent_rss_avg / MIB:.0f} MiB)"
    else:
        memory = f"~{h.agent_memory_budget / MIB:.0f} MiB each budgeted"
    cpu = ""
    if h.agents:
        cpu = f"   CPU {_share(h.agent_cpu_avg)} of a core each, ~{h.agents_cpu_percent:.0f}% of the host together"
    return f"  agents   {h.agents} running, {memory}{cpu}"


def _host_room(h: HostSnapshot) -> str:
    """How many more agents the host takes, bound by memory or by CPU, and what the other resource allows."""
    fit, what = h.room, h.room_bound
    memory = f"keeping {h.memory_reserve / MIB:.0f} MiB free"
    if h.cpu_fit is None:
        return f"  room     fits {fit} more agents, bound by memory ({memory}); CPU sets no bound ({_no_cpu_bound(h)})"
    cpu = f"under {CPU_CEILING:g}% CPU at {_share(h.agent_cpu_avg)} each"
    if what == "CPU":
        return f"  room     fits {fit} more agents, bound by CPU ({cpu}); memory takes {h.agents_fit} ({memory})"
    return f"  room     fits {fit} more agents, bound by memory ({memory}); CPU takes {h.cpu_fit} ({cpu})"


def _no_cpu_bound(h: HostSnapshot) -> str:
    """Why the host's CPU gives no count of agents."""
    if not h.agents:
        return "no agent to measure"
    return "agents near idle" if h.agent_cpu_avg else "agents near idle or not measured yet"


def _share(percent: float) -> str:
    """A percent of a core, with two decimals below 1 (idle agents use hundredths)."""
    return f"{percent:.2f}%" if percent < 1 else f"{percent:.1f}%"


def _all_hosts(hosts: list[HostSnapshot]) -> str:
    """Every host together: CPU (weighted by cores), memory, disk, agents and how many more fit."""
    cores = sum(h.cpu_count for h in hosts)
    cpu = sum(h.cpu_percent * h.cpu_count for h in hosts) / cores if cores else 0.0
    total, available = sum(h.memory_total for h in hosts), sum(h.memory_available for h in hosts)
    disk_total, disk_free = sum(h.disk_total for h in hosts), sum(h.disk_free for h in hosts)
    return (
        f"all {len(hosts)} hosts   cpu {cpu:.0f}% used of {cores} cores   memory {(total - available) / GIB:.1f} GiB "
        f"used   {available / GIB:.1f} GiB available   disk {disk_free / GIB:.1f} GiB free of {disk_total / GIB:.1f} "
        f"GiB   agents {sum(h.agents for h in hosts)} running, fit {sum(h.room for h in hosts)} more"
    )
