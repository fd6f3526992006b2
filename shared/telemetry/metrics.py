"""OpenTelemetry metrics: one meter provider per service process, read by Prometheus on ``/metrics`` and, when
the standard ``OTEL_*`` variables ask for it, pushed over OTLP.

Services create their instruments on :func:`meter` at import; the OpenTelemetry API binds them to the provider
:func:`configure_metrics` installs, and until then (tests running services in a loop, the demo) they record
nothing. Gauges of what is there now (agents, queues, hosts) are :class:`Readings`: each owner replaces its
whole set of values at once, so a pool or host that went away stops being exported instead of staying frozen.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import structlog
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from agentscaler.shared.errors import AgentscalerError

from .tracing import resource

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

log = structlog.get_logger()

_METER_NAME = "agentscaler"
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""Histogram bounds of every ``*_seconds`` histogram: from a fork-server spawn (ms) to a long task (minutes)."""

Labels = tuple[tuple[str, str], ...]
"""A point's labels as sorted (name, value) pairs: hashable, so a reading can be keyed by them."""

EXPORT_TIMEOUT = 2.0
"""Seconds an OTLP push may take: a collector that is down never holds a service (or its stop) for long."""
SHUTDOWN_TIMEOUT = 1.0

_configured = False


def meter() -> Meter:
    return metrics.get_meter(_METER_NAME)


def labels(**values: str) -> Labels:
    return tuple(sorted(values.items()))


class Readings:
    """An observable gauge whose values each owner (a part: a host's monitor, the leading policy) replaces as
    a whole: the exported points are the union of the parts' latest sets, read when Prometheus scrapes."""

    def __init__(self, name: str, description: str, unit: str = "") -> None:
        self._parts: dict[str, dict[Labels, float]] = {}
        self._lock = threading.Lock()  # scrapes run on the exporter's HTTP thread
        meter().create_observable_gauge(name, callbacks=[self._observe], description=description, unit=unit)

    def set(self, part: str, values: Mapping[Labels, float]) -> None:
        with self._lock:
            self._parts[part] = dict(values)

    def clear(self, part: str) -> None:
        with self._lock:
            self._parts.pop(part, None)

    def values(self) -> dict[Labels, float]:
        with self._lock:
            return {key: value for part in self._parts.values() for key, value in part.items()}

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, dict(key)) for key, value in self.values().items()]


def otlp_protocol(env: Mapping[str, str]) -> str | None:
    """The OTLP protocol metrics are pushed with (``http/protobuf`` or ``grpc``), or None for no OTLP export:
    on when ``OTEL_METRICS_EXPORTER`` names ``otlp``, or when it is unset and an OTLP endpoint is given."""
    exporters = {e.strip().lower() for e in env.get("OTEL_METRICS_EXPORTER", "").split(",") if e.strip()}
    endpoint = env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if "otlp" not in exporters and (exporters or not endpoint):
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    )
    protocol = protocol.strip().lower()
    if protocol not in ("http/protobuf", "grpc"):
        raise AgentscalerError(f"unsupported OTLP metrics protocol {protocol!r}: use http/protobuf or grpc")
    return protocol


def _otlp_reader(protocol: str) -> MetricReader:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    package = "opentelemetry-exporter-otlp-proto-" + ("grpc" if protocol == "grpc" else "http")
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # type: ignore[import-not-found]
                OTLPMetricExporter,
            )
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[import-not-found]
                OTLPMetricExporter,
            )
    except ImportError as exc:
        raise AgentscalerError(f"OTLP metric export ({protocol}) needs its exporter: pip install {package}") from exc
    return PeriodicExportingMetricReader(
        OTLPMetricExporter(timeout=EXPORT_TIMEOUT), export_timeout_millis=EXPORT_TIMEOUT * 1000
    )


def configure_metrics(service: str, port: int) -> int:
    """Install the process's meter provider: ``/metrics`` served on ``port`` of every interface (0: not
    served) and OTLP export as the ``OTEL_*`` variables ask. Returns the port served
    (0 for none). Once per process: a second call changes nothing and returns 0."""
    global _configured
    if _configured:
        return 0
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    readers: list[MetricReader] = []
    served = 0
    if port:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        readers.append(PrometheusMetricReader())
        try:
            server, _ = start_http_server(port, addr="0.0.0.0")
        except OSError as exc:
            raise AgentscalerError(
                f"cannot serve /metrics on port {port}: {exc}; set metrics_port (AGENTSCALER_METRICS_PORT) to a free "
                "port, or 0 for none"
            ) from None
        served = server.server_port
    protocol = otlp_protocol(os.environ)
    if protocol is not None:
        readers.append(_otlp_reader(protocol))
    seconds = View(instrument_name="*_seconds", aggregation=ExplicitBucketHistogramAggregation(SECONDS_BUCKETS))
    metrics.set_meter_provider(MeterProvider(metric_readers=readers, resource=resource(service), views=[seconds]))
    _configured = True
    if served:
        log.info("serving metrics", port=served, path="/metrics")
    return served


def shutdown_metrics(timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Push the last figures (OTLP), waiting ``timeout`` seconds at most, and stop the readers."""
    provider = metrics.get_meter_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown(timeout_millis=timeout * 1000)
