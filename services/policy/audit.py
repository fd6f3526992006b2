"""The policy's audit: each command it receives, accepted or refused, is stored in the audit stream with the
actor the server vouched for, before the reply goes out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from agentscaler.shared.auth.actor import actor_of_subject
from agentscaler.shared.bus.audit import MASKED, append
from agentscaler.shared.clock import Clock
from agentscaler.shared.messages.audit import AuditRecord
from agentscaler.shared.messages.commands import Error, PoolInfo, Scaled
from agentscaler.shared.messages.optimize import Optimized
from agentscaler.shared.telemetry.tracing import trace_id

log = structlog.get_logger()

RAW_KEPT = 2048
"""Bytes of a request that did not decode kept in its record."""


def load_actor_names(path: str) -> dict[str, str]:
    """The actors' names (public key -> role) from ``auth init``'s ``actors.json``; none when not given or
    unreadable (records then carry the keys alone)."""
    if not path:
        return {}
    try:
        names = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        log.warning("actor names not loaded; audit records carry public keys only", path=path, error=str(exc))
        return {}
    return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def request_of(req: Any, data: bytes) -> Any:
    """What a record keeps of a request: its JSON with pool ``env`` values masked (they may hold secrets), or
    the first bytes of a body that did not decode."""
    if req is None:
        return data[:RAW_KEPT].decode("utf-8", "replace")
    body = msgspec.to_builtins(req)
    config = body.get("config") if isinstance(body, dict) else None
    if isinstance(config, dict) and isinstance(config.get("env"), dict):
        config["env"] = {key: MASKED for key in config["env"]}
    return body


def outcome_of(reply: Any) -> tuple[str, str]:
    """The record's outcome (``ok`` or the error code) and message for ``reply``."""
    if isinstance(reply, Error):
        return reply.code, reply.message
    if isinstance(reply, Scaled):
        return "ok", f"desired {reply.previous} -> {reply.desired}" + (f" ({reply.note})" if reply.note else "")
    if isinstance(reply, PoolInfo):
        return "ok", f"{reply.state.mode} mode, desired {reply.state.desired}"
    if isinstance(reply, Optimized):
        return "ok", "recommendation applied" if reply.applied else "report made, nothing applied"
    return "ok", ""


def pool_of(req: Any) -> str:
    if req is None:
        return ""
    config = getattr(req, "config", None)
    return str(getattr(config, "name", "") or getattr(req, "pool", "") or "")


class CommandAudit:
    """Stores an :class:`AuditRecord` for each request it hears (``serve(record=...)``)."""

    def __init__(self, js: JetStreamContext, clock: Clock, actor_names: dict[str, str]) -> None:
        self.js = js
        self.clock = clock
        self.actor_names = actor_names

    async def record(self, msg: Msg, req: Any, reply: Any) -> None:
        actor = actor_of_subject(msg.subject)
        outcome, message = outcome_of(reply)
        record = AuditRecord(
            kind="command",
            at=self.clock.now(),
            subject=msg.subject,
            actor=actor,
            actor_name=self.actor_names.get(actor, ""),
            command="" if req is None else str(type(req).__struct_config__.tag),
            pool=pool_of(req),
            request=request_of(req, msg.data),
            outcome=outcome,
            message=message,
            trace_id=trace_id(msg.headers),
        )
        await append(self.js, record)
