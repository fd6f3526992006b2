"""Who sent a command, as the server vouches for it: under ``auth init``'s authorization a user may publish
commands on ``<command subject>.as.<its public key>`` only (``shared/auth/roles.py``), so the last token of
the subject a command arrived on is its sender. Pure: subjects and key files in, names out."""

from __future__ import annotations

import re
from pathlib import Path

from ..subjects import ACTOR_MARK
from .inbox import public_key
from .jwt import claims_of, creds_jwt

_TOKEN = re.compile(r"^[^.*>\s]{1,256}$")


class NoActor(ValueError):
    """Credentials from which no actor can be told."""


def actor_of_subject(subject: str) -> str:
    """The actor named by a ``<subject>.as.<actor>`` subject; empty for a bare subject."""
    head, sep, actor = subject.rpartition(f".{ACTOR_MARK}.")
    return actor if sep and head and _TOKEN.match(actor) else ""


def base_subject(subject: str) -> str:
    """``subject`` without its ``.as.<actor>`` part."""
    head, sep, actor = subject.rpartition(f".{ACTOR_MARK}.")
    return head if sep and head and _TOKEN.match(actor) else subject


def usable_actor(name: str) -> bool:
    """Whether ``name`` can be the actor token of a subject (no dots, wildcards or spaces)."""
    return bool(_TOKEN.match(name))


def creds_user(text: str) -> str:
    """The user's public key (the JWT's ``sub``) in a ``.creds`` file's text."""
    try:
        return str(claims_of(creds_jwt(text))["sub"])
    except (ValueError, KeyError) as exc:
        raise NoActor(f"the credentials file's JWT cannot be read: {exc}") from None


def actor_from(*, nkey: str = "", creds: str = "", user: str = "") -> str:
    """The actor a client connecting with these credentials sends commands as: its nkey's or JWT's public key,
    else its user name; empty (bare subjects) when it has none of them."""
    if nkey:
        return public_key(Path(nkey).read_bytes())
    if creds:
        return creds_user(Path(creds).read_text())
    if user and usable_actor(user):
        return user
    return ""
