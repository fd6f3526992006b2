"""Audit records (stream ``agentscaler-audit``): every command the policy received, and the permission
violations that services' and agents' own connections met."""

from __future__ import annotations

from typing import Any, Literal

from .base import Message

AuditKind = Literal["command", "violation"]
ANONYMOUS = ""
"""The actor of a command sent on a bare command subject: nobody the server vouched for."""


class AuditRecord(Message, frozen=True, kw_only=True):
    kind: AuditKind
    at: float
    subject: str
    """The subject the command arrived on (``.as.<actor>`` included), or the one a violation was about."""
    actor: str = ANONYMOUS
    """Who sent the command, as the server vouched for it: the user (its public key, or its name on servers
    that name users) from the ``.as.<actor>`` subject it was allowed to publish on; empty for a bare subject."""
    actor_name: str = ""
    """The role ``auth init`` made that user for, when the policy knows it (setting ``actors``)."""
    command: str = ""
    """The request's ``type`` (``scale``, ``set_pool``, ``optimize``...); empty when it did not decode."""
    pool: str = ""
    request: Any = None
    """The request as received (JSON; pool ``env`` values masked), or its first bytes as text when it was not
    JSON."""
    outcome: str
    """``ok``, or the error code of the reply (``bad_request``, ``refused``...); ``violation`` for violations."""
    message: str = ""
    """What the reply said: the error message, or what the command did."""
    trace_id: str = ""
    reporter: str = ""
    """Violations: the identity whose connection met it (``policy@host``, an agent id)."""
