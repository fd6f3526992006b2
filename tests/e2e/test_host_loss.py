"""A host lost, as real processes: two hosts (an actuator and a monitor each, with host names of their own) run a
pool's agents; one host's actuator and monitor are SIGKILLed mid-load. Its agents, children of its actuator, get
their parent-death signal and drain (busy ones finish their task); once its entry in the hosts bucket is older
than the actuator's ``host_lost_after`` (10 s by default) the policy places its share on the other host. Every task
completes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nats

from agentscaler.services.cli.client import Client
from tests.e2e.harness import System, agent_processes, make_pool, wait_until

TASKS = 40


def start_host(system: System, host: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    """An actuator and a monitor for another host, against the system's server."""
    procs = []
    for name in ("monitor", "actuator"):
        log = open(logs / f"{host}-{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        env = system.env() | {"AGENTSCALER_HOST": host}
        command = [sys.executable, "-m", "agentscaler.services.cli", "serve", name]
        procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL))
        log.close()
    return procs


def test_a_lost_hosts_share_runs_on_the_other_host_within_30s_and_no_task_is_lost(system: System) -> None:
    other = f"e2e-b-{uuid.uuid4().hex[:6]}"
    procs = start_host(system, other, system.logs)
    try:
        make_pool(system, "span", "--max-agents", "20")

        def both_hosts_known() -> bool:
            shown = json.loads(system.cli("status", "--json").stdout)
            return {system.host, other} <= {h["host"] for h in shown["hosts"]}

        wait_until(both_hosts_known, timeout=60, what="both hosts' monitors heard")
        system.cli("up", "6", "--pool", "span", "--wait", "--timeout", "60")
        placed = system.status("span")["placement"]
        assert placed == {system.host: 3, other: 3}
        wait_until(lambda: len(agent_processes(other)) == 3, timeout=60, what="3 agents on the other host")
        ids = system.cli("submit", '{"sleep": 1.5}', "--count", str(TASKS), "--pool", "span").stdout.split()
        wait_until(lambda: system.status("span")["agents"]["busy"] >= 4, what="tasks running on both hosts")

        lost = time.monotonic()
        system.stop("actuator", sig=signal.SIGKILL)
        system.stop("monitor", sig=signal.SIGKILL)
        wait_until(
            lambda: len(agent_processes(other)) == 6 and system.status("span")["placement"] == {other: 6},
            timeout=30,
            what="the lost host's share running on the other host",
        )
        moved_after = time.monotonic() - lost
        assert agent_processes(system.host) == []  # its agents drained when their actuator died

        async def every_task_done() -> bool:
            nc = await nats.connect(system.url)
            try:
                results = [await Client(nc).result("span", task_id) for task_id in ids]
            finally:
                await nc.close()
            assert all(r.status == "ok" for r in results if r is not None), results
            return all(r is not None for r in results)

        wait_until(every_task_done, timeout=90, interval=1.0, what=f"all {TASKS} tasks done")
        print(f"share re-placed and running {moved_after:.1f}s after the host was lost")
        system.cli("down", "0", "--pool", "span", "--wait", "--timeout", "60")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
