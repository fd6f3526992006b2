"""Which span exporters a process uses, read from the variables of the OpenTelemetry specification:
``OTEL_TRACES_EXPORTER`` (a comma-separated list of ``otlp``, ``console``, ``none``) and
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``, ``grpc``), plus
``AGENTSCALER_TRACES_FILE``: where the console exporter writes, one JSON line per span.

Parsing is pure (:func:`export_plan`); building the exporters (:func:`build_exporters`) imports them lazily,
so a process that exports nothing never loads an exporter package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ..errors import AgentscalerError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL = "http/protobuf"
"""The specification's default, and the exporter agentscaler installs with."""

TRACES_FILE = "AGENTSCALER_TRACES_FILE"
_TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")


class TracingConfigError(AgentscalerError):
    """An ``OTEL_*`` variable has a value this process cannot use; the message names it and what is allowed."""


@dataclass(frozen=True)
class ExportPlan:
    """What the variables ask for: the exporters in the order given (``none`` dropped, duplicates once), the
    OTLP protocol, and the console exporter's file ("" for the process's default stream)."""

    exporters: tuple[str, ...] = ()
    protocol: str = DEFAULT_PROTOCOL
    traces_file: str = ""
    export_timeout_set: bool = False
    """Whether the OTLP export timeout comes from the environment (else the process chooses a short one)."""


def export_plan(env: Mapping[str, str]) -> ExportPlan:
    """The exporters ``env`` asks for. Raises TracingConfigError naming the variable and the values allowed."""
    names: list[str] = []
    for raw in env.get("OTEL_TRACES_EXPORTER", "none").split(","):
        name = raw.strip().lower()
        if name not in (*EXPORTERS, ""):
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {raw.strip()!r}; use a comma-separated list of "
                + ", ".join(EXPORTERS)
            )
        if name not in ("", "none") and name not in names:
            names.append(name)
    protocol = DEFAULT_PROTOCOL
    if "otlp" in names:
        variable = next(
            (
                v
                for v in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
                if env.get(v, "").strip()
            ),
            "",
        )
        protocol = env[variable].strip().lower() if variable else DEFAULT_PROTOCOL
        if protocol not in PROTOCOLS:
            raise TracingConfigError(
                f"{variable}: unknown protocol {env[variable].strip()!r}; use one of " + ", ".join(PROTOCOLS)
            )
    return ExportPlan(
        exporters=tuple(names),
        protocol=protocol,
        traces_file=env.get(TRACES_FILE, "").strip(),
        export_timeout_set=any(env.get(v, "").strip() for v in _TIMEOUT_VARIABLES),
    )


def build_exporters(plan: ExportPlan, *, export_timeout: float, console: TextIO | None) -> list[SpanExporter]:
    """The exporters of ``plan``. OTLP ones give up on a batch after ``export_timeout`` seconds unless an
    ``OTEL_EXPORTER_OTLP_*TIMEOUT`` variable says otherwise. The console one writes to ``plan.traces_file``,
    else to ``console``; with neither it is left out."""
    exporters: list[SpanExporter] = []
    for name in plan.exporters:
        if name == "otlp":
            exporters.append(_otlp(plan, None if plan.export_timeout_set else export_timeout))
        elif name == "console":
            out = open(plan.traces_file, "a", buffering=1) if plan.traces_file else console  # noqa: SIM115
            if out is not None:
                from opentelemetry.sdk.trace.export import ConsoleSpanExporter

                exporters.append(ConsoleSpanExporter(out=out, formatter=one_line))
    return exporters


def one_line(span: ReadableSpan) -> str:
    """A span as one JSON line: a stream of spans stays one object per line, like the logs."""
    return span.to_json(indent=None) + "\n"


def _otlp(plan: ExportPlan, timeout: float | None) -> SpanExporter:
    if plan.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TracingConfigError(
                "OTLP over grpc needs its exporter: pip install opentelemetry-exporter-otlp-proto-grpc "
                "(or agentscaler[otlp-grpc]), or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
            ) from exc
        return OTLPSpanExporter(timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(timeout=timeout)
