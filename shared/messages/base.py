"""The base of every wire message."""

from __future__ import annotations

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A message: frozen, keyword-only, JSON on the wire."""


class Tagged(Message, frozen=True, kw_only=True, tag_field="type"):
    """A member of a tagged union: its ``type`` field names the variant (snake_case class name)."""
