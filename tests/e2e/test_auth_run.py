"""``agentscaler auth init DIR && agentscaler run --auth DIR``: the embedded server refuses anonymous clients,
the services and real agents run as themselves, and each role does what it may and is refused the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from agentscaler.services.cli.auth import EXIT_DENIED
from agentscaler.shared.auth import jwt
from agentscaler.shared.bus.server import free_port
from tests.e2e.harness import FAST, wait_until


def cli(url: str, keys: Path, role: str | None, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    creds = ["--creds", str(keys / f"{role}.creds")] if role else []
    return subprocess.run(
        [sys.executable, "-m", "agentscaler.services.cli", *args, "--nats-url", url, *creds],
        env=os.environ | FAST, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_run_with_auth(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = subprocess.run([sys.executable, "-m", "agentscaler.services.cli", "auth", "init", str(keys)], check=True)
    assert made.returncode == 0
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    log = open(tmp_path / "run.log", "ab")  # noqa: SIM115 - the child keeps it
    run = subprocess.Popen(
        [sys.executable, "-m", "agentscaler.services.cli", "run", "--auth", str(keys), "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        env=os.environ | FAST | {"AGENTSCALER_HOST": f"auth-{port}"}, stdout=log, stderr=log,
    )  # fmt: skip
    log.close()
    try:
        wait_until(lambda: cli(url, keys, "viewer", "pool", "list").returncode == 0, timeout=60, what="services up")
        anonymous = cli(url, keys, None, "status")
        assert anonymous.returncode == EXIT_DENIED and "Authorization Violation" in anonymous.stderr
        assert cli(url, keys, "admin", "pool", "set", "work", "--max-agents", "2").returncode == 0
        denied = cli(url, keys, "operator", "pool", "set", "work", "--handler", "asyncio:create_subprocess_shell")
        assert denied.returncode == EXIT_DENIED and "not permitted" in denied.stderr, denied.stderr
        up = cli(url, keys, "operator", "up", "1", "--pool", "work", "--wait", "--timeout", "60", timeout=90)
        assert up.returncode == 0, up.stderr
        submitted = cli(url, keys, "submitter", "submit", '{"prompt": "hi"}', "--pool", "work")
        assert submitted.returncode == 0, submitted.stderr
        task_id = submitted.stdout.strip()
        got = cli(url, keys, "submitter", "result", task_id, "--pool", "work", "--wait", "30", timeout=60)
        assert json.loads(got.stdout)["state"] == "done", got.stdout + got.stderr
        assert cli(url, keys, "viewer", "up", "2", "--pool", "work").returncode == EXIT_DENIED
        agents = json.loads(cli(url, keys, "viewer", "agents", "--json", "--pool", "work").stdout)
        assert len(agents["agents"]) == 1
        [agent] = agents["agents"]  # it runs as a user of its own, for its pool and id
        environ = dict(
            line.split("=", 1) for line in Path(f"/proc/{agent['pid']}/environ").read_text().split("\0") if "=" in line
        )
        own = Path(environ["AGENTSCALER_AGENT_CREDS_DIR"]) / f"{agent['agent_id']}.creds"
        claims = jwt.claims_of(jwt.creds_jwt(own.read_text()))
        assert (claims["name"], claims["nats"]["tags"]) == (agent["agent_id"], ["pool:work"])
        assert not any(k.endswith(("_CREDS", "_NKEY")) and v for k, v in environ.items()), "no shared identity"
        audit = cli(url, keys, "viewer", "audit", "--json", "--pool", "work")
        records = [json.loads(line) for line in audit.stdout.splitlines()]
        changes = [r for r in records if r["command"] in ("set_pool", "scale")]  # the CLI reads the pool too
        assert all(len(r["trace_id"]) == 32 for r in records)
        assert [(r["command"], r["actor_name"], r["outcome"]) for r in changes] == [
            ("set_pool", "admin", "ok"),
            ("scale", "operator", "ok"),  # the viewer's `up` and the operator's set_pool never reached the policy
        ], audit.stdout + audit.stderr
        server_log = (tmp_path / "data" / "nats-server.log").read_text()
        violations = [line for line in server_log.splitlines() if "Violation" in line and "agentscaler-cli" not in line]
        assert violations == []  # the services and the agent never overstep their roles
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(90)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
