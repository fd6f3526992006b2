"""How many copies of each stream and KV bucket agentscaler creates: the ``replicas`` setting.

The value travels with the connection, not through every call: a service's connection (``service_connection``,
hence ``run_connected`` and the agents) and the CLI's (``cli/client.py connected``) set it from their settings
for the code that runs while they are open, and every config builder (task queues, buckets, history and audit
streams) reads it with :func:`replicas`. It is a context variable, so several services in one process (tests,
``agentscaler run``) each keep their own, and nothing outlives the connection it came with.

Existing streams are raised to the setting (JetStream on a cluster may change a stream's replicas), never
lowered: a service started without the setting must not take copies away from the others' streams.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.errors import APIError

from ..errors import AgentscalerError

T = TypeVar("T")

log = structlog.get_logger()

_REPLICAS: ContextVar[int] = ContextVar("agentscaler_replicas", default=1)

PLACEMENT_WAIT = 60.0
"""Seconds a stream refused for want of servers is tried again (the cluster's other nodes may be starting)."""
PLACEMENT_RETRY = 3.0

SETTLE = 30.0
"""Seconds to wait for a stream whose replicas were raised to have a leader and current copies again."""

NOT_CLUSTERED = 10074
TOO_MANY = frozenset({NOT_CLUSTERED, 10023, 10005})
"""JetStream's error codes for a stream that cannot have its replicas: replicas > 1 on a server that is not in a
cluster, insufficient resources, and no suitable peers for placement."""


class ReplicasError(AgentscalerError):
    """The ``replicas`` setting asks for more copies than the NATS servers can hold."""


def replicas() -> int:
    """The replicas of the streams and buckets created now (1 unless a connection set it)."""
    return _REPLICAS.get()


@contextmanager
def replicas_of(count: int) -> Iterator[None]:
    """Create streams and buckets with ``count`` replicas inside this block."""
    token = _REPLICAS.set(count)
    try:
        yield
    finally:
        _REPLICAS.reset(token)


def wanted(existing: int | None) -> int:
    """The replicas to give a stream that has ``existing`` ones: the setting, or more if it has more."""
    return max(replicas(), existing or 1)


def too_many(error: APIError, stream: str, count: int) -> ReplicasError | None:
    """A clear error for ``error`` when it says that ``stream`` cannot have ``count`` replicas; None for another
    error (to be raised as it is)."""
    if error.err_code not in TOO_MANY and "replica" not in (error.description or "").lower():
        return None
    return ReplicasError(
        f"cannot give stream {stream} {count} replicas: the NATS server says {error.description!r}. The setting "
        "replicas (AGENTSCALER_REPLICAS) must be at most the number of JetStream servers in the cluster (1 for "
        "a single server); lower it, or start the missing servers"
    )


async def checked(call: Callable[[], Awaitable[T]], stream: str, count: int) -> T:
    """Await ``call()`` (a create or update of ``stream`` with ``count`` replicas). Refused for want of servers
    on a cluster (some may still be starting, or one is down), it is tried again every few seconds, with a
    warning naming the setting, for up to ``PLACEMENT_WAIT`` seconds; then, or at once on a server that is not
    in a cluster, a :class:`ReplicasError` naming the setting."""
    deadline = time.monotonic() + PLACEMENT_WAIT
    while True:
        try:
            return await call()
        except APIError as exc:
            error = too_many(exc, stream, count)
            if error is None:
                raise
            if exc.err_code == NOT_CLUSTERED or time.monotonic() >= deadline:
                raise error from None
            log.warning(
                "waiting for enough JetStream servers for the stream's replicas", stream=stream, error=str(error)
            )
        await asyncio.sleep(PLACEMENT_RETRY)


async def raise_replicas(js: JetStreamContext, stream: str) -> None:
    """Give the existing ``stream`` (a bucket's, say) the setting's replicas when it has fewer. An update refused
    for another reason than too few servers (permissions, an old server) is logged, and the stream used as it is."""
    info = await js.stream_info(stream)
    have, want = info.config.num_replicas or 1, replicas()
    if have >= want:
        return
    info.config.num_replicas = want
    try:
        await checked(lambda: js.update_stream(info.config), stream, want)
    except (nats.errors.Error, TimeoutError) as exc:
        log.warning(
            "stream has fewer replicas than the setting replicas asks; it could not be updated",
            stream=stream,
            replicas=have,
            setting=want,
            error=str(exc) or type(exc).__name__,
        )
        return
    log.info("raising stream replicas to the setting; waiting for the copies", stream=stream, replicas=want, was=have)
    await settled(js, stream)


async def settled(js: JetStreamContext, stream: str, timeout: float = SETTLE) -> None:
    """Wait (up to ``timeout``) until ``stream`` has a leader and lists all its copies: a stream just made with
    several replicas, or whose replicas were just raised, has none for a moment (seconds, for a raise, while
    JetStream copies it), and requests about it go unanswered meanwhile. Waiting here keeps them from the code
    that uses the stream next. A copy on a server that is down is listed too: one lost server does not hold
    this up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = await js.stream_info(stream)
        except (nats.errors.Error, TimeoutError):
            info = None
        cluster = info.cluster if info else None
        if info and cluster and cluster.leader and len(cluster.replicas or []) >= (info.config.num_replicas or 1) - 1:
            return
        await asyncio.sleep(0.25)
    log.warning("stream has no leader yet; going on", stream=stream, waited=timeout)
