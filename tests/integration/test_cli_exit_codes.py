"""The CLI's exit status and ``--json`` errors end to end: the real command in its own process against a real
nats-server and policy (in the test's loop), and against no server at all."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client

from agentscaler.services.cli.exit_codes import EXIT
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, put_struct
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.messages.tasks import TaskResult
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio


async def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``agentscaler ARGV`` in its own process, off the loop (the policy answers it from the loop)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSCALER_")} | (env or {})
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agentscaler.services.cli", *argv],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def json_error(done: subprocess.CompletedProcess[str], status: int, code: str, words: str) -> None:
    assert done.returncode == status, done
    error = json.loads(done.stdout)["error"]
    assert error["code"] == code and words in error["message"], error


async def test_no_server_is_unavailable() -> None:
    done = await cli("pool", "list", "--json", "--nats-url", f"nats://127.0.0.1:{free_port()}")
    json_error(done, EXIT["unavailable"], "unavailable", "no NATS server")


async def test_refused_not_found_and_results_against_the_policy(
    nats_server: EmbeddedServer, nc: Client, tmp_path: Path
) -> None:
    config = tmp_path / "agentscaler.toml"
    config.write_text(f"nats_url = '{nats_server.url}'\n")  # the client commands take the server from the file
    async with running(policy.run, PolicySettings(nats_url=nats_server.url, host="h1")):
        await eventually(lambda: nc.request(subjects.COMMAND, b"{}", timeout=1), what="policy up")
        shown = await cli("pool", "show", "default", "--json", "--config", str(config))
        assert shown.returncode == 0 and json.loads(shown.stdout)["config"]["name"] == "default", shown
        json_error(await cli("up", "500", "--json", "--config", str(config)), EXIT["refused"], "refused", "max_agents")
        ghost = await cli("pool", "show", "ghost", env={"AGENTSCALER_CONFIG": str(config)})
        assert ghost.returncode == EXIT["not_found"] and "unknown pool 'ghost'" in ghost.stderr, ghost

    kv = await bucket(nc.jetstream(), subjects.RESULTS_BUCKET)
    await put_struct(kv, subjects.result_key("default", "t1"), TaskResult(id="t1", pool="default", status="failed"))
    failed = await cli("result", "t1", "--config", str(config))
    assert failed.returncode == EXIT["failed"] and json.loads(failed.stdout)["state"] == "failed", failed
    pending = await cli("result", "t2", "--wait", "0.3", "--config", str(config))
    assert pending.returncode == EXIT["timeout"] and json.loads(pending.stdout)["state"] == "pending", pending
    assert (await cli("result", "t2", "--config", str(config))).returncode == 0  # pending is an answer, unwaited
