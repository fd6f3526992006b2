"""The chat endpoint (``agentscaler.chat``): a command line as typed in chat in, plain text for a chat message
out. The policy serves it next to the commands: it runs the line's command as if sent on the command subject of
the same width (``chat.read`` as ``cmd.read``, ``chat.operate`` as ``cmd.operate``, with the same ``.as.<user>``
forms), so a role may do through chat what it may do through commands, no more; status comes from the monitor."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.micro.request import Request
from nats.micro.service import EndpointConfig
from opentelemetry.trace import SpanKind

from agentscaler.shared import subjects
from agentscaler.shared.auth.actor import base_subject
from agentscaler.shared.bus.discovery import Discoverable, endpoint_name
from agentscaler.shared.bus.rpc import Refused, request, request_subject
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.base import API_VERSION
from agentscaler.shared.messages.commands import Command, Error, PoolInfo, PoolList, Scaled
from agentscaler.shared.messages.snapshots import Snapshot, StatusQuery
from agentscaler.shared.render_text import fit, pools_text, status_text
from agentscaler.shared.telemetry.tracing import span

from .chat import HELP, ChatLine, ChatUsage, parse

log = structlog.get_logger()

Run = Callable[[Command], Awaitable[Any]]
Record = Callable[[Msg, Any, Any], Awaitable[None]]
TEXT_SCHEMA = json.dumps({"type": "string", "description": "plain UTF-8 text, not JSON"})
CHAT_SUBJECTS = (subjects.CHAT, subjects.CHAT_OPERATE, subjects.CHAT_READ)


class ChatOps:
    """Answers chat lines: ``run`` runs a policy command (raising :class:`Refused`), ``record`` audits it."""

    def __init__(self, nc: Client, run: Run, record: Record, status_timeout: float = 5.0) -> None:
        self.nc = nc
        self.run = run
        self.record = record
        self.status_timeout = status_timeout

    async def serve(self, service: Discoverable, queue: str) -> None:
        """Serve every chat subject, bare and sent as a vouched-for user, as endpoints of ``service``."""
        metadata = {"api_version": API_VERSION, "request_schema": TEXT_SCHEMA, "response_schema": TEXT_SCHEMA}
        for subject in CHAT_SUBJECTS:
            for served in (subject, subjects.as_actor(subject, "*")):
                config = EndpointConfig(
                    name=endpoint_name(served),
                    subject=served,
                    queue_group=queue,
                    handler=self._on_request,
                    metadata=metadata,
                )
                await service.service.add_endpoint(config)

    async def _on_request(self, req: Request) -> None:
        msg = req._msg  # the message itself: its subject names the sender and the width
        with span(f"handle {subjects.CHAT}", kind=SpanKind.SERVER, parent=msg.headers):
            token = request_subject.set(msg.subject)
            try:
                text = await self.answer(msg)
            except Exception as exc:
                log.exception("chat command failed", subject=msg.subject)
                text = f"internal error: {type(exc).__name__}: {exc}"
            finally:
                request_subject.reset(token)
        if msg.reply:
            await msg.respond(fit(text).encode())

    async def answer(self, msg: Msg) -> str:
        """The reply to the chat line ``msg`` carries, the command it ran audited."""
        try:
            line = parse(msg.data.decode("utf-8", "replace"))
        except ChatUsage as exc:
            return str(exc)
        allowed = subjects.CHAT_KINDS.get(base_subject(msg.subject))
        cmd = line.command()
        try:
            if allowed is not None and line.kind is not None and line.kind not in allowed:
                where = base_subject(msg.subject)
                raise Refused("refused", f"`{line.verb}` may not be sent on {where}: your role may not do it")
            if cmd is None:  # status or help: no policy command, nothing to record
                return HELP if line.verb == "help" else await self._status(line)
            reply: Any = await self.run(cmd)
        except Refused as exc:
            reply = Error(code=exc.code, message=exc.message)  # type: ignore[arg-type]
        if cmd is not None:
            await self.record(msg, cmd, reply)
        return reply_text(line, reply)

    async def _status(self, line: ChatLine) -> str:
        try:
            snapshot = await request(
                self.nc,
                subjects.STATUS,
                StatusQuery(pool=line.pool),
                Snapshot,
                timeout=self.status_timeout,
                what="monitor",
            )
        except AgentscalerError as exc:
            return f"status unavailable: {exc}"
        return status_text(snapshot)


def reply_text(line: ChatLine, reply: Any) -> str:
    """A command's reply in a line or a few."""
    if isinstance(reply, Error):
        return f"{reply.code}: {reply.message}"
    if isinstance(reply, Scaled):
        note = f" ({reply.note})" if reply.note else ""
        return f"pool {reply.pool}: desired {reply.previous} -> {reply.desired}{note}"
    if isinstance(reply, PoolInfo):
        return f"pool {reply.config.name}: {reply.state.mode} mode, desired {reply.state.desired}"
    if isinstance(reply, PoolList):
        return pools_text(reply.pools)
    return f"{line.verb}: {reply}"
