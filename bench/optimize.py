"""Optimize benchmark: does ``agentscaler optimize`` find settings that serve the recorded load better?

Runs a private nats-server and all services and replays a window of a trace through the live system at a speed-up
(``replay.py``), with the default auto settings: the policy records the load in its history as it goes. It then
runs ``optimize --apply`` on that history and replays the same window again with the settings it recommended (and,
with ``--again``, the defaults once more). Printed: the optimize report (its predictions for both settings), and
the two live runs side by side in trace seconds (agent-seconds, p95 wait, minutes over the target wait) with the
ratio of the recommended run to the default one (the default run is the baseline). The goal: no more minutes over
target at fewer agent-seconds.

    python bench/optimize.py --kind diurnal --from 28800 --duration 7200 --speed 10
"""

from __future__ import annotations

import argparse
import asyncio
import time

import msgspec
import traces
from harness import connect, running_system
from replay import POOL, ROWS, Live, replay, scaled, window

from agentscaler.services.cli.optimize_report import render_report
from agentscaler.services.policy.sim.workload import Workload
from agentscaler.shared.messages.optimize import Optimize
from agentscaler.shared.messages.pools import AutoConfig


def unscaled(config: AutoConfig, speed: float) -> AutoConfig:
    """``config`` (in the live system's seconds) in trace seconds: the inverse of ``replay.scaled``."""
    return scaled(config, 1 / speed)


async def run(args: argparse.Namespace, workload: Workload) -> list[Live]:
    speed = args.speed
    env = {
        "AGENTSCALER_MONITOR_INTERVAL": str(max(0.1, 1.0 / speed)),
        "AGENTSCALER_MONITOR_STATS_WINDOW": str(60 / speed),
        "AGENTSCALER_POLICY_HISTORY_INTERVAL": str(30 / speed),
        "AGENTSCALER_POLICY_OPTIMIZE_MINUTE": str(60 / speed),
    }
    with running_system(env) as bench:
        client = await connect(bench.url)
        began = time.time()
        defaults = AutoConfig(target_wait=args.target_wait)
        print(f"== replay 1: default settings ({len(workload)} tasks, {args.duration:g} trace s at {speed:g}x)")
        first = await replay(client, workload, defaults, args)
        print("== optimize --apply on the recorded load")
        report = await client.optimize(Optimize(pool=POOL, since=time.time() - began + 5, apply=True), timeout=1800)
        print("\n".join(render_report(report)))
        if report.recommended is None or not report.changes:
            raise SystemExit("optimize recommended no change: nothing to replay again")
        stored = (await client.pool(POOL)).config.auto
        assert stored == report.recommended.config, "--apply did not store the recommended settings"
        recommended = unscaled(stored, speed)
        print(f"== replay 2: the recommended settings, in trace seconds: {msgspec.json.encode(recommended).decode()}")
        runs = [first, await replay(client, workload, recommended, args)]
        if args.again:
            print("== replay 3: the default settings again (how much two runs of the same settings differ)")
            runs.append(await replay(client, workload, defaults, args))
        await client.nc.close()
    print(f"logs in {bench.work}")
    return runs


def compare(runs: list[Live]) -> None:
    a, b = runs[0].metrics, runs[1].metrics
    again = runs[2].metrics if len(runs) > 2 else None
    print(
        f"{'live, trace seconds':24} {'defaults':>12} {'recommended':>12} {'ratio':>8}"
        + (f" {'defaults again':>15} {'ratio':>8}" if again else "")
    )
    for label, key, fmt in ROWS:
        x, y = getattr(a, key), getattr(b, key)
        line = f"{label:24} {fmt.format(x)} {fmt.format(y)} {_ratio(y, x)}"
        if again is not None:
            z = getattr(again, key)
            line += f"    {fmt.format(z)} {_ratio(z, x)}"
        print(line)
    fewer = b.agent_seconds < a.agent_seconds
    no_worse = b.minutes_over <= a.minutes_over
    print(
        f"goal: minutes over target {b.minutes_over} <= {a.minutes_over} and agent-seconds {b.agent_seconds:,.0f} < "
        f"{a.agent_seconds:,.0f}: {'met' if fewer and no_worse else 'NOT MET'}"
    )


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:>7.3f}x" if baseline else f"{'-':>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=sorted(traces.GENERATORS), default="diurnal", help="a shipped trace")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=10.0, help="how many times faster than the trace")
    parser.add_argument("--from", dest="start", type=float, default=28800.0, help="trace second to start at")
    parser.add_argument("--duration", type=float, default=7200.0, help="trace seconds to replay")
    parser.add_argument("--target-wait", type=float, default=5.0, help="p95 queue wait target, trace seconds")
    parser.add_argument("--max-agents", type=int, default=1000)
    parser.add_argument(
        "--again",
        action="store_true",
        help="replay the defaults a second time at the end, to show the run-to-run noise",
    )
    args = parser.parse_args()
    if args.speed <= 0 or args.duration <= 0:
        parser.error("--speed and --duration must be > 0")
    workload = window(traces.generate(args.kind, args.seed), args.start, args.duration)
    if not workload.arrivals:
        parser.error("no task arrives in that window of the trace")
    compare(asyncio.run(run(args, workload)))


if __name__ == "__main__":
    main()
