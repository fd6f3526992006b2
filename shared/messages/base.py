"""The base of every wire message."""

from __future__ import annotations

import msgspec

API_VERSION = "1"
"""The version of the wire contract (docs/nats-api.md's title, each micro service's ``api_version`` metadata,
docs/schema/). Within a version fields are only added; a field removed or retyped makes the next version."""


class Message(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A message: frozen, keyword-only, JSON on the wire."""


class Tagged(Message, frozen=True, kw_only=True, tag_field="type"):
    """A member of a tagged union: its ``type`` field names the variant (snake_case class name)."""
