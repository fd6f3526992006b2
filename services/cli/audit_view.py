"""``agentscaler audit`` for people: one line a record."""

from __future__ import annotations

import json
import time

from agentscaler.shared.messages.audit import AuditRecord

REQUEST_SHOWN = 160
"""Characters of a request shown on its line (``--json`` has it whole)."""


def who(record: AuditRecord) -> str:
    """The actor as a person reads it: its role name and the start of its key, or "anonymous"."""
    if not record.actor:
        return "anonymous"
    key = record.actor if len(record.actor) <= 12 else f"{record.actor[:8]}…"
    return f"{record.actor_name} ({key})" if record.actor_name else key


def render_audit(record: AuditRecord) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.at))
    if record.kind == "violation":
        return f"{stamp} violation  {record.reporter:<24} {record.message}"
    request = record.request if isinstance(record.request, str) else json.dumps(record.request, separators=(",", ":"))
    if len(request) > REQUEST_SHOWN:
        request = request[: REQUEST_SHOWN - 1] + "…"
    outcome = record.outcome if record.outcome == "ok" else f"{record.outcome}: {record.message}"
    done = f" -> {record.message}" if record.outcome == "ok" and record.message else ""
    return f"{stamp} {record.command or '?':<10} {who(record):<24} {outcome}{done}  {request}"
