"""The audit stream: records of every command and of the permission violations services met, kept for a
bounded time and size, read back by time."""

from __future__ import annotations

import time

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from agentscaler.shared import subjects

from ..codec import BadMessage, decode, encode
from ..messages.audit import AuditRecord
from .history import bounded_stream, ensure_stream, read_since

log = structlog.get_logger()

MASKED = "***"
VIOLATION_MARK = "permissions violation"


def audit_config(max_age: float, max_bytes: int) -> StreamConfig:
    what = "agentscaler audit: every command received, accepted or refused, and permission violations"
    return bounded_stream(subjects.AUDIT_STREAM, [f"{subjects.AUDIT}.>"], max_age, max_bytes, what)


async def ensure_audit(js: JetStreamContext, max_age: float, max_bytes: int) -> None:
    """Create the audit stream, or bring its limits to these."""
    await ensure_stream(js, audit_config(max_age, max_bytes))


async def append(js: JetStreamContext, record: AuditRecord) -> None:
    """Store ``record`` and wait for the stream's acknowledgement: a command is answered only once its record is
    kept. A record that cannot be stored (NATS away, no stream) is logged whole instead, so it is not lost."""
    subject = subjects.audit_subject(record.kind)
    try:
        await js.publish(subject, encode(record), timeout=2.0)
    except (nats.errors.Error, TimeoutError) as exc:
        log.error("audit record not stored; logged here instead", error=str(exc), record=msgspec.to_builtins(record))


async def read_audit(js: JetStreamContext, since: float, limit: int, kind: str = "*") -> list[AuditRecord]:
    """Records of ``kind`` (``command``, ``violation``, or ``*`` for all) since ``since``, oldest first, at most
    the ``limit`` newest."""
    subject = subjects.audit_subject("command" if kind == "command" else f"{kind}.>" if kind != "*" else ">")
    out = []
    for msg in await read_since(js, subjects.AUDIT_STREAM, subject, since, limit):
        try:
            out.append(decode(AuditRecord, msg.data))
        except BadMessage as exc:  # a record some other client put there: shown as what it is
            log.warning("unreadable audit record", seq=msg.metadata.sequence.stream, error=str(exc))
    return out


def is_violation(error: Exception) -> bool:
    return VIOLATION_MARK in str(error).lower()


async def report_violation(nc: Client, reporter: str, error: Exception) -> None:
    """Record a permission violation the server reported on ``nc`` (whose identity is ``reporter``). One about
    the audit subjects themselves is only logged (recording it would meet the same refusal again)."""
    text = str(error).removeprefix("nats: ")
    if subjects.AUDIT in text.lower():
        return
    record = AuditRecord(
        kind="violation",
        at=time.time(),
        subject=_subject_of(text),
        outcome="violation",
        message=text,
        reporter=reporter,
    )
    try:
        await nc.publish(subjects.audit_subject(f"violation.{reporter.partition('@')[0]}"), encode(record))
    except nats.errors.Error as exc:
        log.warning("permission violation not recorded", violation=text, error=str(exc))


def _subject_of(text: str) -> str:
    """The subject a violation message names (``... to "subject"``)."""
    _, quote, rest = text.partition('"')
    return rest.partition('"')[0] if quote else ""
