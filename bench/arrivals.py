"""Arrival-counting benchmark: what the policy's subscription to an auto pool's task subject costs.

Runs a private nats-server and all services (one process), then publishes tasks at ``--rate`` per second
for ``--seconds`` to a manual pool (the baseline) and to an auto pool, and prints the CPU the services
process spent meanwhile, in % of one core. Both pools have ``max_agents`` 0, so no agent runs and the
difference is the policy receiving and counting every task (and deciding, at most every ``wake_interval``).

    python bench/arrivals.py --rate 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import time

from harness import connect, cpu_seconds, running_system

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.codec import encode
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from agentscaler.shared.messages.tasks import TaskEnvelope


async def publish(client: Client, pool: str, rate: int, seconds: float) -> float:
    """Publish tasks of a typical size at ``rate`` a second for ``seconds``; returns the rate achieved."""
    body = encode(TaskEnvelope(id="x" * 32, pool=pool, payload={"prompt": "y" * 100}, submitted_at=0.0))
    subject = subjects.task_subject(pool)
    start, sent = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        for _ in range(max(rate // 100, 1)):
            await client.nc.publish(subject, body)
            sent += 1
        await asyncio.sleep(0.01)
    await client.nc.flush()
    return sent / (time.monotonic() - start)


async def measure(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    figures: dict[str, tuple[float, float]] = {}
    with running_system() as bench:
        client = await connect(bench.url)
        for mode in ("manual", "auto"):
            pool = f"arrivals-{mode}"
            await client.set_pool(PoolConfig(name=pool, max_agents=0))
            if mode == "auto":
                await client.set_mode(pool, "auto", AutoConfig())
            await asyncio.sleep(2)
            before = cpu_seconds([bench.services_pid])
            started = time.monotonic()
            rate = await publish(client, pool, args.rate, args.seconds)
            await asyncio.sleep(1)  # what was sent is handled
            used = cpu_seconds([bench.services_pid]) - before
            figures[mode] = (rate, used / (time.monotonic() - started) * 100)
        await client.nc.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=2000, help="tasks published per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    for mode, (rate, cpu) in figures.items():
        print(f"{mode:>6} pool: {rate:,.0f} tasks/s published, services CPU {cpu:.1f}% of a core")
    (rate, auto), (_, manual) = figures["auto"], figures["manual"]
    extra = auto - manual
    print(f"counting arrivals costs {extra:.1f}% of a core at {rate:,.0f} tasks/s "
          f"({extra / rate * 1000:.2f}% per 1000 tasks/s); auto/manual = {auto / max(manual, 0.01):.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
