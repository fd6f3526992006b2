"""Spawn benchmark: 0 -> N agents ready, their memory and idle CPU, and N -> 0, forked vs exec'd.

Runs a private nats-server and all services (``agentscaler run --nats-url``), then for the fork-server pool
and, as the baseline measured in the same run, an exec-per-agent pool of the same runtime:
  - seconds from ``up N`` until N agents are registered and pulling (N pull requests waiting);
  - private memory (USS) per idle agent, over a sample of agents;
  - CPU of the idle agents and of the four services over a quiet window, in % of one core;
  - seconds from ``down 0`` until every agent exited, and how many exited 0.

    python bench/spawn.py --agents 1000 --baseline 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats
import psutil

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.codec import decode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import Exited
from agentscaler.shared.messages.pools import PoolConfig


async def wait_until(probe, timeout: float, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = await probe()
        except AgentscalerError:  # a service too busy to answer in time: ask again
            value = None
        if value:
            return value
        await asyncio.sleep(every)
    raise TimeoutError(f"not reached within {timeout:g}s")


async def ready_and_pulling(client: Client, pool: str, n: int) -> bool:
    agents = (await client.agents(pool)).agents
    ready = sum(1 for a in agents if a.state in ("ready", "busy"))
    if ready < n:
        return False
    info = await client.js.consumer_info(subjects.task_stream(pool), subjects.TASK_CONSUMER)
    return (info.num_waiting or 0) >= n


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def measure_pool(client: Client, nc: nats.NATS, pool: str, n: int, quiet: float, services_pid: int) -> dict:
    exits: list[Exited] = []

    async def on_exit(msg) -> None:  # type: ignore[no-untyped-def]
        event = decode(Exited, msg.data)
        if event.pool == pool:
            exits.append(event)

    sub = await nc.subscribe(subjects.agent_event_subject("exited"), cb=on_exit)
    me = psutil.Process()
    server_pid = next(
        p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "nats-server" and p.ppid() == me.pid
    )
    services_before, server_before, bench_before = (cpu_seconds([services_pid]), cpu_seconds([server_pid]),
                                                    cpu_seconds([me.pid]))  # fmt: skip
    start = time.monotonic()
    await client.scale(pool, "up", n)
    await wait_until(lambda: ready_and_pulling(client, pool, n), timeout=max(120, n * 0.5), every=0.25)
    up_s = time.monotonic() - start
    pids = [a.pid for a in (await client.agents(pool)).agents]
    up_cpu = {
        "agents": cpu_seconds(pids),
        "services": cpu_seconds([services_pid]) - services_before,
        "nats-server": cpu_seconds([server_pid]) - server_before,
        "bench": cpu_seconds([me.pid]) - bench_before,
    }
    print(f"{pool}: CPU seconds spent while starting {n} agents: "
          + ", ".join(f"{k} {v:.2f}" for k, v in up_cpu.items()))  # fmt: skip

    sample = random.sample(pids, min(len(pids), 100))
    uss = [psutil.Process(p).memory_full_info().uss for p in sample]
    agents_before, services_before = cpu_seconds(pids), cpu_seconds([services_pid])
    await asyncio.sleep(quiet)
    agents_cpu = (cpu_seconds(pids) - agents_before) / quiet * 100
    services_cpu = (cpu_seconds([services_pid]) - services_before) / quiet * 100

    start = time.monotonic()
    await client.scale(pool, "down", 0)
    await wait_until(lambda: _all_gone(exits, n), timeout=max(120, n * 0.2))
    down_s = time.monotonic() - start
    await sub.unsubscribe()
    return {
        "agents": n,
        "up_s": up_s,
        "uss_mb": sum(uss) / len(uss) / 2**20,
        "agents_cpu_pct": agents_cpu,
        "services_cpu_pct": services_cpu,
        "down_s": down_s,
        "exited_0": sum(1 for e in exits if e.code == 0),
    }


async def _all_gone(exits: list[Exited], n: int) -> bool:
    return len(exits) >= n


def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="agentscaler-bench-"))
    server = EmbeddedServer(work / "nats", port=free_port())
    server.start()
    env = os.environ | {"AGENTSCALER_HOST": "bench", "AGENTSCALER_MONITOR_INTERVAL": "2"}
    with open(work / "services.log", "ab") as log:
        services = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "run", "--nats-url", server.url],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        fork, execd = asyncio.run(measure(server.url, services.pid, args))
    finally:
        services.terminate()
        services.wait(120)
        server.stop()
    report(fork, execd, work)


async def measure(url: str, services_pid: int, args: argparse.Namespace) -> tuple[dict, dict]:  # type: ignore[type-arg]
    nc = await nats.connect(url)
    client = Client(nc)
    await wait_until(lambda: _policy_up(client), timeout=30)
    for name, spawn, n in (("forked", "fork", args.agents), ("execd", "exec", args.baseline)):
        await client.set_pool(PoolConfig(name=name, spawn=spawn, max_agents=max(n, 1), drain_timeout=30))  # type: ignore[arg-type]
    fork = await measure_pool(client, nc, "forked", args.agents, args.quiet, services_pid)
    execd = await measure_pool(client, nc, "execd", args.baseline, args.quiet, services_pid)
    await nc.close()
    return fork, execd


def report(fork: dict, execd: dict, work: Path) -> None:  # type: ignore[type-arg]
    per_fork = fork["up_s"] / fork["agents"]
    per_exec = execd["up_s"] / execd["agents"]
    print(f"{'':28} {'fork server':>14} {'exec (baseline)':>16}")
    for key, label in (
        ("agents", "agents"),
        ("up_s", "0 -> N ready and pulling, s"),
        ("uss_mb", "USS per idle agent, MiB"),
        ("agents_cpu_pct", "idle agents CPU, % of a core"),
        ("services_cpu_pct", "services CPU, % of a core"),
        ("down_s", "N -> 0, s"),
        ("exited_0", "agents that exited 0"),
    ):
        print(f"{label:28} {fork[key]:>14.2f} {execd[key]:>16.2f}")
    print(f"start time per agent: fork {per_fork * 1000:.2f} ms, exec {per_exec * 1000:.2f} ms, "
          f"ratio exec/fork = {per_exec / per_fork:.1f}x")  # fmt: skip
    print(f"USS ratio exec/fork = {execd['uss_mb'] / fork['uss_mb']:.1f}x; logs in {work}")


async def _policy_up(client: Client) -> bool:
    try:
        await client.pool("default")
    except Exception:
        return False
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000, help="agents in the fork-server pool")
    parser.add_argument("--baseline", type=int, default=100, help="agents in the exec pool (the baseline)")
    parser.add_argument("--quiet", type=float, default=20.0, help="seconds of idle CPU measurement")
    main(parser.parse_args())
