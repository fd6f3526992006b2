"""``agentscaler optimize``: ask the policy to tune a pool's auto settings to its recorded load, show the
search's progress, and print its report (or JSON) with the cost/latency trade-off."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from agentscaler.shared.codec import encode
from agentscaler.shared.messages.optimize import Optimize, Optimized, OptimizeProgress, Trial

from .client import Client
from .tradeoff import chart, plot
from .units import duration


async def optimize(client: Client, args: argparse.Namespace) -> int:
    cmd = Optimize(pool=args.pool, since=args.since, budget=args.budget, apply=args.apply)
    tty = sys.stderr.isatty() and not args.json

    def progress(event: OptimizeProgress) -> None:
        if tty:
            best = "" if event.best is None else f"; best so far {event.best.agent_seconds:,.0f} agent-s"
            sys.stderr.write(f"\r  simulated {event.evaluated} configurations{best}\x1b[K")
            sys.stderr.flush()

    if tty:
        sys.stderr.write(f"optimizing pool {args.pool} on its last {duration(args.since)} of recorded load...\n")
    try:
        report = await client.optimize(cmd, args.timeout, progress)
    finally:
        if tty:
            sys.stderr.write("\r\x1b[K")
    if args.plot:
        plot(report, Path(args.plot))
    if args.json:
        sys.stdout.write(msgspec.json.format(encode(report)).decode() + "\n")
    else:
        print("\n".join(render_report(report)))
        if args.plot:
            print(f"trade-off plotted to {args.plot}")
    return 0


def render_report(r: Optimized) -> list[str]:
    """The report for people: what was replayed, current against recommended, the changes, the chart."""
    lines = [
        f"optimize pool {r.pool}: {duration(r.span)} of recorded load ({r.tasks:,} tasks in {r.samples} samples), "
        f"agents starting in {r.start_delay:.2f}s"
        + (f" at up to {r.spawn_rate:g} a second" if r.spawn_rate > 0 else "")
        + f", target wait {r.target_wait:g}s"
        + (f", budget {r.budget:g}/h" if r.budget is not None else ""),
        f"simulated {r.evaluated} configurations in {r.seconds:.1f}s",
        "",
        f"{'':<22}{'current':>14}{'recommended':>14}",
    ]
    rec = r.recommended
    lines.extend(_rows(r, r.current, rec))
    lines.append("")
    if rec is None:
        lines.append(f"no recommendation: {r.note}")
    elif not r.changes:
        lines.append(f"keep the current settings: {r.note}")
    else:
        lines.append("change: " + "; ".join(r.changes))
        lines.append(f"result: {r.note}")
        lines.append(
            "applied: stored with the pool"
            if r.applied
            else f"nothing changed; apply with `agentscaler optimize --pool {r.pool} --apply`"
        )
    lines.append("")
    lines.extend(chart(r))
    return lines


def _rows(r: Optimized, cur: Trial, rec: Trial | None) -> list[str]:
    def row(name: str, show: str, a: float, b: float | None, ratio: bool = False) -> str:
        left = format(a, show)
        right = "-" if b is None else format(b, show)
        extra = f"   ({b / a - 1:+.1%})" if ratio and b is not None and a else ""
        return f"{name:<22}{left:>14}{right:>14}{extra}"

    pick = (lambda f: None) if rec is None else (lambda f: getattr(rec, f))
    rows = [row("agent-seconds", ",.0f", cur.agent_seconds, pick("agent_seconds"), ratio=True)]
    if r.per_agent_hour > 0 or r.per_task > 0:
        rows.append(row("cost per hour", ".2f", cur.cost_per_hour, pick("cost_per_hour"), ratio=True))
    rows += [
        row("p95 wait (s)", ".2f", cur.p95_wait, pick("p95_wait")),
        row(f"minutes over {r.target_wait:g}s", "g", cur.minutes_over, pick("minutes_over"))
        + f"   (of {cur.minutes} with arrivals)",
        row("scaling actions", ",d", cur.actions, pick("actions")),
        row("peak agents", "d", cur.peak_agents, pick("peak_agents")),
    ]
    return rows
