"""``agentscaler serve`` exports its metrics both ways at once: on its own /metrics port, and pushed over
OTLP (HTTP, or gRPC with ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``) to the endpoint the standard ``OTEL_*`` variables
name."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
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


class GrpcCollector:
    """An OTLP/gRPC metrics receiver that keeps the requests sent to it, serialized."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

        bodies = self.bodies = []  # type: list[bytes]

        class Service(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
            def Export(self, request, context):  # type: ignore[no-untyped-def]
                bodies.append(request.SerializeToString())
                return metrics_service_pb2.ExportMetricsServiceResponse()

        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def received(self) -> bytes:
        return b"".join(self.bodies)


@pytest.fixture
def grpc_collector() -> Iterator[GrpcCollector]:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="the otlp-grpc extra is not installed")
    server = GrpcCollector()
    yield server
    server.server.stop(grace=None)


def serve_monitor_pushing(url: str, otel: dict[str, str], received: Callable[[], bytes], log: Path) -> None:
    """``serve monitor`` with ``otel`` variables: its metrics on /metrics and in what ``received`` returns."""
    host, port = f"otlp-{uuid.uuid4().hex[:8]}", free_port()
    env = os.environ | {
        "AGENTSCALER_HOST": host,
        "AGENTSCALER_METRICS_PORT": str(port),
        "AGENTSCALER_MONITOR_INTERVAL": "0.25",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
        **otel,
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "serve", "monitor", "--nats-url", url],
            env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        served = f'agentscaler_host_cpu_ratio{{host="{host}"'
        wait_until(lambda: served in scrape(port), timeout=20, what=f"{served} on /metrics")
        pushed = (b"agentscaler_host_cpu_ratio", host.encode(), b"agentscaler-monitor")
        wait_until(lambda: all(part in received() for part in pushed), timeout=20, what="metrics pushed over OTLP")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    assert code == 0, log.read_text()[-3000:]


def test_a_service_serves_metrics_and_pushes_them_over_otlp(
    nats_server: EmbeddedServer, collector: Collector, tmp_path: Path
):
    endpoint = f"http://127.0.0.1:{collector.server_port}/v1/metrics"
    otel = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": endpoint}
    serve_monitor_pushing(nats_server.url, otel, collector.received, tmp_path / "monitor.log")


def test_metrics_are_pushed_over_otlp_grpc_when_asked(
    nats_server: EmbeddedServer, grpc_collector: GrpcCollector, tmp_path: Path
):
    otel = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"http://127.0.0.1:{grpc_collector.port}",
    }
    serve_monitor_pushing(nats_server.url, otel, grpc_collector.received, tmp_path / "monitor.log")
