"""Connecting to NATS: clients fail fast with a clear message; services wait for the server and reconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import nats
import structlog
from nats.aio.client import Client

from ..errors import CredentialsRefused, NatsUnavailable
from .audit import is_violation, report_violation
from .options import Target, as_settings, connect_kwargs, scrub, shown
from .replicas import replicas_of

log = structlog.get_logger()


def unavailable(target: Target) -> NatsUnavailable:
    return NatsUnavailable(
        f"no NATS server at {shown(target)}: start one with `agentscaler run` (embedded server and all services), "
        "or pass --nats-url / set AGENTSCALER_NATS_URL to a running server"
    )


async def connect_once(
    target: Target, name: str, timeout: float = 2.0, on_error: Callable[[Exception], Awaitable[None]] | None = None
) -> Client:
    """Connect for a short-lived client (the CLI): one attempt, :class:`NatsUnavailable` on failure.
    ``target`` is the connection settings (servers, credentials, TLS) or a bare server URL list; ``on_error``
    hears the errors the server reports on the connection (a permissions violation, say)."""
    settings = as_settings(target)
    options = connect_kwargs(settings)

    async def quiet(_: Exception) -> None:
        return None

    try:
        # nats-py retries the initial connect forever unless attempts are bounded (0 means unbounded there).
        return await asyncio.wait_for(
            nats.connect(
                **options,
                name=name,
                connect_timeout=timeout,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=on_error or quiet,
            ),
            2 * timeout + 1,
        )
    except (TimeoutError, OSError, nats.errors.NoServersError) as exc:
        raise unavailable(settings) from exc
    except nats.errors.Error as exc:
        message = scrub(f"cannot connect to NATS at {shown(settings)}: {exc}", settings)
        if isinstance(exc, nats.errors.AuthorizationError) or "authorization violation" in str(exc).lower():
            raise CredentialsRefused(message) from exc  # nats-py raises a plain Error for it at connect
        raise NatsUnavailable(message) from exc


async def connect_service(
    target: Target,
    name: str,
    stop: asyncio.Event,
    quiet_for: float = 30.0,
    audit: bool = False,
    on_reconnect: Callable[[], None] | None = None,
) -> Client | None:
    """Connect a long-running service: wait for the server (saying once where it looks) until connected or
    ``stop`` is set, then reconnect forever. Returns None if stopped first. A repeated connection error is
    logged once per ``quiet_for`` seconds, not on every attempt. ``target`` is the connection settings or a
    bare server URL list; what is logged names the servers without credentials. With ``audit``, each permission
    violation logged is also stored in the audit stream, reported by ``name``. ``on_reconnect`` is called each
    time the connection is back."""
    settings = as_settings(target)
    options = connect_kwargs(settings)
    url = shown(settings)
    client: list[Client] = []
    last_logged: dict[str, float] = {}

    async def on_error(exc: Exception) -> None:
        text = scrub(str(exc) or type(exc).__name__, settings)
        now = time.monotonic()
        if now - last_logged.get(text, -quiet_for) < quiet_for:
            return
        last_logged[text] = now
        if client:
            log.warning("nats error", url=url, error=text)
            if audit and is_violation(exc):
                await report_violation(client[0], name, exc)
        else:
            log.warning("waiting for NATS", url=url, error=text, hint=str(unavailable(settings)))

    async def on_disconnect() -> None:
        if client and not (client[0].is_draining or client[0].is_closed):
            log.warning("disconnected from NATS; reconnecting", url=url)

    async def reconnected() -> None:
        log.info("reconnected to NATS", url=url)
        if on_reconnect is not None:
            on_reconnect()

    connecting = asyncio.create_task(
        nats.connect(
            **options,
            name=name,
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=reconnected,
        )
    )
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({connecting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not connecting.done():
        await cancel_until_done(connecting)
        return None
    client.append(connecting.result())
    return client[0]


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended. A cancellation can be lost (on Python 3.11,
    ``asyncio.wait_for`` swallows one that lands just as its inner future completes, and nats-py's connect
    then tries the next server as if nothing happened), so it is repeated until the task ends."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    with suppress(asyncio.CancelledError, Exception):
        task.result()


@asynccontextmanager
async def service_connection(
    target: Target,
    name: str,
    stop: asyncio.Event,
    audit: bool = False,
    on_reconnect: Callable[[], None] | None = None,
) -> AsyncIterator[Client | None]:
    """A service's connection for its lifetime: waits for NATS, drains on the way out (idempotent). With
    NATS gone (draining refused while reconnecting, or too slow) it is closed instead, within seconds: a
    stopping process never waits for a server that may not come back. ``audit``, ``on_reconnect``: as
    :func:`connect_service`. The streams and buckets created meanwhile get the settings' ``replicas``."""
    nc = await connect_service(target, name, stop, audit=audit, on_reconnect=on_reconnect)
    try:
        with replicas_of(as_settings(target).replicas):
            yield nc
    finally:
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.drain(), 10)
            except (TimeoutError, nats.errors.Error):
                with suppress(TimeoutError, nats.errors.Error, OSError):  # the socket is gone already
                    await asyncio.wait_for(nc.close(), 5)


async def run_connected(
    service: str, target: Target, host: str, stop: asyncio.Event, body: Callable[[Client], Awaitable[None]]
) -> None:
    """A service's life: connect (waiting for NATS), run ``body`` with the service's log context bound,
    drain the connection at the end. Returns at once if stopped before NATS answered. The permission violations
    its connection meets go to the audit stream."""
    async with service_connection(target, f"{service}@{host}", stop, audit=True) as nc:
        if nc is None:
            return
        with structlog.contextvars.bound_contextvars(service=service, host=host):
            await body(nc)
