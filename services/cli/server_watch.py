"""``agentscaler run`` keeps its embedded nats-server alive: a server that dies is restarted (same port,
store and configuration) after a growing pause; one that keeps dying makes ``run`` fail, so that whatever
supervises it (systemd, a container runtime) notices instead of facing a process that runs on without NATS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from agentscaler.shared.bus.server import EmbeddedServer, ServerError
from agentscaler.shared.supervisor import Root, wait_or_stop

log = structlog.get_logger()

CHECK_EVERY = 0.5
"""Seconds between checks that the server still runs."""

MAX_DELAY_FACTOR = 16
"""The pauses double from the first one up to this many times it (0.5 s: up to 8 s)."""


class ServerKeepsDying(ServerError):
    """The embedded server died more often than the restart policy allows."""


@dataclass(frozen=True)
class RestartPolicy:
    """How often a dead server is restarted: at most ``max_restarts`` deaths within ``window`` seconds, each
    restart after a pause doubling from ``first_delay`` up to ``max_delay``."""

    max_restarts: int = 5
    window: float = 300.0
    first_delay: float = 0.5
    max_delay: float = 8.0

    @classmethod
    def of(cls, max_restarts: int, first_delay: float) -> RestartPolicy:
        """The policy of ``run --server-restarts N --server-restart-delay SECONDS``: pauses doubling from
        ``first_delay`` up to :data:`MAX_DELAY_FACTOR` times it; 0 restarts gives up at the first death."""
        return cls(max_restarts=max_restarts, first_delay=first_delay, max_delay=first_delay * MAX_DELAY_FACTOR)

    def delay(self, deaths: list[float], now: float) -> float | None:
        """Seconds to wait before restarting after the deaths at ``deaths`` (the last one just now); None
        to give up. Pure: the times are given."""
        recent = sum(1 for at in deaths if now - at <= self.window)
        if recent > self.max_restarts:
            return None
        return min(self.first_delay * 2 ** max(recent - 1, 0), self.max_delay)


def watch_server(
    server: EmbeddedServer, policy: RestartPolicy = RestartPolicy(), clock: Callable[[], float] = time.monotonic
) -> Root:
    """A root task that restarts ``server`` when it dies, and fails (raising :class:`ServerKeepsDying`)
    when the policy gives up; it returns when ``stop`` is set."""

    async def root(stop: asyncio.Event) -> None:
        deaths: list[float] = []
        while not await wait_or_stop(stop, CHECK_EVERY):
            if server.alive():
                continue
            now = clock()
            deaths.append(now)
            delay = policy.delay(deaths, now)
            if delay is None:
                log.error("embedded NATS server keeps dying; giving up", url=server.url, deaths=len(deaths))
                raise ServerKeepsDying(
                    (
                        f"the embedded nats-server died {policy.max_restarts + 1} times within {policy.window:g}s"
                        if policy.max_restarts
                        else "the embedded nats-server died (server_restarts is 0: not restarted)"
                    )
                    + f"; see {server.log_path}"
                )
            log.error(
                "embedded NATS server died; restarting it",
                url=server.url,
                code=server.exit_code,
                restart=len(deaths),
                delay=delay,
            )
            if await wait_or_stop(stop, delay):
                return
            try:
                await asyncio.to_thread(server.restart)
            except ServerError as exc:  # counted as another death at the next check
                log.error("embedded NATS server did not restart", error=str(exc))
                continue
            log.info("embedded NATS server restarted", url=server.url)

    return root
