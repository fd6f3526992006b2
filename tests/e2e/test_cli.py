"""End to end: the CLI's errors are one clear line and a non-zero exit; JSON status for machines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from agentscaler.services.cli.exit_codes import EXIT
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from tests.e2e.harness import System, make_pool

pytestmark = pytest.mark.e2e


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentscaler.services.cli", *args],
        capture_output=True, text=True, input=stdin, timeout=60, env=env,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert lines, result
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[-1], (word, lines[-1])


def test_no_nats_server_says_where_it_looked_and_what_to_do() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    for args in (["status"], ["up", "2"], ["submit", "{}"], ["result", "x"]):
        one_line_error(
            cli(*args, "--nats-url", url), EXIT["unavailable"], f"no NATS server at {url}", "agentscaler run"
        )


def test_nats_without_services_names_the_missing_service(nats_server: EmbeddedServer) -> None:
    one_line_error(
        cli("up", "2", "--nats-url", nats_server.url),
        EXIT["unavailable"],
        "no policy service is listening on agentscaler.cmd",
    )
    one_line_error(cli("status", "--nats-url", nats_server.url), EXIT["unavailable"], "no monitor service is listening")


@pytest.mark.parametrize("bad", ["abc", "-3", "1.5", "99999999"])
def test_bad_numbers_are_usage_errors(bad: str) -> None:
    one_line_error(cli("up", bad), 2, f"bad number {bad!r}")


def test_errors_against_a_running_system(system: System) -> None:
    make_pool(system, "e2e")
    not_found, usage, refused = EXIT["not_found"], EXIT["usage"], EXIT["refused"]
    one_line_error(
        system.cli("up", "2", "--pool", "ghost", check=False), not_found, "unknown pool 'ghost'", "set ghost"
    )
    one_line_error(system.cli("submit", "{}", "--pool", "ghost", check=False), not_found, "unknown pool 'ghost'")
    one_line_error(system.cli("submit", "{oops", "--pool", "e2e", check=False), usage, "malformed JSON in payload")
    one_line_error(
        system.cli("submit", "--pool", "e2e", check=False, stdin='{"a": 1}\n{broken\n'),
        usage,
        "malformed JSON in line 2",
    )
    one_line_error(system.cli("status", "--pool", "ghost", check=False), not_found, "unknown pool 'ghost'")
    one_line_error(system.cli("up", "500", "--pool", "e2e", check=False), refused, "exceeds max_agents=100")
    system.cli("up", "2", "--pool", "e2e")
    one_line_error(system.cli("up", "1", "--pool", "e2e", check=False), usage, "use `agentscaler down 1 --pool e2e`")
    one_line_error(system.cli("down", "3", "--pool", "e2e", check=False), usage, "use `agentscaler up 3 --pool e2e`")
    # Nothing above changed the pool.
    assert system.status("e2e")["desired"] == 2


def test_status_json_has_the_documented_shape(system: System) -> None:
    make_pool(system, "e2e")
    data = json.loads(system.cli("status", "--json").stdout)
    pool = next(p for p in data["pools"] if p["name"] == "e2e")
    assert set(pool) >= {"name", "mode", "desired", "agents", "queue", "tasks"}
    assert set(pool["agents"]) >= {"ready", "starting", "busy", "draining"}
    assert set(pool["queue"]) >= {"pending", "in_flight"}
    assert set(pool["tasks"]) >= {"completed", "failed", "throughput", "latency_p50", "latency_p95"}
    assert set(data["host"]) >= {"cpu_percent", "memory_total", "memory_available", "agents_fit"}
    assert data["hosts"] and data["hosts"][0]["host"] == data["host"]["host"]
    assert set(pool) >= {"start_time", "auto", "last_decision", "cost", "impacts"}
    assert pool["auto"]["target_wait"] == 5.0 and pool["cost"] is None  # not priced
    human = system.cli("status").stdout
    assert "pool e2e" in human and "fits" in human and "latency p50" in human and "room" in human


def test_status_watch_redraws_until_interrupted_and_prices_show(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("pool", "set", "e2e", "--cost-per-agent-hour", "0.3")
    system.cli("up", "1", "--pool", "e2e", "--wait")
    watch = subprocess.Popen(
        [sys.executable, "-m", "agentscaler.services.cli", "status", "--watch", "0.2", "--pool", "e2e",
         "--nats-url", system.url],
        env=system.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.5)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    frames = out.count("agentscaler status at")
    assert frames >= 3, out
    assert "burning 0.30/h" in out and "manual.up on command   0 -> 1" in out, out
    assert "0 -> 1 (manual.up): before throughput" in out and "after: measuring, +0.30/h" in out, out


def test_submit_from_stdin_and_count(system: System) -> None:
    make_pool(system, "e2e")
    ids = system.cli("submit", "--pool", "e2e", "--count", "2", stdin='{"a": 1}\n\n{"b": 2}\n').stdout.split()
    assert len(ids) == 4 and len(set(ids)) == 4
    pending = json.loads(system.cli("result", ids[0], "--pool", "e2e").stdout)
    assert pending["state"] == "pending"


def test_cli_spans_export_when_asked(system: System) -> None:
    make_pool(system, "e2e")
    env = system.env() | {"OTEL_TRACES_EXPORTER": "console"}
    out = cli("status", "--nats-url", system.url, env=env)
    assert out.returncode == 0
    assert out.stdout.startswith("pool ")  # the status itself, with no span in it: spans go to stderr
    spans = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert {"agentscaler status", "request agentscaler.status"} <= {span["name"] for span in spans}
