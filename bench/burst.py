"""Burst benchmark: 2000 tasks land at once on an auto pool at zero agents.

Runs a private nats-server and all services, puts a pool in auto mode (``max_agents`` = ``--agents``, its
fork server warm), submits ``--tasks`` tasks of ``--task`` seconds in one go and measures, from the first
submission:
  - when the policy's first decision for the burst was published, and the count it asked for;
  - when the agents the burst needs within capacity (one per task, at most ``max_agents``) were running
    (registered, busy or ready);
  - when every task was done.
The baseline measured in the same run is the time the same system takes to start the same number of agents
by ``agentscaler up`` (manual mode, same pool settings), so the figure separates the policy's reaction from
the host's start-up speed.

    python bench/burst.py --tasks 2000 --agents 200
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from harness import connect, running_system, wait_until

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.codec import decode
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig


async def running(client: Client, pool: str, n: int) -> bool:
    agents = (await client.agents(pool)).agents
    return sum(1 for a in agents if a.state in ("ready", "busy")) >= n


async def burst(client: Client, args: argparse.Namespace) -> dict[str, float]:
    pool = "burst"
    await client.set_pool(PoolConfig(name=pool, max_agents=args.agents, drain_timeout=120, heartbeat_interval=5))
    decisions: list[tuple[float, DecisionEvent]] = []

    async def on_decision(msg: Any) -> None:
        decisions.append((time.monotonic(), decode(DecisionEvent, msg.data)))

    await client.nc.subscribe(subjects.decision_subject(pool), cb=on_decision)
    await client.set_mode(pool, "auto", AutoConfig(max_step_up=args.agents))
    await asyncio.sleep(3)  # the auto pool's fork server is warm at zero agents
    start = time.monotonic()
    ids = await client.submit(pool, [{"sleep": args.task}] * args.tasks)
    submitted = time.monotonic() - start
    first = await wait_until(
        lambda: asyncio.sleep(0, next(((t, e) for t, e in decisions if t >= start and e.desired > 0), None)),
        timeout=30,
    )
    decided_at, event = first
    asked = min(args.agents, args.tasks)  # what the burst needs within capacity: an agent per task, at most max
    await wait_until(lambda: running(client, pool, asked), timeout=120, every=0.1)
    agents_at = time.monotonic()
    await wait_until(lambda: _all_done(client, pool, ids), timeout=600, every=0.5)
    done_at = time.monotonic()
    await client.set_mode(pool, "manual")
    await client.scale(pool, "down", 0)
    await wait_until(lambda: _none_left(client, pool), timeout=120, every=0.5)

    started = time.monotonic()
    await client.scale(pool, "up", asked)
    await wait_until(lambda: running(client, pool, asked), timeout=120, every=0.1)
    manual_s = time.monotonic() - started
    await client.scale(pool, "down", 0)
    await wait_until(lambda: _none_left(client, pool), timeout=120, every=0.5)
    return {
        "submitted_s": submitted,
        "decision_s": decided_at - start,
        "first_desired": event.desired,
        "asked": asked,
        "agents_s": agents_at - start,
        "done_s": done_at - start,
        "manual_up_s": manual_s,
    }


async def _all_done(client: Client, pool: str, ids: list[str]) -> bool:
    snap = await client.status(pool)
    return snap.pools[0].tasks.completed + snap.pools[0].tasks.failed >= len(ids)


async def _none_left(client: Client, pool: str) -> bool:
    return not (await client.agents(pool)).agents


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    with running_system({"AGENTSCALER_MONITOR_INTERVAL": "1"}) as bench:
        client = await connect(bench.url)
        figures = await burst(client, args)
        await client.nc.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks in the burst")
    parser.add_argument("--agents", type=int, default=200, help="the pool's max_agents (the capacity)")
    parser.add_argument("--task", type=float, default=2.0, help="seconds each task takes")
    args = parser.parse_args()
    f = asyncio.run(main_async(args))
    print(f"burst of {args.tasks} tasks ({args.task:g} s each) on an auto pool at 0 agents, max {args.agents}:")
    print(f"  submitted (JetStream acked all):   {f['submitted_s']:.2f} s")
    print(f"  first decision published:          {f['decision_s']:.2f} s  (asked for {f['first_desired']:.0f})")
    print(f"  {f['asked']:.0f} agents running:                {f['agents_s']:.2f} s")
    print(f"  every task done:                   {f['done_s']:.2f} s")
    print(f"baseline: `up {f['asked']:.0f}` in manual mode:       {f['manual_up_s']:.2f} s to running")
    print(f"ratio auto/manual to running agents = {f['agents_s'] / f['manual_up_s']:.2f}x")


if __name__ == "__main__":
    main()
