"""docs/nats-api.md and docs/schema/ held to the messages: the schema files are the code's, the API version is
the page's, and every JSON example on the page decodes as the message it shows, with no field the message lacks."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentscaler.shared import messages
from agentscaler.shared.codec import decode
from agentscaler.shared.messages.agents import AgentList, Deregister, Heartbeat, Register
from agentscaler.shared.messages.base import API_VERSION, Tagged
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pool_events import PoolConverged, PoolRefused, PoolStuck
from agentscaler.shared.messages.schema import COMMAND, stale
from agentscaler.shared.messages.snapshots import Snapshot
from agentscaler.shared.messages.tasks import TaskResult

API = Path(__file__).resolve().parents[2] / "docs" / "nats-api.md"
SCHEMA = API.parent / "schema"
"""This checkout's docs/schema/ (the package's own default points next to where it is installed)."""

HEADING_TYPES: dict[str, tuple[type, ...]] = {
    "### `agentscaler.status`": (Snapshot,),
    "### `agentscaler.registry.agents`": (AgentList,),
    "### `agentscaler.agent.register` and `agentscaler.agent.deregister`": (Register, Deregister),
    "### `agentscaler.agent.hb.<pool>`": (Heartbeat,),
    "### `agentscaler.evt.decision.<pool>`": (DecisionEvent,),
    "### `agentscaler.evt.pool.<kind>.<pool>`": (PoolConverged, PoolStuck, PoolRefused),
    "### Results": (TaskResult,),
}
"""The messages an example without a ``type`` tag may show, by the heading (its start) it is under."""
ELIDED = "..."
"""A key an example uses to say "and the other fields"."""


def tagged() -> dict[str, list[type]]:
    """Every tagged message by its ``type``."""
    for info in pkgutil.iter_modules(messages.__path__):
        importlib.import_module(f"{messages.__name__}.{info.name}")
    found: dict[str, list[type]] = {}
    todo = list(Tagged.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found.setdefault(str(cls.__struct_config__.tag), []).append(cls)
    return found


def examples() -> list[tuple[int, str, str]]:
    """Each ```json block of the page: its line, the heading it is under and its text."""
    found, heading, block, start = [], "", None, 0
    for number, line in enumerate(API.read_text().splitlines(), 1):
        if block is not None:
            if line.startswith("```"):
                found.append((start, heading, "\n".join(block)))
                block = None
            else:
                block.append(line)
        elif line.startswith("```json"):
            block, start = [], number
        elif re.match(r"#{2,3} ", line):
            heading = line
    return found


def unknown_keys(example: Any, decoded: Any, path: str = "$") -> list[str]:
    """The keys of ``example`` that decoding dropped (fields the message does not have), as paths."""
    if isinstance(example, dict) and isinstance(decoded, dict):
        return [
            bad
            for key, value in example.items()
            if key != ELIDED
            for bad in ([f"{path}.{key}"] if key not in decoded else unknown_keys(value, decoded[key], f"{path}.{key}"))
        ]
    if isinstance(example, list) and isinstance(decoded, list):
        return [
            bad
            for i, pair in enumerate(zip(example, decoded, strict=True))
            for bad in unknown_keys(*pair, f"{path}[{i}]")
        ]
    return []


def candidates(heading: str, example: Any) -> tuple[type, ...]:
    if isinstance(example, dict) and "type" in example:
        return tuple(tagged().get(example["type"], ()))
    return next((types for start, types in HEADING_TYPES.items() if heading.startswith(start)), ())


def test_schema_files_are_the_codes() -> None:
    assert stale(SCHEMA) == [], f"docs/schema/ differs from the messages: regenerate it with `{COMMAND}`"


def test_the_api_page_names_the_api_version() -> None:
    assert f"v{API_VERSION}" in API.read_text().splitlines()[0]


@pytest.mark.parametrize(("line", "heading", "text"), examples(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_each_json_example_decodes_as_its_message(line: int, heading: str, text: str) -> None:
    example = json.loads(text)
    kinds = candidates(heading, example)
    assert kinds, f"nats-api.md:{line}: no message for this example: tag it with `type` or map {heading!r}"
    problems = []
    for kind in kinds:
        try:
            decoded = msgspec.to_builtins(decode(kind, text.encode()))
        except Exception as exc:
            problems.append(f"{kind.__name__}: {exc}")
            continue
        extra = unknown_keys(example, decoded)
        if not extra:
            return
        problems.append(f"{kind.__name__} has no field {', '.join(extra)}")
    pytest.fail(f"nats-api.md:{line} is stale: " + "; ".join(problems))


def test_examples_are_found() -> None:
    assert len(examples()) >= 20  # the parser still sees the page's blocks
