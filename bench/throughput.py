"""Throughput benchmark: no-op tasks through N agents, against a bare nats-py fetch/ack loop.

agentscaler, two ways, N forked agents of a pool whose tasks take no time (``{"sleep": 0}``):
  - end to end: M tasks submitted to N ready agents, the clock running from the first submission until M
    results are stored;
  - pre-filled queue: M tasks submitted first, then N agents started, the rate taken over the steady middle
    (from 20% to 80% of the results), with the CPU each process spent per task meanwhile.
Each task costs a delivery, a result created once in KV (a publish and JetStream's answer), an ack, and a
copy of the result to the monitor; pulls are shared by ``--prefetch`` tasks.

Baseline, measured in the same run against the same server: one process pulling M pre-published messages
from a work-queue stream in batches of 256 and acking each, the fastest plain nats-py consumer.

    python bench/throughput.py --agents 500 --tasks 20000 [--prefetch 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import nats
from harness import Bench, connect, cpu_seconds, ready_and_pulling, running_system, wait_until
from nats.js.api import RetentionPolicy, StreamConfig

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.bus.replicas import replicas
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


async def prefilled_rate(client: Client, bench: Bench, agents: int, tasks: int, prefetch: int) -> dict[str, float]:
    """Tasks/s over the middle 60% of draining a full queue, and CPU microseconds per task by process; empty
    when the queue drained too fast for two samples to fall inside it (a small ``tasks``)."""
    await client.set_pool(PoolConfig(name="tq", max_agents=agents, drain_timeout=30, prefetch=prefetch))
    before = await _results(client)
    await client.submit("tq", [{"sleep": 0}] * tasks)
    await client.scale("tq", "up", agents)
    await wait_until(lambda: _completed(client, before + 0.2 * tasks), timeout=max(300, tasks / 50), every=0.05)
    agents = [pid for server in _children(bench.services_pid) for pid in _children(server)]
    pids = {"nats-server": [bench.server_pid], "services": [bench.services_pid], "agents": agents}
    t0, n0, cpu0 = time.monotonic(), await _results(client), _cpu(pids)
    await wait_until(lambda: _completed(client, before + 0.8 * tasks), timeout=max(300, tasks / 50), every=0.05)
    t1, n1, cpu1 = time.monotonic(), await _results(client), _cpu(pids)
    await wait_until(lambda: _completed(client, before + tasks), timeout=max(300, tasks / 50), every=0.1)
    await client.scale("tq", "down", 0)
    if n1 == n0:
        return {}
    per_task = {f"{kind} us/task": (cpu1[kind] - cpu0[kind]) / (n1 - n0) * 1e6 for kind in cpu1}
    return {"tasks/s": (n1 - n0) / (t1 - t0), **per_task}


def _children(pid: int) -> list[int]:
    """Child pids, from /proc (fast, unlike a walk of every process; the system is busy now)."""
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()]


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    return {kind: cpu_seconds(group) for kind, group in pids.items()}


async def _results(client: Client) -> int:
    info = await client.js.stream_info(f"KV_{subjects.RESULTS_BUCKET}")
    return info.state.messages


async def _completed(client: Client, n: float) -> bool:
    """Results are created once per task in a fresh results bucket: its message count is the count done."""
    return await _results(client) >= n


async def baseline_rate(url: str, tasks: int) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    raw = StreamConfig(
        name="bench-raw", subjects=["bench.raw"], retention=RetentionPolicy.WORK_QUEUE, num_replicas=replicas()
    )  # as many copies as the task queues it is compared with
    await js.add_stream(raw)
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


async def measure(bench: Bench, args: argparse.Namespace) -> tuple[float, dict[str, float], float]:
    client = await connect(bench.url)
    ours = await agentscaler_rate(client, args.agents, args.tasks, args.prefetch)
    steady = await prefilled_rate(client, bench, args.agents, args.tasks, args.prefetch)
    await client.nc.close()
    return ours, steady, await baseline_rate(bench.url, args.tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--prefetch", type=int, default=1, help="the pool's prefetch: tasks an agent takes at once")
    args = parser.parse_args()
    with running_system() as bench:
        ours, steady, base = asyncio.run(measure(bench, args))
    print(f"agentscaler, {args.agents} agents, prefetch {args.prefetch}, {args.tasks} no-op tasks:")
    print(f"  end to end (submit to last result): {ours:8.0f} tasks/s")
    if steady:
        print(f"  pre-filled queue, steady middle:    {steady.pop('tasks/s'):8.0f} tasks/s")
        print("  CPU per task meanwhile: " + ", ".join(f"{k} {v:.0f}" for k, v in steady.items()))
    else:
        print("  pre-filled queue: drained between two samples; run more --tasks to measure it")
    print(f"bare nats-py fetch/ack loop:          {base:8.0f} msgs/s")
    print(f"ratio agentscaler/bare = {ours / base:.2f}x end to end; logs in {bench.work}")


if __name__ == "__main__":
    main()
