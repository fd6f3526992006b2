"""The whole system as real processes: four services started with ``agentscaler serve``, real agents
spawned by the actuator, the CLI run as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.waiting import eventually

SERVICES = ("registry", "policy", "monitor", "actuator")

FAST = {
    "AGENTSCALER_REGISTRY_LOST_AFTER": "3",
    "AGENTSCALER_REGISTRY_SWEEP_INTERVAL": "0.2",
    "AGENTSCALER_MONITOR_INTERVAL": "0.25",
    "AGENTSCALER_ACTUATOR_RECONCILE_INTERVAL": "0.2",
    "AGENTSCALER_ACTUATOR_MIN_UPTIME": "1",
    "AGENTSCALER_LOG_LEVEL": "info",
    # No /metrics: many systems run side by side here (tests/e2e/test_metrics.py gives its own a free port).
    "AGENTSCALER_METRICS_PORT": "0",
    # The example handlers, and the missing module tests/e2e/test_failures.py sets to see it reported.
    "AGENTSCALER_ACTUATOR_HANDLERS": "agentscaler.services.agent.examples.*,no_such_module_anywhere",
}


@dataclass
class System:
    url: str
    logs: Path
    host: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:8]}")
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    """Service settings of this test's system (``AGENTSCALER_...`` variables), over ``FAST``."""

    def env(self) -> dict[str, str]:
        return os.environ | FAST | self.settings | {"AGENTSCALER_NATS_URL": self.url, "AGENTSCALER_HOST": self.host}

    def start(self, name: str, service: str = "") -> subprocess.Popen[bytes]:
        """Start ``service`` (by default the one called ``name``) as the process ``name``, logging to
        ``<name>.log``: another name starts a second instance (``start("policy-2", "policy")``)."""
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "serve", service or name],
            env=self.env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        return proc.wait(timeout)

    def stop_all(self) -> None:
        for name in reversed(SERVICES):
            if name in self.procs:
                try:
                    self.stop(name, timeout=60)
                except subprocess.TimeoutExpired:
                    self.procs.get(name, None) and self.procs[name].kill()
        for name in list(self.procs):  # second instances (``start(name, service)``)
            try:
                self.stop(name, timeout=30)
            except subprocess.TimeoutExpired:
                self.procs.pop(name).kill()
        for proc in agent_processes(self.host):
            proc.kill()

    def cli(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "agentscaler.services.cli", *args, "--nats-url", self.url],
            env=self.env(), capture_output=True, text=True, input=stdin, timeout=timeout,
        )  # fmt: skip
        if check and result.returncode != 0:
            said = (result.stderr.strip() + " " + result.stdout.strip()).strip()
            raise AssertionError(f"agentscaler {' '.join(args)} failed ({result.returncode}): {said}")
        return result

    def status(self, pool: str) -> dict[str, Any]:
        data = json.loads(self.cli("status", "--json", "--pool", pool).stdout)
        return next(p for p in data["pools"] if p["name"] == pool)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


EXEC_AGENT = "agentscaler.services.agent"
FORK_SERVER = "agentscaler.services.agent.forkserver"


def agent_processes(host: str) -> list[psutil.Process]:
    """Live agent processes started for ``host`` (found by the environment the actuator gave them): agents
    started by exec, and children of a fork server (which keep its command line)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "ppid"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if proc.environ().get("AGENTSCALER_AGENT_HOST") != host or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if FORK_SERVER in cmdline:
                if FORK_SERVER in (psutil.Process(proc.info["ppid"]).cmdline() or []):
                    found.append(proc)
            elif EXEC_AGENT in cmdline:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def fork_servers(host: str) -> list[psutil.Process]:
    servers = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            parent = proc.parent()
            if (
                FORK_SERVER in (proc.info["cmdline"] or [])
                and proc.environ().get("AGENTSCALER_AGENT_HOST") == host
                and FORK_SERVER not in (parent.cmdline() if parent else [])
            ):
                servers.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return servers


def wait_until(probe: Any, *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Call ``probe`` (plain, blocking: the CLI as a subprocess) until it returns something truthy (returned)
    or fail after ``timeout`` saying what was last seen."""
    retry = (AssertionError, StopIteration, KeyError, json.JSONDecodeError)
    return asyncio.run(eventually(probe, timeout=timeout, interval=interval, what=what, retry=retry))


def make_pool(system: System, name: str, *extra: str) -> None:
    """Create a pool tuned for fast tests (waiting for the policy to answer)."""
    # --check-wait 0: the handler's verdict is test_failures.py's to check; here it would only add the probe's time.
    args = ("pool", "set", name, "--heartbeat-interval", "0.5", "--pull-timeout", "1", "--ack-wait", "3",
            "--drain-timeout", "30", "--check-wait", "0", *extra)  # fmt: skip
    wait_until(lambda: system.cli(*args, check=False).returncode == 0, what=f"pool {name} created")


def one_agent_busy(system: System, pool: str, task_seconds: float) -> tuple[str, psutil.Process]:
    """One agent in ``pool`` running one task of ``task_seconds``: the task's id and the agent's process."""
    make_pool(system, pool)
    system.cli("up", "1", "--pool", pool, "--wait", "--timeout", "60")
    [task_id] = system.cli("submit", f'{{"sleep": {task_seconds}}}', "--pool", pool).stdout.split()
    wait_until(lambda: system.status(pool)["queue"]["in_flight"] == 1, what="task in flight")
    [agent] = agent_processes(system.host)
    return task_id, agent
