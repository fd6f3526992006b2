"""``agentscaler pool set``'s flags, one per ``PoolConfig`` field, made from the field's type, default and
docstring: a new pool setting gets its flag and its help without anyone having to remember them."""

from __future__ import annotations

import argparse
from typing import Any, Literal, get_args, get_origin

import msgspec
import msgspec.inspect as mi

from agentscaler.shared.messages.fielddocs import field_docs
from agentscaler.shared.messages.pools import POOL_DEFAULTS, PoolConfig

from .argtypes import count, names, nonnegative, positive

NOT_FLAGS = {
    "name": "the pool's name is the positional NAME",
    "auto": "set by `agentscaler auto` (and `optimize --apply`), which take the auto settings as a whole",
}
"""``PoolConfig`` fields without a ``pool set`` flag, and why."""


def flag_fields() -> list[str]:
    """The ``PoolConfig`` fields that ``pool set`` takes as flags, in declaration order."""
    return [f.name for f in msgspec.structs.fields(PoolConfig) if f.name not in NOT_FLAGS]


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_pool_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every settable ``PoolConfig`` field. Each defaults to None, so an option not given leaves
    the pool's current value alone; its help is the field's docstring and its default."""
    kinds = {f.name: f.type for f in _struct_info().fields}
    annotations = {f.name: f.type for f in msgspec.structs.fields(PoolConfig)}
    for name in flag_fields():
        options = _options(name, kinds[name], annotations[name])
        parser.add_argument(flag(name), dest=name, help=flag_help(name), **options)


def flag_help(field: str) -> str:
    """The field's docstring, then its default if that is a single value (``%`` escaped for argparse)."""
    text = field_docs(PoolConfig).get(field, "")
    default = getattr(POOL_DEFAULTS, field)
    if isinstance(default, str | int | float):
        text = f"{text} (default: {default})"
    return text.replace("%", "%%")


def _struct_info() -> mi.StructType:
    info = mi.type_info(PoolConfig)
    assert isinstance(info, mi.StructType)
    return info


def _options(name: str, kind: mi.Type, annotation: Any) -> dict[str, Any]:
    """How the flag of field ``name`` parses its text. Counts, prices and durations get the CLI's argument
    types (out-of-range values are then refused by ``PoolConfig``'s own constraints, with the field named)."""
    if isinstance(kind, mi.IntType):
        return {"type": count}
    if isinstance(kind, mi.FloatType) and (kind.gt == 0 or (kind.ge or 0) > 0):
        return {"type": positive}  # a duration; its range is checked by the field's constraints
    if isinstance(kind, mi.FloatType) and kind.ge == 0:
        return {"type": nonnegative}
    if isinstance(kind, mi.StrType):
        return {}
    if isinstance(kind, mi.LiteralType) and get_origin(annotation) is Literal:
        return {"choices": list(get_args(annotation))}  # in the order written, the default first
    if isinstance(kind, mi.BoolType):
        return {"action": argparse.BooleanOptionalAction}
    if isinstance(kind, mi.ListType):
        return {"type": names, "metavar": "A,B"}  # the whole list, comma-separated; '' for none
    if isinstance(kind, mi.DictType) and isinstance(kind.key_type, mi.StrType):
        return {"action": "append", "metavar": "KEY=VALUE"}  # repeated, added to the pool's mapping
    raise TypeError(f"PoolConfig.{name}: no `pool set` flag for a {kind!r}; give it one here or list it in NOT_FLAGS")
