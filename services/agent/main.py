"""One agent process: settings from the actuator's environment, the handler loaded, then serve until drained."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable

import structlog

from agentscaler.shared.bus.connection import service_connection
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.settings import SettingsError, load
from agentscaler.shared.supervisor import stop_on_signals
from agentscaler.shared.telemetry.exporters import TracingConfigError
from agentscaler.shared.telemetry.logging import configure_logging
from agentscaler.shared.telemetry.tracing import configure_tracing, parent_from_traceparent, shutdown_tracing, span

from .handler import Handler, HandlerError, load_handler
from .limits import limit_memory
from .runtime import Agent
from .settings import AgentSettings, with_own_credentials
from .unloadable import fail_queued

log = structlog.get_logger()

EXIT_CONFIG = 2
"""Exit status of an agent that cannot start (bad handler, missing pool): the actuator backs off."""

EXIT_RECYCLED = 3
"""Exit status of an agent that stopped because a task hit a limit (time or memory): the actuator replaces it."""


async def serve(
    settings: AgentSettings,
    handler: Handler,
    early_stop: list[int],
    on_ready: Callable[[], None] | None,
    began: float,
) -> int:
    """Connect, register and work until stopped; ``on_ready`` is called once registered and pulling.
    ``began`` is when the process began to start (``time.monotonic()``)."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    if early_stop:
        stop.set()
    connecting = time.monotonic()
    resume: list[Callable[[], None]] = []  # once the agent is up: ask for tasks again at once on reconnect

    def reconnected() -> None:
        for ask_again in resume:
            ask_again()

    async with service_connection(settings, f"agent@{settings.agent_id}", stop, on_reconnect=reconnected) as nc:
        if nc is None:
            return 0
        connected = time.monotonic()
        try:
            with span("agent start", parent=parent_from_traceparent(settings.traceparent)):
                agent = Agent(settings, nc, handler, began)
                resume.append(agent.puller.reconnected)
                await agent.start()
                log.info(
                    "agent ready",
                    connect_s=round(connected - connecting, 3),
                    register_s=round(time.monotonic() - connected, 3),
                    cpu_s=round(time.process_time(), 4),
                )
                if on_ready is not None:
                    on_ready()
            await agent.run(stop)
        except AgentscalerError as exc:
            log.error("agent cannot start", error=str(exc))
            return EXIT_CONFIG
    if agent.recycled:
        # A handler past its deadline may still be running, or ignore cancellation: leave without waiting
        # for it (asyncio.run would), and let the actuator start a fresh agent.
        shutdown_tracing()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_RECYCLED)
    return 0


def settings_from_env() -> AgentSettings | None:
    try:
        return load(AgentSettings, "agent")
    except SettingsError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return None


def run_agent(
    settings: AgentSettings,
    handler: Handler | HandlerError,
    early_stop: list[int],
    on_ready: Callable[[], None] | None = None,
    began: float | None = None,
) -> int:
    """Set up logging and tracing (after any fork), then serve until drained. Returns the exit status.
    ``began`` is when the process began to start (``time.monotonic()``), by default now."""
    began = time.monotonic() if began is None else began
    settings = with_own_credentials(settings)
    configure_logging("agent", level=settings.log_level)
    structlog.contextvars.bind_contextvars(agent=settings.agent_id, pool=settings.pool)
    try:  # console spans only to AGENTSCALER_TRACES_FILE: an agent's stdout may be its actuator's log file
        configure_tracing("agent")
    except TracingConfigError as exc:
        log.error("agent cannot start", error=str(exc))
        return EXIT_CONFIG
    if isinstance(handler, HandlerError):
        log.error("agent cannot start", error=str(handler))
        if not early_stop:  # no agent of the pool will run its queued tasks: they fail now, with the reason
            asyncio.run(fail_queued(settings, str(handler)))
        return EXIT_CONFIG
    refused = limit_memory(settings.memory_limit_mb)  # after any fork: each agent has its own
    if refused:
        log.error("agent cannot start", error=refused)
        return EXIT_CONFIG
    try:
        return asyncio.run(serve(settings, handler, early_stop, on_ready, began))
    finally:
        shutdown_tracing()


def load_or_error(spec: str) -> Handler | HandlerError:
    try:
        return load_handler(spec)
    except HandlerError as exc:
        return exc


def main(early_stop: list[int], began: float | None = None) -> int:
    """Run one agent started by exec; ``early_stop`` holds a stop signal that arrived before the loop ran,
    ``began`` when the process began to run (``time.monotonic()``)."""
    settings = settings_from_env()
    if settings is None:
        return EXIT_CONFIG
    return run_agent(settings, load_or_error(settings.handler), early_stop, began=began)
