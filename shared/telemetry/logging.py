"""structlog set-up: JSON lines for services and agents, readable lines for the CLI."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from .tracing import current_trace_ids


def _add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    ids = current_trace_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


class _CurrentStderr:
    """``sys.stderr`` as it is when each line is written, not when logging was set up: whoever runs the
    process (a test harness capturing output, a daemon wrapper) may replace it, and lines must not go to a
    stream that was closed meanwhile."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(service: str, *, json: bool = True, level: str = "info", stream: TextIO | None = None) -> None:
    """Route structlog (and stdlib logging, e.g. nats-py's) to ``stream`` as JSON lines or readable text.
    Every line carries ``service`` plus whatever context the message wrappers bound."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    out: Any = stream or _CurrentStderr()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    renderer: Any
    if json:
        processors.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=out, force=True)
