"""Encoding and decoding at the edge: one Decoder per message type, errors that say what was wrong."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from .validation_errors import explain, name_of

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class BadMessage(ValueError):
    """A message that does not decode into the type its subject carries. ``problem`` is what was wrong, in
    the message's own terms (the field path and the problem), without the message's name."""

    def __init__(self, message: str, problem: str = "") -> None:
        super().__init__(message)
        self.problem = problem or message


def encode(msg: Any) -> bytes:
    return _encoder.encode(msg)


@cache
def decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    """The one Decoder for ``kind`` (a Struct type or a union of them)."""
    return msgspec.json.Decoder(kind)


def decode(kind: type[T] | Any, data: bytes) -> T:
    """Decode ``data`` as ``kind`` or raise :class:`BadMessage` naming the message and the problem."""
    try:
        return decoder(kind).decode(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        problem = explain(kind, data, str(exc))
        raise BadMessage(f"invalid {name_of(kind)}: {problem}", problem) from None
    except msgspec.DecodeError as exc:
        problem = f"the body is not valid JSON ({exc}): send a JSON object"
        raise BadMessage(f"malformed JSON for {name_of(kind)}: {exc}", problem) from None
