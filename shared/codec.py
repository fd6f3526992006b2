"""Encoding and decoding at the edge: one Decoder per message type, errors that say what was wrong."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class BadMessage(ValueError):
    """A message that does not decode into the type its subject carries."""


def encode(msg: Any) -> bytes:
    return _encoder.encode(msg)


@cache
def decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    """The one Decoder for ``kind`` (a Struct type or a union of them)."""
    return msgspec.json.Decoder(kind)


def decode(kind: type[T] | Any, data: bytes) -> T:
    """Decode ``data`` as ``kind`` or raise :class:`BadMessage` naming the type and the problem."""
    try:
        return decoder(kind).decode(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise BadMessage(f"invalid {_name(kind)}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadMessage(f"malformed JSON for {_name(kind)}: {exc}") from None


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("agentscaler.shared.messages.", "")
