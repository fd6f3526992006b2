"""Events: typed fire-and-forget messages. A malformed event is logged and dropped, never fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import SpanKind

from ..codec import BadMessage, decode, encode
from ..telemetry.tracing import inject, span

log = structlog.get_logger()


async def publish(nc: Client, subject: str, msg: Any, *, traced: bool = True) -> None:
    """Publish ``msg``; with ``traced`` the current trace context rides in the headers."""
    if traced:
        with span(f"publish {subject}", kind=SpanKind.PRODUCER):
            await nc.publish(subject, encode(msg), headers=inject() or None)
    else:
        await nc.publish(subject, encode(msg))


async def listen(
    nc: Client,
    subject: str,
    event_type: Any,
    handler: Callable[[Any, str], Awaitable[None]],
    *,
    queue: str = "",
    traced: bool = True,
) -> Subscription:
    """Call ``handler(event, subject)`` for every event on ``subject`` that decodes as ``event_type``.
    High-rate subjects (heartbeats) pass ``traced=False`` to skip the span."""

    async def on_msg(msg: Msg) -> None:
        try:
            event = decode(event_type, msg.data)
        except BadMessage as exc:
            log.warning("dropped bad event", subject=msg.subject, error=str(exc))
            return
        try:
            if traced:
                with span(f"consume {subject}", kind=SpanKind.CONSUMER, parent=msg.headers):
                    await handler(event, msg.subject)
            else:
                await handler(event, msg.subject)
        except Exception:
            log.exception("event handler failed", subject=msg.subject)
        # nats-py hands a subscription's queued messages to it one after another without returning to the loop
        # while the handler never waits: ten thousand heartbeats or registrations at once would hold up every
        # other task (lease renewals, timers, other subscriptions) for seconds. One yield per message.
        await asyncio.sleep(0)

    return await nc.subscribe(subject, queue=queue, cb=on_msg)
