"""JSON Schema of every message, one file per module of ``shared/messages`` in docs/schema/, for clients in
other languages (generate types from them, or validate against them). The files are generated from the msgspec
types and held to them by a test; regenerate them with ``python3 -m agentscaler.shared.messages.schema``.

Each file's ``$defs`` holds the module's messages, its named unions (``Command``, ``CommandReply``,
``AgentEvent``: tagged by their ``type`` field) and every type they refer to, so each file stands alone. The
fields' docstrings become their ``description``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import msgspec

from . import __name__ as PACKAGE
from . import __path__ as PACKAGE_PATH
from .base import API_VERSION, Message, Tagged
from .fielddocs import field_docs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema"
"""Where the files go: docs/schema/<module>.json."""
COMMAND = "python3 -m agentscaler.shared.messages.schema"


def _is_union_of_messages(value: Any) -> bool:
    if get_origin(value) not in (Union, types.UnionType):
        return False
    return all(isinstance(arg, type) and issubclass(arg, Message) for arg in get_args(value))


def module_types(module: types.ModuleType) -> dict[str, Any]:
    """The messages a module defines, and the unions of messages it names, by name."""
    found: dict[str, Any] = {}
    for name, value in vars(module).items():
        if isinstance(value, type) and issubclass(value, Message) and value.__module__ == module.__name__:
            if value not in (Message, Tagged):
                found[name] = value
        elif _is_union_of_messages(value) and not name.startswith("_"):
            found[name] = value
    return dict(sorted(found.items()))


def _described(defs: dict[str, Any], structs: dict[str, type[msgspec.Struct]]) -> dict[str, Any]:
    """``defs`` with each struct field's docstring as its ``description`` (where msgspec gave none)."""
    for name, schema in defs.items():
        cls = structs.get(name)
        if cls is None:
            continue
        for field, doc in field_docs(cls).items():
            prop = schema.get("properties", {}).get(field)
            if prop is not None and "description" not in prop:
                prop["description"] = doc
    return defs


def module_schema(module: types.ModuleType) -> dict[str, Any] | None:
    """The JSON Schema document of ``module``'s messages; None for a module that defines none."""
    named = module_types(module)
    if not named:
        return None
    schemas, defs = msgspec.json.schema_components(list(named.values()))
    for (name, kind), schema in zip(named.items(), schemas, strict=True):
        if not isinstance(kind, type):  # a union: msgspec gives it inline
            defs[name] = schema
    structs: dict[str, type[msgspec.Struct]] = {}
    for kind in named.values():
        for cls in get_args(kind) or (kind,):
            structs[cls.__name__] = cls
    for cls in list(structs.values()):
        for hint in msgspec.structs.fields(cls):
            for inner in _structs_in(hint.type):
                structs.setdefault(inner.__name__, inner)
    short = module.__name__.rsplit(".", 1)[-1]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"agentscaler/v{API_VERSION}/{short}.json",
        "title": f"agentscaler NATS API v{API_VERSION}: {short}",
        "description": (module.__doc__ or "").strip().split("\n\n")[0],
        "x-api-version": API_VERSION,
        "$defs": dict(sorted(_described(defs, structs).items())),
    }


def _structs_in(hint: Any) -> list[type[msgspec.Struct]]:
    """The structs a field's type mentions (``list[AgentRecord]``, ``Observation | None``, ...)."""
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return [hint, *(inner for f in msgspec.structs.fields(hint) for inner in _structs_in(f.type))]
    return [inner for arg in get_args(hint) for inner in _structs_in(arg)]


def schema_files() -> dict[str, str]:
    """Every file docs/schema/ should hold: name -> text."""
    files = {}
    for info in pkgutil.iter_modules(PACKAGE_PATH):
        module = importlib.import_module(f"{PACKAGE}.{info.name}")
        if info.name == "schema" or (doc := module_schema(module)) is None:
            continue
        files[f"{info.name}.json"] = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return files


def stale(directory: Path = DOCS) -> list[str]:
    """The files in ``directory`` that differ from the code's schemas, are missing, or are left over."""
    expected = schema_files()
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    changed = {name for name, text in expected.items() if name not in present or (directory / name).read_text() != text}
    return sorted(changed | (present - set(expected)))


def write(directory: Path = DOCS) -> list[str]:
    """Write every schema file into ``directory`` (removing left-over ones); the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    touched = stale(directory)
    expected = schema_files()
    for name in touched:
        if name in expected:
            (directory / name).write_text(expected[name])
        else:
            (directory / name).unlink()
    return touched


def main() -> int:
    touched = write()
    print(f"docs/schema: {', '.join(touched) if touched else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
