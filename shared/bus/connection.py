"""Connecting to NATS: clients fail fast with a clear message; services wait for the server and reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import nats
import structlog
from nats.aio.client import Client

from ..errors import NatsUnavailable

log = structlog.get_logger()


def unavailable(url: str) -> NatsUnavailable:
    return NatsUnavailable(
        f"no NATS server at {url}: start one with `agentscaler run` (embedded server and all services), "
        "or pass --nats-url / set AGENTSCALER_NATS_URL to a running server"
    )


async def connect_once(url: str, name: str, timeout: float = 2.0) -> Client:
    """Connect for a short-lived client (the CLI): one attempt, :class:`NatsUnavailable` on failure."""

    async def quiet(_: Exception) -> None:
        return None

    try:
        return await nats.connect(
            url,
            name=name,
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            error_cb=quiet,
        )
    except (TimeoutError, OSError, nats.errors.NoServersError) as exc:
        raise unavailable(url) from exc
    except nats.errors.Error as exc:
        raise NatsUnavailable(f"cannot connect to NATS at {url!r}: {exc}") from exc


async def connect_service(url: str, name: str, stop: asyncio.Event, retry_every: float = 1.0) -> Client | None:
    """Connect a long-running service: retry until connected (logging where it looks) or ``stop`` is set,
    then reconnect forever. Returns None if stopped first."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error", error=str(exc) or type(exc).__name__)

    client: list[Client] = []

    async def on_disconnect() -> None:
        if client and not (client[0].is_draining or client[0].is_closed):
            log.warning("disconnected from NATS; reconnecting", url=url)

    async def on_reconnect() -> None:
        log.info("reconnected to NATS", url=url)

    warned = False
    while not stop.is_set():
        try:
            nc = await nats.connect(
                url,
                name=name,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
            client.append(nc)
            return nc
        except (TimeoutError, OSError, nats.errors.NoServersError) as exc:
            if not warned:
                log.warning("waiting for NATS", url=url, error=str(unavailable(url)), detail=str(exc))
                warned = True
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), retry_every)
    return None


@asynccontextmanager
async def service_connection(url: str, name: str, stop: asyncio.Event) -> AsyncIterator[Client | None]:
    """A service's connection for its lifetime: waits for NATS, drains on the way out (idempotent)."""
    nc = await connect_service(url, name, stop)
    try:
        yield nc
    finally:
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.drain(), 10)
            except (TimeoutError, nats.errors.ConnectionClosedError):
                await nc.close()
