"""Throughput benchmark: no-op tasks through N agents, against a bare nats-py fetch/ack loop.

agentscaler: N forked agents of a pool whose tasks take no time (``{"sleep": 0}``); M tasks are submitted
and the clock runs from the first submission until M results are stored. Each task costs a
pull, a result written once to KV, and an ack.

Baseline, measured in the same run against the same server: one process pulling M pre-published messages
from a work-queue stream in batches of 256 and acking each, the fastest plain nats-py consumer.

    python bench/throughput.py --agents 500 --tasks 20000 [--prefetch 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import nats
from harness import Bench, connect, ready_and_pulling, running_system, wait_until
from nats.js.api import RetentionPolicy, StreamConfig

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.messages.pools import PoolConfig


async def agentscaler_rate(client: Client, agents: int, tasks: int, prefetch: int) -> float:
    await client.set_pool(PoolConfig(name="tp", max_agents=agents, drain_timeout=30, prefetch=prefetch))
    await client.scale("tp", "up", agents)
    await wait_until(lambda: ready_and_pulling(client, "tp", agents), timeout=max(120, agents * 0.5), every=0.25)
    start = time.monotonic()
    await client.submit("tp", [{"sleep": 0}] * tasks)
    await wait_until(lambda: _completed(client, tasks), timeout=max(300, tasks / 50), every=0.1)
    rate = tasks / (time.monotonic() - start)
    await client.scale("tp", "down", 0)
    return rate


async def _completed(client: Client, n: int) -> bool:
    """Results are created once per task in a fresh results bucket: its message count is the count done."""
    info = await client.js.stream_info(f"KV_{subjects.RESULTS_BUCKET}")
    return info.state.messages >= n


async def baseline_rate(url: str, tasks: int) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="bench-raw", subjects=["bench.raw"], retention=RetentionPolicy.WORK_QUEUE))
    body = b'{"sleep": 0}'
    for start in range(0, tasks, 1000):
        await asyncio.gather(*(js.publish("bench.raw", body) for _ in range(min(1000, tasks - start))))
    sub = await js.pull_subscribe("bench.raw", durable="raw")
    done = 0
    begin = time.monotonic()
    while done < tasks:
        for msg in await sub.fetch(256, timeout=5):
            await msg.ack()
            done += 1
    rate = tasks / (time.monotonic() - begin)
    await nc.close()
    return rate


async def measure(bench: Bench, args: argparse.Namespace) -> tuple[float, float]:
    client = await connect(bench.url)
    ours = await agentscaler_rate(client, args.agents, args.tasks, args.prefetch)
    await client.nc.close()
    return ours, await baseline_rate(bench.url, args.tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--prefetch", type=int, default=1, help="the pool's prefetch: tasks an agent takes at once")
    args = parser.parse_args()
    with running_system() as bench:
        ours, base = asyncio.run(measure(bench, args))
    print(
        f"agentscaler, {args.agents} agents, prefetch {args.prefetch}: {ours:10.0f} tasks/s"
        f"  ({args.tasks} no-op tasks, submit to last result)"
    )
    print(f"bare nats-py fetch/ack loop:  {base:10.0f} msgs/s")
    print(f"ratio agentscaler/bare = {ours / base:.2f}x; logs in {bench.work}")


if __name__ == "__main__":
    main()
