"""What was wrong with a message that did not validate, in the message's own terms: the field path and the
problem (e.g. 'count' must be an integer from 0 to 1000000 (got "ten"), or unknown command type "scal": use one
of scale, set_pool, ...), not msgspec's or Python's type names. Pure: built from the expected type, the body
sent and msgspec's error."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import msgspec.inspect as mi

from .messages.bounds import number_text

_ERROR = re.compile(r"^(?P<what>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_NOTHING = object()
GOT_CHARS = 40
"""The most characters of a wrong value an error quotes."""


def name_of(kind: Any) -> str:
    """The message's documented name: a Struct's class name, or the name a union is given in its module
    (``Command``, ``AgentEvent``)."""
    if isinstance(kind, type):
        return kind.__name__
    members = getattr(kind, "__args__", ())
    for member in members:
        module = sys.modules.get(getattr(member, "__module__", ""))
        for name, value in vars(module).items() if module else ():
            if value == kind and not name.startswith("_"):
                return name
    return "message"


def explain(kind: Any, data: bytes, error: str) -> str:
    """The problem msgspec's ``error`` found in ``data`` (which was decoded as ``kind``), in words."""
    found = _ERROR.match(error)
    what, path = (found["what"], found["path"] or "") if found else (error, "")
    steps = [(m[1], m[2]) for m in _STEP.finditer(path)]
    try:
        body: Any = json.loads(data)  # more lenient than msgspec: NaN, say, later in the body
    except ValueError:
        body = _NOTHING
    where, got = _resolve(mi.type_info(kind), body, steps), _value(body, steps)
    shown = _shown(path)
    if (missing := _MISSING.match(what)) is not None:
        field = missing["field"]
        inner = _resolve(mi.type_info(kind), body, [*steps, (field, None)])
        choices = _tags(where)
        if field == "type" and choices:
            return f"`type` is required: use one of {', '.join(choices)}"
        needs = f" ({_describe(inner)})" if inner is not None else ""
        return f"`{_join(shown, field)}` is required{needs}"
    parent = _resolve(mi.type_info(kind), body, steps[:-1]) if steps else None
    if steps and steps[-1][0] == "type" and isinstance(parent, mi.UnionType) and (choices := _tags(parent)):
        return f"unknown {_noun(name_of(kind))} type {_quote(got)}: use one of {', '.join(choices)}"
    if found and found["key"] and isinstance(where, mi.DictType):
        return f"the keys of `{shown}` must be {_describe(where.key_type)}"
    if where is None:  # a path the message's types do not lead to (not expected): msgspec's words, plainer
        said = what.replace("`", "")
        return f"`{shown}` is not valid: {said}" if shown else said
    subject = f"`{shown}`" if shown else "the body"
    return f"{subject} must be {_describe(where)}" + (f" (got {_quote(got)})" if got is not _NOTHING else "")


Steps = list[tuple[str | None, str | None]]
"""A path into a message: (field, None) or (None, list index or ``...`` for a dict's value)."""


def _resolve(info: mi.Type, body: Any, steps: Steps) -> mi.Type | None:
    """The type expected at ``steps`` into ``info`` (``body`` picks the variants of tagged unions)."""
    for at, (field, index) in enumerate(steps):
        info = _variant(info, _value(body, steps[:at]))
        if field is not None and isinstance(info, mi.StructType):
            if field == info.tag_field:
                return mi.LiteralType((info.tag,))
            match = [f for f in info.fields if f.encode_name == field]
            if not match:
                return None
            info = match[0].type
        elif index is not None and isinstance(info, mi.ListType | mi.SetType | mi.VarTupleType):
            info = info.item_type
        elif index is not None and isinstance(info, mi.DictType):
            info = info.value_type
        else:
            return None
    return info


def _value(body: Any, steps: Steps) -> Any:
    """The value ``body`` has at ``steps`` (``_NOTHING`` if none, or not known)."""
    for field, index in steps:
        if field is not None and isinstance(body, dict) and field in body:
            body = body[field]
        elif index is not None and index.isdigit() and isinstance(body, list) and int(index) < len(body):
            body = body[int(index)]
        else:
            return _NOTHING
    return body


def _variant(info: mi.Type, body: Any) -> mi.Type:
    """The member of a union ``body`` is for: by its tag, else the one that is not null."""
    if not isinstance(info, mi.UnionType):
        return info
    structs = [t for t in info.types if isinstance(t, mi.StructType)]
    tag = body.get(structs[0].tag_field) if structs and isinstance(body, dict) and structs[0].tag_field else None
    for t in structs:
        if t.tag is not None and t.tag == tag:
            return t
    others = [t for t in info.types if not isinstance(t, mi.NoneType)]
    return others[0] if len(others) == 1 else info


def _tags(info: mi.Type | None) -> list[str]:
    """The variants' tags when ``info`` is a tagged union (or a tagged struct)."""
    members = info.types if isinstance(info, mi.UnionType) else (info,) if info is not None else ()
    return [str(t.tag) for t in members if isinstance(t, mi.StructType) and t.tag is not None]


def _describe(info: mi.Type) -> str:
    """What a value of ``info`` is, in words."""
    if isinstance(info, mi.UnionType):
        kinds = " or ".join(dict.fromkeys(_describe(t) for t in info.types if not isinstance(t, mi.NoneType)))
        return kinds + (", or null" if any(isinstance(t, mi.NoneType) for t in info.types) else "")
    if isinstance(info, mi.IntType):
        return "an integer" + range_text(info)
    if isinstance(info, mi.FloatType):
        return "a number" + range_text(info)
    if isinstance(info, mi.StrType):
        return "text" + _length(info)
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in info.values) if len(info.values) > 1 else _quote(info.values[0])
    if isinstance(info, mi.BoolType):
        return "true or false"
    if isinstance(info, mi.NoneType):
        return "null"
    if isinstance(info, mi.ListType | mi.SetType | mi.VarTupleType | mi.TupleType):
        return "a list"
    if isinstance(info, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return "an object"
    return "a value of another kind"


def range_text(info: mi.IntType | mi.FloatType) -> str:
    """A number's accepted range in words, led by a space (" from 1 to 10", " above 0"); "" when unbounded."""
    ge, gt, le, lt = ("" if v is None else number_text(v) for v in (info.ge, info.gt, info.le, info.lt))
    low = f"at least {ge}" if ge else f"above {gt}" if gt else ""
    high = f"at most {le}" if le else f"below {lt}" if lt else ""
    if ge and le:
        return f" from {ge} to {le}"
    return " " + " and ".join(p for p in (low, high) if p) if low or high else ""


def _length(info: mi.StrType) -> str:
    low, high = info.min_length, info.max_length
    if info.pattern and (simple := _SIMPLE.match(info.pattern)):
        low, high = int(simple["low"]), int(simple["high"])
        chars = _characters(simple["chars"])
        return f" of {low}-{high} {chars}" if low else f" of at most {high} {chars}"
    size = f" of {low or 0}-{high} characters" if high is not None else f" of at least {low} characters" if low else ""
    return size + (f" matching {info.pattern}" if info.pattern else "")


_SIMPLE = re.compile(r"^\^\[(?P<chars>[^\]]*(?:\\\][^\]]*)*)\]\{(?P<low>\d+),(?P<high>\d+)\}\$$")
"""A pattern of one character class repeated a bounded number of times, e.g. ``^[A-Za-z0-9_-]{1,64}$``."""
_RANGES = {"A-Z": "", "a-z": "letters", "0-9": "digits"}


def _characters(chars: str) -> str:
    """A regular expression's character class in words: ``A-Za-z0-9_-`` -> ``letters, digits, _ or -``."""
    if chars.startswith("^"):
        return "characters" + (" (no NUL)" if chars == "^\\x00" else f" (none of {chars[1:]})")
    words = [w for r, w in _RANGES.items() if r in chars and w]
    rest = chars
    for r in _RANGES:
        rest = rest.replace(r, "")
    singles = list(dict.fromkeys(rest.replace("\\", "")))
    parts = words + singles
    return "characters: " + (", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0])


def _shown(path: str) -> str:
    return path.removeprefix(".")


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _noun(name: str) -> str:
    """``AgentEvent`` -> ``agent event``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _quote(value: Any) -> str:
    """A value as JSON, cut short if long."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) or value == value else "NaN"
    return text if len(text) <= GOT_CHARS else text[: GOT_CHARS - 3] + "..."
