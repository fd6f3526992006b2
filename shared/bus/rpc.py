"""Requests and replies with typed messages. One place turns bad input and failures into error replies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

from ..codec import BadMessage, decode, encode
from ..errors import NoResponders, RequestFailed, RequestTimedOut
from ..messages.commands import Error
from ..messages.summaries import plain
from ..telemetry.tracing import inject, span

log = structlog.get_logger()

Req = TypeVar("Req")
Rep = TypeVar("Rep")

request_subject: ContextVar[str] = ContextVar("request_subject", default="")
"""The subject of the request being handled, for handlers that need to know where it came (who sent it)."""

Recorder = Callable[[Msg, Any, Any], Awaitable[None]]
"""Called after each request is answered with the message, the decoded request (None if it did not decode)
and the reply sent."""


class _Probe(msgspec.Struct):
    """Just enough of a reply to tell an :class:`Error` from the expected type."""

    type: Any = None


class Refused(Exception):
    """Raised by a request handler to answer with an :class:`Error` reply of ``code``. ``summary`` is the
    plain line for people (default: ``message`` without its trailing CLI advice, see :func:`plain`)."""

    def __init__(self, code: str, message: str, summary: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.summary = summary or plain(message)


async def request(
    nc: Client, subject: str, msg: Any, reply_type: Any, *, timeout: float = 5.0, what: str = "service"
) -> Any:
    """Send ``msg`` and decode the reply as ``reply_type`` (an :class:`Error` reply raises
    :class:`RequestFailed`; no listener raises :class:`NoResponders`)."""
    with span(f"request {subject}", kind=SpanKind.CLIENT, attributes={"messaging.destination": subject}):
        try:
            reply = await nc.request(subject, encode(msg), timeout=timeout, headers=inject())
        except NoRespondersError:
            raise NoResponders(
                f"no {what} is listening on {subject}: is `agentscaler run` (or `agentscaler serve ...`) running?"
            ) from None
        except NatsTimeout:
            raise RequestTimedOut(f"the {what} on {subject} did not answer within {timeout:g}s") from None
    if decode(_Probe, reply.data).type == "error":
        error = decode(Error, reply.data)
        raise RequestFailed(error.code, error.message)
    return decode(reply_type, reply.data)


async def serve(
    nc: Client,
    subject: str,
    request_type: Any,
    handler: Callable[[Any], Awaitable[Any]],
    *,
    queue: str = "",
    context: Callable[[Any], dict[str, str]] | None = None,
    record: Recorder | None = None,
) -> Subscription:
    """Answer requests on ``subject``: decode as ``request_type``, call ``handler`` inside a consumer span
    with log context bound, reply with its result. Bad input and failures become :class:`Error` replies; the
    subscription never dies. ``record`` hears every request and its reply (an audit). (A service's endpoints
    are served through ``shared/bus/discovery.py``, which answers with the same :func:`responder`.)"""
    answer = responder(subject, request_type, handler, context=context, record=record)

    async def on_msg(msg: Msg) -> None:
        await answer(msg)

    return await nc.subscribe(subject, queue=queue, cb=on_msg)


def responder(
    subject: str,
    request_type: Any,
    handler: Callable[[Any], Awaitable[Any]],
    *,
    context: Callable[[Any], dict[str, str]] | None = None,
    record: Recorder | None = None,
) -> Callable[[Msg], Awaitable[Any]]:
    """What answers one request on ``subject`` (see :func:`serve`); it returns the reply it sent."""

    async def on_msg(msg: Msg) -> Any:
        with span(f"handle {subject}", kind=SpanKind.SERVER, parent=msg.headers):
            req, result = None, None
            try:
                req = decode(request_type, msg.data)
            except BadMessage as exc:
                log.warning("bad request", subject=msg.subject, error=str(exc))
                result = Error(code="bad_request", message=str(exc), summary=plain(exc.problem))
            if result is None:
                result = await _handle(msg, req, handler, context)
            if record is not None:
                await record(msg, req, result)
            await _reply(msg, result)
        await asyncio.sleep(0)  # a backlog of requests must not starve the loop (see ``events.listen``)
        return result

    return on_msg


async def _handle(
    msg: Msg, req: Any, handler: Callable[[Any], Awaitable[Any]], context: Callable[[Any], dict[str, str]] | None
) -> Any:
    """``handler``'s reply to ``req``, or the :class:`Error` it was refused or failed with."""
    binding = context(req) if context else {}
    token = request_subject.set(msg.subject)
    try:
        with structlog.contextvars.bound_contextvars(**binding):
            try:
                return await handler(req)
            except Refused as exc:
                log.info("request refused", subject=msg.subject, code=exc.code, reason=exc.message)
                return Error(code=exc.code, message=exc.message, summary=exc.summary)  # type: ignore[arg-type]
            except Exception as exc:
                log.exception("request failed", subject=msg.subject)
                get_current_span().set_status(StatusCode.ERROR, str(exc))
                summary = (
                    f"the service failed on this request: {exc}" if str(exc) else "the service failed on this request"
                )
                return Error(code="internal", message=f"{type(exc).__name__}: {exc}", summary=summary)
    finally:
        request_subject.reset(token)


async def _reply(msg: Msg, result: Any) -> None:
    if msg.reply:
        await msg.respond(encode(result))


__all__ = ["NoResponders", "Refused", "RequestFailed", "request", "responder", "serve"]
