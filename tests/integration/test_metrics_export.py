"""``agentscaler serve`` exports its metrics both ways at once: on its own /metrics port, and pushed over
OTLP/HTTP to the endpoint the standard ``OTEL_*`` variables name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agentscaler.shared.bus.server import EmbeddedServer, free_port
from tests.e2e.harness import wait_until


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver that keeps the bodies posted to it (protobuf: metric names and label values
    appear in them as plain bytes)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.bodies: list[bytes] = []

    def received(self) -> bytes:
        return b"".join(self.bodies)


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v1/metrics":
            self.server.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return reply.read().decode()
    except OSError:  # not serving yet
        return ""


def test_a_service_serves_metrics_and_pushes_them_over_otlp(
    nats_server: EmbeddedServer, collector: Collector, tmp_path: Path
):
    host, port = f"otlp-{uuid.uuid4().hex[:8]}", free_port()
    env = os.environ | {
        "AGENTSCALER_HOST": host,
        "AGENTSCALER_METRICS_PORT": str(port),
        "AGENTSCALER_MONITOR_INTERVAL": "0.25",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"http://127.0.0.1:{collector.server_port}/v1/metrics",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
    }
    with open(tmp_path / "monitor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "serve", "monitor", "--nats-url", nats_server.url],
            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        served = f'agentscaler_host_cpu_ratio{{host="{host}"'
        wait_until(lambda: served in scrape(port), timeout=20, what=f"{served} on /metrics")
        pushed = (b"agentscaler_host_cpu_ratio", host.encode(), b"agentscaler-monitor")
        wait_until(
            lambda: all(part in collector.received() for part in pushed), timeout=20, what="metrics pushed over OTLP"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0, (tmp_path / "monitor.log").read_text()[-3000:]
