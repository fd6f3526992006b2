"""Span export: each service keeps its own ``service.name`` with every service in one process, spans go to
the console exporter's own stream as one JSON line each, and a collector that is down never holds a process."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from agentscaler.services.cli import launcher
from agentscaler.services.cli.main import main
from agentscaler.shared import subjects
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.messages.agents import AgentList, AgentsQuery
from agentscaler.shared.messages.commands import CommandReply, ListPools
from agentscaler.shared.supervisor import supervise
from agentscaler.shared.telemetry.tracing import (
    CLI_EXPORT_TIMEOUT,
    SHUTDOWN_TIMEOUT,
    configure_tracing,
    shutdown_tracing,
    span,
)
from tests.conftest import eventually

SLACK = 1.5
"""Seconds on top of the bound for a loaded machine: the tests catch a hang (the SDK's 10 s export timeout,
its 30 s shutdown), not a slow export."""


@pytest.fixture(autouse=True)
def no_exporter_afterwards(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    yield
    configure_tracing("test", env={})


def spans_in(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_services_sharing_a_process_export_under_their_own_service_name(
    nats_server: EmbeddedServer, tmp_path: Path
) -> None:
    spans = tmp_path / "spans.jsonl"
    configure_tracing("run", env={"OTEL_TRACES_EXPORTER": "console", "AGENTSCALER_TRACES_FILE": str(spans)})
    stop = asyncio.Event()
    roots = launcher.build_roots(["registry", "policy"], nats_server.url, None, stop)
    services = asyncio.create_task(supervise(roots, stop, grace=20))
    nc = await nats.connect(nats_server.url)
    try:
        await eventually(lambda: request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList), what="the registry")
        await eventually(lambda: request(nc, subjects.COMMAND_READ, ListPools(), CommandReply), what="the policy")
        with span("the process's own"):
            pass
    finally:
        await nc.close()
        stop.set()
        assert await asyncio.wait_for(services, 30) == 0
    shutdown_tracing()

    named = {(s["name"], s["resource"]["attributes"]["service.name"]) for s in spans_in(spans)}
    assert (f"handle {subjects.REGISTRY_QUERY}", "agentscaler-registry") in named, named
    assert (f"handle {subjects.COMMAND_READ}", "agentscaler-policy") in named, named
    assert ("the process's own", "agentscaler-run") in named, named
    assert {s for _, s in named} == {"agentscaler-registry", "agentscaler-policy", "agentscaler-run"}, named


def test_console_spans_are_one_json_line_each_in_their_own_file(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    configure_tracing("cli", env={"OTEL_TRACES_EXPORTER": "console", "AGENTSCALER_TRACES_FILE": str(spans)})
    with span("outer"), span("inner"):
        pass
    shutdown_tracing()
    assert [s["name"] for s in spans_in(spans)] == ["inner", "outer"]


def closed_port() -> int:
    return free_port()  # nothing listens there: connections are refused


def silent_port() -> tuple[socket.socket, int]:
    """A port that accepts connections and never answers: an export there waits for its timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_shutdown_is_bounded_when_the_collector_never_answers(monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    if protocol == "grpc":
        pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    sock, port = silent_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    try:
        # the SDK's own export timeout (as a user may set it): shutdown still gives up after its own bound
        configure_tracing(
            "policy", export_timeout=10, env={"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
        )
        with span("lost"):
            pass
        began = time.monotonic()
        shutdown_tracing()
        assert time.monotonic() - began < SHUTDOWN_TIMEOUT + SLACK
    finally:
        sock.close()


def test_a_command_is_not_slowed_by_a_collector_that_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    began = time.monotonic()
    assert main(["config"]) == 0
    # refused at once, and the first retry pause (0.8 s or more) is past a command's export timeout
    assert time.monotonic() - began < CLI_EXPORT_TIMEOUT + SLACK
    assert "policy" in capsys.readouterr().out


def test_a_bad_exporter_setting_fails_a_command_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    assert main(["config"]) != 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "agentscaler: error: OTEL_TRACES_EXPORTER: unknown exporter 'jaeger'; use a comma-separated list of "
        "otlp, console, none"
    ]
