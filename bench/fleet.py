"""Fleet benchmark: the control plane (registry, policy, monitor) with 10,000 agents on 20 hosts.

Real: nats-server (with JetStream and its monitoring port), and the registry, policy and monitor, each its own
process (``agentscaler serve <name>``), with their default settings. Simulated (``simfleet.py``, spread over
``--workers`` processes): the hosts, each playing its actuator (hosts-bucket entry, following its share of the
desired state, ``spawned``/``exited`` events) and its monitor's host snapshot (a fixed capacity of agents, the
pools copied from the real monitor's snapshot); and the agents, coroutines that register, heartbeat, pull tasks
from the pool's consumer, store results, ack, and deregister as real agents do, the agents of a host sharing
one NATS connection.

For each size (the baseline first, then the full fleet; same hosts, same system), it measures:
  - from ``up N`` to the N agents placed (the policy's per-host shares sum to N), spawned, and registered (the
    registry's ``registered`` events), and when ``status`` (the monitor) counts them all;
  - in a steady window (a trickle of ``--task-rate`` tasks a second per agent, ``--task`` s each): messages a
    second per agent through the server (its ``/varz`` counters, in + out), the CPU seconds a second of each
    real process, and heartbeats lost (agents the registry declared lost: should be 0);
  - ``down 0`` until every agent is gone from the registry.
It prints both sizes and the ratio of their per-agent costs (full / baseline: 1 or less is linear or better).

    python bench/fleet.py --hosts 20 --agents-per-host 500 --baseline-agents 1000 --steady 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from harness import cpu_seconds, wait_until

from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.codec import decode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import Deregistered, Lost, Registered, Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig

POOL = "fleet"
CONTROL_HOST = "control"
"""The host name of the real services (the monitor reports this host)."""
SERVICES = ("registry", "policy", "monitor")
HERE = Path(__file__).resolve().parent
PROBLEMS = ("maximum payload exceeded", "stepping down", "agent lost", "registry unavailable")
"""Warnings in the services' log that say the control plane did not keep up; counted and printed."""


@dataclass
class System:
    url: str
    varz: str
    pids: dict[str, int]
    """Process name -> pid: nats-server, each service, each simulation worker."""
    work: Path


@contextmanager
def running(args: argparse.Namespace) -> Iterator[System]:
    """nats-server, the three services and the simulation workers, stopped after."""
    work = Path(tempfile.mkdtemp(prefix="agentscaler-fleet-"))
    http = free_port()
    server = EmbeddedServer(work / "nats", port=free_port(), config=f"http: 127.0.0.1:{http}\n")
    server.start()
    assert server.proc is not None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    env = os.environ | {
        "AGENTSCALER_HOST": CONTROL_HOST,
        "AGENTSCALER_POLICY_DEFAULT_POOL": "false",
        "AGENTSCALER_METRICS_PORT": "0",
    }
    hosts = [f"sim-{i:02d}" for i in range(args.hosts)]
    try:
        with open(work / "services.log", "ab") as log:
            for name in SERVICES:
                argv = [sys.executable, "-m", "agentscaler.services.cli", "serve", name, "--nats-url", server.url]
                procs[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
            for w in range(min(args.workers, args.hosts)):
                argv = [sys.executable, str(HERE / "simfleet.py"), "--url", server.url, "--pool", POOL,
                        "--hosts", ",".join(hosts[w :: args.workers]), "--monitor-host", CONTROL_HOST,
                        "--capacity", str(args.capacity)]  # fmt: skip
                procs[f"sim worker {w}"] = subprocess.Popen(argv, stdout=log, stderr=log)
        pids = {"nats-server": server.proc.pid} | {name: p.pid for name, p in procs.items()}
        yield System(url=server.url, varz=f"http://127.0.0.1:{http}/varz", pids=pids, work=work)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        server.stop()


@dataclass
class Events:
    """The agent lifecycle events of the pool, by agent id, with when each was heard."""

    spawned: dict[str, float] = field(default_factory=dict)
    registered: dict[str, float] = field(default_factory=dict)
    gone: dict[str, float] = field(default_factory=dict)
    lost: dict[str, float] = field(default_factory=dict)

    async def start(self, nc: nats.NATS) -> None:
        kinds: dict[str, tuple[Any, dict[str, float]]] = {
            "spawned": (Spawned, self.spawned),
            "registered": (Registered, self.registered),
            "deregistered": (Deregistered, self.gone),
            "lost": (Lost, self.lost),
        }
        for kind, (struct, into) in kinds.items():

            async def on_event(msg: Any, struct: Any = struct, into: dict[str, float] = into) -> None:
                event = decode(struct, msg.data)
                agent_id = event.agent_id if isinstance(event, Spawned) else event.agent.agent_id
                if agent_id.startswith(f"{POOL}-"):
                    into.setdefault(agent_id, time.monotonic())

            await nc.subscribe(subjects.agent_event_subject(kind), cb=on_event)

    def since(self, kind: dict[str, float], start: float) -> int:
        return sum(1 for at in kind.values() if at >= start)


def varz(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        data: dict[str, Any] = json.load(reply)
    return data


async def placed(client: Client, n: int) -> bool:
    kv = await bucket(client.js, subjects.DESIRED_BUCKET)
    entry = await kv.get(POOL)
    state = decode(DesiredState, entry.value or b"")
    return state.desired == n and sum(state.hosts.values()) == n


async def status_counts(client: Client) -> int:
    """The agents ``status`` (the monitor) counts running in the pool."""
    pool = (await client.status(POOL)).pools[0]
    return pool.agents.ready + pool.agents.busy


async def trickle(client: Client, rate: float, task: float, stop: asyncio.Event) -> int:
    """Submit tasks at ``rate`` a second until ``stop``; returns how many."""
    sent, start = 0, time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate) - sent
        if due > 0:
            await client.submit(POOL, [{"sleep": task}] * due)
            sent += due
        await asyncio.sleep(0.05)
    return sent


async def phase(client: Client, system: System, events: Events, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size: up ``n``, steady window, down 0."""
    f: dict[str, Any] = {"agents": n}
    await asyncio.sleep(args.settle)  # the snapshots of the step before are out
    start = time.monotonic()
    await client.scale(POOL, "up", n)
    f["command_s"] = time.monotonic() - start
    timeout = max(60.0, n * 0.05)
    await wait_until(lambda: placed(client, n), timeout=timeout, every=0.05)
    f["placed_s"] = time.monotonic() - start
    await wait_until(lambda: asyncio.sleep(0, events.since(events.spawned, start) >= n), timeout, every=0.05)
    f["spawned_s"] = max(at for at in events.spawned.values() if at >= start) - start
    await wait_until(lambda: asyncio.sleep(0, events.since(events.registered, start) >= n), timeout, every=0.05)
    f["registered_s"] = max(at for at in events.registered.values() if at >= start) - start
    try:
        await wait_until(lambda: _counted(client, n), timeout=30, every=0.5)
        f["status_s"] = time.monotonic() - start
    except TimeoutError:
        f["status_s"] = float("nan")  # the monitor never counted them all: see its log
    await asyncio.sleep(args.settle)

    lost_before, results = len(events.lost), await _results(client)
    stop = asyncio.Event()
    rate = args.task_rate * n
    submitter = asyncio.create_task(trickle(client, rate, args.task, stop))
    v0, cpu0, t0 = varz(system.varz), _cpu(system), time.monotonic()
    await asyncio.sleep(args.steady)
    v1, cpu1, t1 = varz(system.varz), _cpu(system), time.monotonic()
    stop.set()
    f["tasks"] = await submitter
    span = t1 - t0
    f["msgs_per_s"] = (v1["in_msgs"] - v0["in_msgs"] + v1["out_msgs"] - v0["out_msgs"]) / span
    f["bytes_per_s"] = (v1["in_bytes"] - v0["in_bytes"] + v1["out_bytes"] - v0["out_bytes"]) / span
    f["cpu"] = {name: (cpu1[name] - cpu0[name]) / span for name in cpu1}
    f["lost"] = len(events.lost) - lost_before

    await asyncio.sleep(args.task + 1)  # the last tasks finish
    start = time.monotonic()
    await client.scale(POOL, "down", 0)
    await wait_until(lambda: asyncio.sleep(0, _all_gone(events)), timeout=timeout, every=0.1)
    f["down_s"] = time.monotonic() - start
    f["completed"] = await _results(client) - results
    return f


async def _results(client: Client) -> int:
    """Results stored so far: each task's result is created once in the results bucket."""
    return (await client.js.stream_info(f"KV_{subjects.RESULTS_BUCKET}")).state.messages


async def _counted(client: Client, n: int) -> bool:
    return await status_counts(client) >= n


def _all_gone(events: Events) -> bool:
    """Every agent that registered has deregistered or been lost."""
    return not events.registered.keys() - events.gone.keys() - events.lost.keys()


def _cpu(system: System) -> dict[str, float]:
    return {name: cpu_seconds([pid]) for name, pid in system.pids.items()}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    full = args.hosts * args.agents_per_host
    with running(args) as system:
        nc = await nats.connect(system.url)
        client = Client(nc)
        await wait_until(lambda: client.pools(), timeout=30)
        hosts = await bucket(client.js, subjects.HOSTS_BUCKET)
        await wait_until(lambda: _hosts_up(hosts, args.hosts), timeout=30)
        await client.set_pool(PoolConfig(name=POOL, max_agents=max(full, args.baseline_agents), drain_timeout=30))
        await bucket(client.js, subjects.RESULTS_BUCKET)
        events = Events()
        await events.start(nc)
        figures = [await phase(client, system, events, n, args) for n in (args.baseline_agents, full)]
        await nc.close()
    log = (system.work / "services.log").read_text(errors="replace")
    print(f"logs in {system.work}")
    for problem in PROBLEMS:
        if (count := log.count(problem)) > 0:
            print(f"services log: {count} x {problem!r}")
    return figures


async def _hosts_up(kv: Any, n: int) -> bool:
    try:
        return len(await kv.keys()) >= n
    except (AgentscalerError, nats.errors.Error, Exception):
        return False


def report(figures: list[dict[str, Any]], args: argparse.Namespace) -> None:
    base, full = figures
    per = args.agents_per_host
    print(
        f"control plane at fleet scale: {args.hosts} simulated hosts; {full['agents']} agents ({per} a host) "
        f"against {base['agents']} ({base['agents'] // args.hosts} a host) in the same run"
    )
    print("real: nats-server, registry, policy, monitor (one process each); simulated: hosts (actuator + host")
    print(f"snapshot) and agents (coroutines, one NATS connection a host, {args.workers} processes)")
    print(f"steady window {args.steady:g} s, {args.task_rate:g} tasks/s per agent of {args.task:g} s each\n")
    rows: list[tuple[str, float, float, bool]] = [  # name, full, base, per agent?
        ("up N: placed (shares written), s", full["placed_s"], base["placed_s"], True),
        ("up N: all spawned, s", full["spawned_s"], base["spawned_s"], True),
        ("up N: all registered, s", full["registered_s"], base["registered_s"], True),
        ("up N: status counts them all, s", full["status_s"], base["status_s"], True),
        ("bus messages/s (in + out)", full["msgs_per_s"], base["msgs_per_s"], True),
        ("bus KiB/s (in + out)", full["bytes_per_s"] / 1024, base["bytes_per_s"] / 1024, True),
    ]
    for name in full["cpu"]:
        rows.append((f"CPU s/s {name}", full["cpu"][name], base["cpu"][name], True))
    rows += [
        ("tasks submitted in the window", full["tasks"], base["tasks"], False),
        ("tasks completed", full["completed"], base["completed"], False),
        ("agents lost in the window", full["lost"], base["lost"], False),
        ("down 0: all gone, s", full["down_s"], base["down_s"], True),
    ]
    n, b = full["agents"], base["agents"]
    print(f"{'':38}{n:>12}{b:>12}   per agent: {n} / {b}")
    for name, x, y, per_agent in rows:
        ratio = (x / n) / (y / b) if per_agent and y > 0 else float("nan")
        print(f"{name:38}{x:12.3f}{y:12.3f}   {ratio:8.2f}x" if per_agent else f"{name:38}{x:12.0f}{y:12.0f}")
    for f in (full, base):
        if f["status_s"] != f["status_s"]:  # nan
            print(f"status never counted all {f['agents']} agents within 30 s (see the services' log below)")
    print(
        f"\nmessages/s per agent: {full['msgs_per_s'] / n:.3f} at {n}, {base['msgs_per_s'] / b:.3f} at {b}; "
        f"ratio per agent = {(full['msgs_per_s'] / n) / (base['msgs_per_s'] / b):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=20, help="simulated hosts")
    parser.add_argument("--agents-per-host", type=int, default=500, help="agents a host runs at full size")
    parser.add_argument("--baseline-agents", type=int, default=1000, help="agents of the baseline (on all hosts)")
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of the steady window")
    parser.add_argument("--task-rate", type=float, default=0.01, help="tasks a second per agent in the steady window")
    parser.add_argument("--task", type=float, default=1.0, help="seconds each task takes")
    parser.add_argument("--workers", type=int, default=4, help="processes the simulated hosts are spread over")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between steps (snapshots catch up)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 4 hosts x 25 against 20, 5 s")
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.agents_per_host, args.baseline_agents, args.steady, args.workers = 4, 25, 20, 5.0, 2
        args.task_rate, args.settle, args.task = 0.1, 2.0, 0.5
    args.capacity = 2 * max(args.agents_per_host, -(-args.baseline_agents // args.hosts))
    report(asyncio.run(main_async(args)), args)


if __name__ == "__main__":
    main()
