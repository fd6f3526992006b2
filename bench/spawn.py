"""Spawn benchmark: 0 -> N agents ready, their memory and idle CPU, and N -> 0, forked vs exec'd.

Runs a private nats-server and all services (``agentscaler run --nats-url``), then for the fork-server pool
and, as the baseline measured in the same run, an exec-per-agent pool of the same runtime:
  - seconds from ``up N`` until N agents are registered and pulling (N pull requests waiting);
  - private memory (USS) per idle agent, over a sample of agents;
  - CPU of the idle agents and of the four services over a quiet window, in % of one core;
  - seconds from ``down 0`` until every agent exited, and how many exited 0.

    python bench/spawn.py --agents 1000 --baseline 100

With ``--secured`` it measures the fork-server pool twice instead, on a secured system (``auth init``: each
service its identity, each agent a user of its own that the actuator signs) and, as the baseline, on an
unsecured one, each started afresh in the same run:

    python bench/spawn.py --secured --agents 500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

import psutil
from harness import Bench, ExitWatcher, connect, cpu_seconds, ready_and_pulling, running_system, wait_until

from agentscaler.services.cli.client import Client
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.numbers import MIB


async def measure_pool(client: Client, pool: str, n: int, quiet: float, bench: Bench) -> dict[str, float]:
    watcher = ExitWatcher(pool)
    await watcher.start(client)
    server_pid = bench.server_pid
    before = {"services": cpu_seconds([bench.services_pid]), "nats-server": cpu_seconds([server_pid])}
    start = time.monotonic()
    await client.scale(pool, "up", n)
    await wait_until(lambda: ready_and_pulling(client, pool, n), timeout=max(120, n * 0.5), every=0.25)
    up_s = time.monotonic() - start
    pids = [a.pid for a in (await client.agents(pool)).agents]
    spent = {
        "agents": cpu_seconds(pids),
        "services": cpu_seconds([bench.services_pid]) - before["services"],
        "nats-server": cpu_seconds([server_pid]) - before["nats-server"],
    }
    print(
        f"{pool}: CPU seconds spent while starting {n} agents: " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
    )

    sample = random.sample(pids, min(len(pids), 100))
    uss = [psutil.Process(p).memory_full_info().uss for p in sample]
    agents_before, services_before = cpu_seconds(pids), cpu_seconds([bench.services_pid])
    await asyncio.sleep(quiet)
    agents_cpu = (cpu_seconds(pids) - agents_before) / quiet * 100
    services_cpu = (cpu_seconds([bench.services_pid]) - services_before) / quiet * 100

    start = time.monotonic()
    await client.scale(pool, "down", 0)
    await wait_until(lambda: watcher.all_gone(n), timeout=max(120, n * 0.2))
    return {
        "agents": n,
        "up_s": up_s,
        "uss_mb": sum(uss) / len(uss) / MIB,
        "agents_cpu_pct": agents_cpu,
        "services_cpu_pct": services_cpu,
        "down_s": time.monotonic() - start,
        "exited_0": watcher.clean,
    }


async def measure(bench: Bench, args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    client = await connect(bench.url)
    for name, spawn, n in (("forked", "fork", args.agents), ("execd", "exec", args.baseline)):
        await client.set_pool(PoolConfig(name=name, spawn=spawn, max_agents=max(n, 1), drain_timeout=30))  # type: ignore[arg-type]
    fork = await measure_pool(client, "forked", args.agents, args.quiet, bench)
    execd = await measure_pool(client, "execd", args.baseline, args.quiet, bench)
    await client.nc.close()
    return fork, execd


ROWS = (
    ("agents", "agents"),
    ("up_s", "0 -> N ready and pulling, s"),
    ("uss_mb", "USS per idle agent, MiB"),
    ("agents_cpu_pct", "idle agents CPU, % of a core"),
    ("services_cpu_pct", "services CPU, % of a core"),
    ("down_s", "N -> 0, s"),
    ("exited_0", "agents that exited 0"),
)
"""The figures of a pool, in the order the reports print them."""


def report(fork: dict[str, float], execd: dict[str, float], work: Path) -> None:
    per_fork = fork["up_s"] / fork["agents"]
    per_exec = execd["up_s"] / execd["agents"]
    print(f"{'':28} {'fork server':>14} {'exec (baseline)':>16}")
    for key, label in ROWS:
        print(f"{label:28} {fork[key]:>14.2f} {execd[key]:>16.2f}")
    print(f"start time per agent: fork {per_fork * 1000:.2f} ms, exec {per_exec * 1000:.2f} ms, "
          f"ratio exec/fork = {per_exec / per_fork:.1f}x")  # fmt: skip
    print(f"USS ratio exec/fork = {execd['uss_mb'] / fork['uss_mb']:.1f}x; logs in {work}")


async def measure_fork(bench: Bench, n: int, quiet: float) -> dict[str, float]:
    client = await connect(bench.url, bench.creds)
    await client.set_pool(PoolConfig(name="forked", max_agents=max(n, 1), drain_timeout=30))
    figures = await measure_pool(client, "forked", n, quiet, bench)
    await client.nc.close()
    return figures


def report_secured(secured: dict[str, float], plain: dict[str, float]) -> None:
    print(f"{'':28} {'secured':>14} {'unsecured (baseline)':>21}")
    for key, label in ROWS:
        print(f"{label:28} {secured[key]:>14.2f} {plain[key]:>21.2f}")
    print(f"start time ratio secured/unsecured = {secured['up_s'] / plain['up_s']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000, help="agents in the fork-server pool")
    parser.add_argument("--baseline", type=int, default=100, help="agents in the exec pool (the baseline)")
    parser.add_argument("--quiet", type=float, default=20.0, help="seconds of idle CPU measurement")
    parser.add_argument("--secured", action="store_true", help="fork pool secured vs unsecured, not fork vs exec")
    args = parser.parse_args()
    if args.secured:
        with running_system(secured=True) as bench:
            secured = asyncio.run(measure_fork(bench, args.agents, args.quiet))
        with running_system() as bench:
            plain = asyncio.run(measure_fork(bench, args.agents, args.quiet))
        report_secured(secured, plain)
        return
    with running_system() as bench:
        fork, execd = asyncio.run(measure(bench, args))
    report(fork, execd, bench.work)


if __name__ == "__main__":
    main()
