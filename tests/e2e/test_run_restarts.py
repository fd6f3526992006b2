"""End to end: ``agentscaler run`` as a real process. Its embedded nats-server killed under it comes back
(or, killed again and again, ``run`` exits non-zero); restarted after being killed itself, it never counts
the agents of its previous run as running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentscaler.shared.bus.server import free_port
from tests.e2e.harness import FAST, agent_processes, wait_until

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    """``agentscaler run --port P --data-dir D`` started (and restarted) as a subprocess."""

    port: int
    data_dir: Path
    log: Path
    host: str
    flags: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return os.environ | FAST | {"AGENTSCALER_HOST": self.host}

    def start(self) -> None:
        args = ["run", "--port", str(self.port), "--data-dir", str(self.data_dir), "--log-file", str(self.log)]
        args += self.flags
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", *args],
            env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self.cli("status", "--json", check=False).returncode == 0, what="run answering status")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [sys.executable, "-m", "agentscaler.services.cli", *args, "--nats-url", self.url],
            env=self.env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if check and out.returncode != 0:
            raise AssertionError(f"agentscaler {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out

    def counts(self) -> dict[str, Any]:
        data = json.loads(self.cli("status", "--json", "--pool", "default").stdout)
        return next(p for p in data["pools"] if p["name"] == "default")["agents"]

    def agent_ids(self) -> set[str]:
        return {a["agent_id"] for a in json.loads(self.cli("agents", "--json").stdout)["agents"]}

    def nats_server(self) -> psutil.Process:
        assert self.proc is not None
        servers = [
            p
            for p in psutil.Process(self.proc.pid).children()
            if p.name() == "nats-server" and p.status() != psutil.STATUS_ZOMBIE
        ]
        assert len(servers) == 1, f"nats-server children: {servers}"
        return servers[0]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(port=free_port(), data_dir=tmp_path / "data", log=tmp_path / "run.log", host=f"e2e-{uuid.uuid4().hex[:8]}")
    try:
        yield r
    finally:
        if r.proc is not None and r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)
            try:
                r.proc.wait(60)
            except subprocess.TimeoutExpired:
                r.proc.kill()
        for proc in agent_processes(r.host):
            proc.kill()


RESTARTS = 2
"""``run --server-restarts``: two restarts, after pauses of 0.1 s and 0.2 s, instead of five (0.5 s to 8 s)."""


def test_a_killed_nats_server_is_restarted_then_run_gives_up_non_zero(run: Run) -> None:
    run.flags = ("--server-restarts", str(RESTARTS), "--server-restart-delay", "0.1")
    run.start()
    run.cli("up", "1", "--pool", "default", "--wait", "--timeout", "60")
    first = run.nats_server()
    first.kill()
    wait_until(lambda: run.nats_server().pid != first.pid, timeout=30, what="a new nats-server child")
    [task] = run.cli("submit", '{"sleep": 0}', "--pool", "default").stdout.split()
    # The idle agent's pull request died with the server: it asks again as soon as it is reconnected, not
    # after its pull timeout (30 s) has run out.
    wait_until(
        lambda: json.loads(run.cli("result", task, "--pool", "default").stdout)["state"] == "done",
        timeout=20,
        what="a task run after the restart, well within the agent's 30 s pull timeout",
    )
    assert "embedded NATS server died; restarting it" in run.log_text()
    assert run.proc is not None and run.proc.poll() is None
    # Killed as soon as it is back, again and again: restarted while the deaths within 5 minutes number at
    # most --server-restarts, then `run` stops and says so with its exit status.
    for _ in range(RESTARTS - 1):
        dead = run.nats_server().pid
        psutil.Process(dead).kill()
        wait_until(lambda: run.nats_server().pid != dead, timeout=30, what="a restart")  # noqa: B023
        assert run.proc.poll() is None
    dead = run.nats_server().pid
    psutil.Process(dead).kill()
    assert run.proc.wait(150) == 1
    assert run.log_text().count("embedded NATS server died; restarting it") == RESTARTS
    assert "embedded NATS server keeps dying; giving up" in run.log_text()
    assert f"died {RESTARTS + 1} times within 300s" in run.log_text()
    assert not psutil.pid_exists(dead) or psutil.Process(dead).status() == psutil.STATUS_ZOMBIE


def test_agents_of_a_killed_run_are_not_counted_after_its_restart(run: Run) -> None:
    run.start()
    run.cli("up", "3", "--pool", "default", "--wait", "--timeout", "60")
    old = run.agent_ids()
    assert len(old) == 3
    assert run.proc is not None
    run.proc.kill()  # no drain, no goodbyes: the registry's KV keeps the three records
    run.proc.wait()
    wait_until(lambda: not agent_processes(run.host), what="the old agents gone with their run")
    run.start()
    # Their heartbeats (every 15 s by default) would time them out only after 45 s; the new actuator says
    # at once that they are gone, and starts three new ones.
    seen: list[dict[str, Any]] = []

    def settled() -> bool:
        seen.append(counts := run.counts())
        return counts["ready"] + counts["busy"] == 3 and not (run.agent_ids() & old)

    wait_until(settled, timeout=20, what="three agents, none of the old run")
    assert max(c["ready"] + c["busy"] for c in seen) <= 3, seen
    assert "reported the agents of a previous run gone" in run.log_text()
