"""OpenTelemetry tracing: configured from the standard ``OTEL_*`` variables, off by default.

The W3C trace context travels in NATS message headers (``traceparent``/``tracestate``), so one trace runs
from a CLI command through the policy and the actuator to the agents it starts, even across processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

_TRACER_NAME = "agentscaler"

_exporting = False
"""Whether this process exports spans: without an exporter, a span whose parent is known adds nothing."""


def configure_tracing(service: str) -> None:
    """Install an SDK tracer provider, exporting spans when ``OTEL_TRACES_EXPORTER`` names an exporter
    (``console``, or ``otlp`` when an OTLP exporter package is installed). Without one nothing is exported,
    but every command still starts a trace whose id runs through the logs of every service it reaches."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

    global _exporting
    provider = TracerProvider(resource=resource(service))
    trace.set_tracer_provider(provider)
    _exporting = False
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if exporter_name in ("", "none"):
        return

    exporter: SpanExporter
    if exporter_name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise RuntimeError(
                "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip install opentelemetry-exporter-otlp-proto-http"
            ) from exc
        exporter = OTLPSpanExporter()
    else:
        raise RuntimeError(f"unsupported OTEL_TRACES_EXPORTER={exporter_name!r}: use none, console or otlp")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _exporting = True


@cache
def resource(service: str) -> Resource:
    """The OpenTelemetry resource of ``service``. Building it runs the resource detectors (an entry-point
    scan of the installed packages, milliseconds), so a fork server builds it once before forking."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"agentscaler-{service}"})


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()


def tracer() -> trace.Tracer:
    return trace.get_tracer(_TRACER_NAME)


def inject(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (empty when there is none)."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def current_traceparent() -> str:
    return inject().get("traceparent", "")


def current_trace_ids() -> tuple[str, str] | None:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def trace_id(headers: Mapping[str, str] | None) -> str:
    """The trace a message belongs to: the current span's, else the one its headers carry (a process that
    records no spans still knows its sender's); "" for none."""
    ids = current_trace_ids()
    if ids:
        return ids[0]
    ctx = trace.get_current_span(propagate.extract(dict(headers or {}))).get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Mapping[str, str] | None = None,
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> Iterator[Span]:
    """A span, child of the trace context in ``parent`` headers when given, else of the current one.

    A process that exports nothing only joins the sender's trace (its logs carry the trace id, what it
    sends carries the trace context) instead of recording a span nobody sees: tens of microseconds saved
    on every task an agent runs. Given ``parent`` headers without trace context, it then joins none. With
    no ``parent`` and no current trace it still starts one, so a command's trace id runs through the logs
    of every service it reaches."""
    token = None
    if parent:
        token = otel_context.attach(propagate.extract(dict(parent)))
    try:
        joined = trace.get_current_span()
        if not _exporting and (parent is not None or joined.get_span_context().is_valid):
            yield joined
            return
        with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as current:
            yield current
    finally:
        if token is not None:
            otel_context.detach(token)


def parent_from_traceparent(traceparent: str) -> dict[str, str]:
    return {"traceparent": traceparent} if traceparent else {}
