"""OpenTelemetry tracing: configured from the standard ``OTEL_*`` variables, off by default.

The W3C trace context travels in NATS message headers (``traceparent``/``tracestate``), so one trace runs
from a CLI command through the policy and the actuator to the agents it starts, even across processes.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, TextIO

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from .exporters import ExportPlan, build_exporters, export_plan

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

_TRACER_NAME = "agentscaler"

_exporting = False
"""Whether this process exports spans: without an exporter, a span whose parent is known adds nothing."""

EXPORT_TIMEOUT = 2.0
"""Seconds a long-running process's OTLP exporter tries a batch (in its own thread) before dropping it."""
CLI_EXPORT_TIMEOUT = 0.5
"""The same for a command: shorter than the exporter's first retry pause, so that an unreachable collector
costs a command one refused connection, not a retry."""
SHUTDOWN_TIMEOUT = 1.0
"""Seconds :func:`shutdown_tracing` waits for the last spans to leave: a process never hangs on a collector."""


@dataclass
class _Tracing:
    """This process's exporting set-up: one tracer provider per service name, all exporting alike."""

    default: str = ""
    """The process's own service (``cli``, ``run``, ``agent``...): spans outside any :func:`service_tracing`."""
    plan: ExportPlan = field(default_factory=ExportPlan)
    export_timeout: float = EXPORT_TIMEOUT
    console: TextIO | None = None
    providers: dict[str, TracerProvider] = field(default_factory=dict)
    processors: list[SpanProcessor] = field(default_factory=list)


_state = _Tracing()
_service: ContextVar[str | None] = ContextVar("agentscaler_tracing_service", default=None)
"""The service whose code runs in this context (``agentscaler run`` holds them all in one process)."""


def configure_tracing(
    service: str,
    *,
    export_timeout: float = EXPORT_TIMEOUT,
    console: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Install an SDK tracer provider for ``service``, exporting spans as ``OTEL_TRACES_EXPORTER`` says (see
    :mod:`.exporters`; ``console``: where console spans go without ``AGENTSCALER_TRACES_FILE``, None for
    nowhere). Without an exporter nothing is exported, but every command still starts a trace whose id runs
    through the logs of every service it reaches. Raises TracingConfigError for a variable it cannot use."""
    global _exporting, _state
    plan = export_plan(os.environ if env is None else env)
    shutdown_tracing()
    _state = _Tracing(default=service, plan=plan, export_timeout=export_timeout, console=console)
    _exporting = bool(plan.exporters)
    trace.set_tracer_provider(_provider(service))
    atexit.unregister(shutdown_tracing)
    if _exporting:
        atexit.register(shutdown_tracing)


def _provider(service: str) -> TracerProvider:
    """``service``'s tracer provider: its own resource, its own batch processors, made once."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = _state.providers.get(service)
    if provider is None:
        provider = TracerProvider(resource=resource(service), shutdown_on_exit=False)
        for exporter in build_exporters(_state.plan, export_timeout=_state.export_timeout, console=_state.console):
            processor = BatchSpanProcessor(exporter)
            provider.add_span_processor(processor)
            _state.processors.append(processor)
        _state.providers[service] = provider
    return provider


@contextmanager
def service_tracing(service: str) -> Iterator[None]:
    """Spans started in this context (and the tasks it starts) are ``service``'s: resource
    ``service.name=agentscaler-<service>``, even with other services in the same process."""
    if _state.providers:
        _provider(service)
    token = _service.set(service)
    try:
        yield
    finally:
        _service.reset(token)


@cache
def resource(service: str) -> Resource:
    """The OpenTelemetry resource of ``service``. Building it runs the resource detectors (an entry-point
    scan of the installed packages, milliseconds), so a fork server builds it once before forking."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"agentscaler-{service}"})


def shutdown_tracing(timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Send the spans still queued, waiting at most ``timeout`` seconds in all: an exporter still retrying
    then (its collector down) is abandoned in its daemon thread. Idempotent."""
    processors, _state.processors = _state.processors, []
    deadline = time.monotonic() + timeout
    threads = [threading.Thread(target=p.shutdown, name="span-export-shutdown", daemon=True) for p in processors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def tracer() -> trace.Tracer:
    """The tracer of the service running in this context (see :func:`service_tracing`), else the process's."""
    provider = _state.providers.get(_service.get() or _state.default)
    return provider.get_tracer(_TRACER_NAME) if provider else trace.get_tracer(_TRACER_NAME)


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
