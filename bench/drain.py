"""Drain benchmark: N busy agents (each running a task of --task seconds) -> 0, against the same N idle.

Every busy agent must finish its task before it exits: no task lost, no agent killed at its deadline. The
baseline, measured in the same run, is the drain of the same N agents while idle.

    python bench/drain.py --agents 1000 --task 2
"""

from __future__ import annotations

import argparse
import asyncio
import time

from harness import Bench, ExitWatcher, connect, ready_and_pulling, running_system, wait_until

from agentscaler.services.cli.client import Client
from agentscaler.shared.messages.pools import PoolConfig


async def drain(client: Client, pool: str, n: int, task_s: float | None) -> dict[str, float]:
    watcher = ExitWatcher(pool)
    await watcher.start(client)
    await client.scale(pool, "up", n)
    await wait_until(lambda: ready_and_pulling(client, pool, n), timeout=max(120, n * 0.5), every=0.25)
    ids: list[str] = []
    if task_s is not None:
        ids = await client.submit(pool, [{"sleep": task_s}] * n)
        await wait_until(lambda: _in_flight(client, pool, n), timeout=60, every=0.02)
    start = time.monotonic()
    await client.scale(pool, "down", 0)
    await wait_until(lambda: watcher.all_gone(n), timeout=max(120, n * 0.2))
    seconds = time.monotonic() - start
    results = [await client.result(pool, task_id) for task_id in ids]
    return {
        "agents": n,
        "down_s": seconds,
        "exited_0": watcher.clean,
        "tasks": len(ids),
        "tasks_done_once": sum(1 for r in results if r is not None and r.status == "ok" and r.attempts == 1),
    }


async def _in_flight(client: Client, pool: str, n: int) -> bool:
    from agentscaler.shared import subjects

    info = await client.js.consumer_info(subjects.task_stream(pool), subjects.TASK_CONSUMER)
    return (info.num_ack_pending or 0) >= n


async def measure(bench: Bench, args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    client = await connect(bench.url)
    config = PoolConfig(name="drain", max_agents=args.agents, drain_timeout=args.task + 30)
    await client.set_pool(config)
    idle = await drain(client, "drain", args.agents, None)
    busy = await drain(client, "drain", args.agents, args.task)
    await client.nc.close()
    return busy, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--task", type=float, default=2.0, help="seconds each busy agent's task takes")
    args = parser.parse_args()
    with running_system() as bench:
        busy, idle = asyncio.run(measure(bench, args))
    print(f"{'':30} {'busy':>10} {'idle (baseline)':>16}")
    for key, label in (
        ("agents", "agents"),
        ("down_s", "N -> 0, s"),
        ("exited_0", "agents that exited 0"),
        ("tasks", "tasks in flight at down 0"),
        ("tasks_done_once", "tasks completed, first attempt"),
    ):
        print(f"{label:30} {busy[key]:>10.2f} {idle[key]:>16.2f}")
    lost = busy["tasks"] - busy["tasks_done_once"]
    ratio = busy["down_s"] / idle["down_s"]
    print(f"busy/idle drain time ratio = {ratio:.1f}x (a busy drain waits for {args.task:g} s tasks)")
    print(f"lost tasks = {lost:.0f}; logs in {bench.work}")


if __name__ == "__main__":
    main()
