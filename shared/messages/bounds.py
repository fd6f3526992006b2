"""The range of every number and name a request may carry: one place, read by the messages' fields (as msgspec
constraints, so a value outside is refused at decoding with ``bad_request`` naming the field) and by the API
reference's table of ranges (``bounds_table``), which a test holds to the code."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import msgspec.inspect as mi

from ..subjects import NAME_PATTERN

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

MAX_AGENTS = 100_000
"""The most agents one pool may be configured for."""
HISTORY_DAYS = 15
"""Days of history the policy keeps by default (its ``history_max_age``): the furthest ``optimize`` looks back."""

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
"""A pool or host name: a subject token (1-64 letters, digits, '-' or '_')."""
AgentId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
"""An agent id (``<pool>-<host>-<token>-<n>`` from the actuator): a key token, 1-200 letters, digits, '-' or '_'."""
Pid = Annotated[int, msgspec.Meta(gt=0, le=2**31 - 1)]
Timestamp = Annotated[float, msgspec.Meta(ge=0, le=1e10)]
"""Epoch seconds (up to the year 2286); 0 where a field says it means unknown."""
Tally = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
"""A counter (tasks completed, failed): exact in a float, as JSON readers may hold it."""
BeatInterval = Annotated[float, msgspec.Meta(ge=0, le=300)]
"""An agent's heartbeat interval as it reports it: 0 (unknown) or up to ``PoolConfig.heartbeat_interval``'s
most."""


def bounds_table(*types: type[msgspec.Struct]) -> str:
    """A Markdown table of every constrained field of ``types`` (and of the structs nested in them that are not
    among ``types``): what the services accept. docs/nats-api.md carries it; a test checks it is this output."""
    rows = ["| Message | Field | Accepted |", "| --- | --- | --- |"]
    for kind in types:
        info = mi.type_info(kind)
        assert isinstance(info, mi.StructType)
        rows += [f"| `{kind.__name__}` | `{path}` | {text} |" for path, text in _fields(info, "", types)]
    return "\n".join(rows) + "\n"


def _fields(info: mi.StructType, prefix: str, listed: tuple[type, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for field in info.fields:
        path = prefix + field.encode_name
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        texts = [t for t in (_describe(k) for k in kinds) if t]
        nullable = any(isinstance(k, mi.NoneType) for k in kinds)
        if texts:
            out.append((path, " or ".join(texts) + (" or null" if nullable else "")))
        for kind in kinds:
            if isinstance(kind, mi.StructType) and kind.cls not in listed:
                out += _fields(kind, path + ".", listed)
    return out


def _describe(kind: mi.Type) -> str:
    """``kind``'s constraints in words, "" when it has none worth a row."""
    if isinstance(kind, mi.IntType | mi.FloatType):
        word = "integer" if isinstance(kind, mi.IntType) else "number"
        if kind.ge is not None and kind.le is not None:
            return f"{word} from {number_text(kind.ge)} to {number_text(kind.le)}"
        low = _bound(kind.ge, ">=") or _bound(kind.gt, ">")
        high = _bound(kind.le, "<=") or _bound(kind.lt, "<")
        return f"{word} {low} and {high}" if low and high else f"{word} {low or high}" if low or high else ""
    if isinstance(kind, mi.StrType):
        parts = [f"matching `{kind.pattern}`"] if kind.pattern else []
        parts += [f"at most {kind.max_length} characters"] if kind.max_length is not None else []
        return "text " + ", ".join(parts) if parts else ""
    if isinstance(kind, mi.DictType):
        keys, values = _describe(kind.key_type), _describe(kind.value_type)
        parts = [f"at most {kind.max_length} entries"] if kind.max_length is not None else []
        parts += [f"keys {keys}"] if keys else []
        parts += [f"values {values}"] if values else []
        return "map, " + ", ".join(parts) if parts else ""
    return ""


def _bound(value: float | None, op: str) -> str:
    return "" if value is None else f"{op} {number_text(value)}"


def number_text(value: float) -> str:
    """A bound as people write it: ``1000000``, not ``1e+06``; ``0.5`` stays."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def request_bounds() -> str:
    """The table of every request's ranges, as docs/nats-api.md shows it."""
    from .agents import AgentsQuery, Deregister, Heartbeat, Register
    from .commands import Scale
    from .optimize import Optimize
    from .pools import AutoConfig, PoolConfig
    from .snapshots import StatusQuery

    return bounds_table(
        Scale, PoolConfig, AutoConfig, Optimize, StatusQuery, AgentsQuery, Register, Deregister, Heartbeat
    )


def out_of_range(message: msgspec.Struct) -> str:
    """Why ``message`` (built in code, so never checked) would be refused on the wire; "" when it would not."""
    try:
        msgspec.convert(msgspec.to_builtins(message), type(message))
    except msgspec.ValidationError as exc:
        return str(exc)
    return ""


def into_range(kind: type[msgspec.Struct], data: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """``data`` (a decoded ``kind``, maybe stored by a version with wider ranges) with each number outside its
    field's range moved to the nearest accepted value, nested structs too; and what was moved, in words. Pure."""
    info = mi.type_info(kind)
    assert isinstance(info, mi.StructType)
    return _into(info, data, "")


def _into(info: mi.StructType, data: dict[str, object], prefix: str) -> tuple[dict[str, object], list[str]]:
    out, moved = dict(data), []
    for field in info.fields:
        name = field.encode_name
        if name not in out:
            continue
        value = out[name]
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        for kind in kinds:
            if isinstance(kind, mi.IntType | mi.FloatType) and isinstance(value, int | float) and value is not True:
                fixed = _clamp(kind, value)
                if fixed != value:
                    out[name] = fixed
                    moved.append(f"{prefix}{name} {value!r} -> {fixed!r}")
                break
            if isinstance(kind, mi.StructType) and isinstance(value, dict):
                out[name], inner = _into(kind, value, f"{prefix}{name}.")
                moved += inner
                break
    return out, moved


def _clamp(kind: mi.IntType | mi.FloatType, value: float) -> float:
    integer = isinstance(kind, mi.IntType)
    if kind.ge is not None and value < kind.ge:
        value = kind.ge
    if kind.gt is not None and value <= kind.gt:
        value = kind.gt + 1 if integer else math.nextafter(kind.gt, math.inf)
    if kind.le is not None and value > kind.le:
        value = kind.le
    if kind.lt is not None and value >= kind.lt:
        value = kind.lt - 1 if integer else math.nextafter(kind.lt, -math.inf)
    return int(value) if integer else float(value)
