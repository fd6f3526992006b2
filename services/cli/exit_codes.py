"""The CLI's exit statuses: one per class of failure, so that a script can tell "the policy said no" from "no
such pool" from "nothing is running" without reading the message. docs/cli.md documents this table."""

from __future__ import annotations

from typing import Literal

import msgspec

from agentscaler.shared.errors import (
    AgentscalerError,
    CredentialsRefused,
    NatsUnavailable,
    NoResponders,
    RequestTimedOut,
    TimedOut,
)
from agentscaler.shared.settings import SettingsError

from .auth import EXIT_DENIED, PermissionDenied

ErrorClass = Literal["failed", "usage", "refused", "not_found", "unavailable", "internal", "timeout", "permission"]

EXIT: dict[ErrorClass, int] = {
    "failed": 1,  # a task that failed, a pool the hosts cannot run, any other error
    "usage": 2,  # what argparse exits with; also bad input the command found (malformed JSON, bad settings)
    "refused": 3,  # the policy understood the command and declined it
    "not_found": 4,  # unknown pool or host
    "unavailable": 69,  # sysexits EX_UNAVAILABLE: no NATS server, or no service listening
    "internal": 70,  # sysexits EX_SOFTWARE: a service failed handling the command
    "timeout": 75,  # sysexits EX_TEMPFAIL: what was waited for did not happen in time; try again
    "permission": EXIT_DENIED,  # sysexits EX_NOPERM: the credentials' role does not allow the command
}
"""Exit status of each class of failure; 0 is success and 130 an interrupt (Ctrl-C)."""

POLICY_CODES: dict[str, ErrorClass] = {
    "bad_request": "usage",
    "unknown_pool": "not_found",
    "unknown_host": "not_found",
    "refused": "refused",
    "conflict": "refused",
    "too_little_history": "refused",
    "internal": "internal",
}
"""The class of each ``Error.code`` a service answers with (shared/messages/commands.py)."""


class BadInput(AgentscalerError):
    """Input the user has to fix (malformed JSON, missing payload...)."""


CLIENT_ERRORS: tuple[tuple[type[Exception], ErrorClass], ...] = (
    (PermissionDenied, "permission"),
    (CredentialsRefused, "permission"),  # before NatsUnavailable: it is one
    (RequestTimedOut, "timeout"),  # before NoResponders: it is one
    (TimedOut, "timeout"),
    (NatsUnavailable, "unavailable"),
    (NoResponders, "unavailable"),
    (BadInput, "usage"),
    (SettingsError, "usage"),
    (ValueError, "usage"),  # a bad pool name, say
)
"""The class of the errors the CLI meets on its side, first match wins; other agentscaler errors are ``failed``."""


class Failure(msgspec.Struct, frozen=True):
    """An error as a script sees it: ``code`` (the service's ``Error.code`` when it gave one, else the class),
    the message, and the exit status."""

    code: str
    message: str
    exit: int


def classify(exc: Exception) -> Failure:
    """The code, message and exit status of a command's error."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in POLICY_CODES:
        return Failure(code, str(exc), EXIT[POLICY_CODES[code]])
    kind: ErrorClass = next((kind for cls, kind in CLIENT_ERRORS if isinstance(exc, cls)), "failed")
    return Failure(kind, str(exc), EXIT[kind])


def error_json(failure: Failure) -> bytes:
    """What ``--json`` prints for an error: ``{"error": {"code": ..., "message": ...}}``."""
    return msgspec.json.encode({"error": {"code": failure.code, "message": failure.message}})


def result_exit(state: str, waited: bool) -> int:
    """``result``'s exit status: 0 for a done task, ``failed`` for a failed one, ``timeout`` for one still
    pending after ``--wait`` (without it, pending is an answer: 0)."""
    if state == "failed":
        return EXIT["failed"]
    if state == "pending" and waited:
        return EXIT["timeout"]
    return 0
