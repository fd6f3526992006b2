"""The policy decision core stays pure. import-linter cannot forbid stdlib modules, so read the imports here."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import agentscaler.services.policy.core as core

FORBIDDEN = {"time", "datetime", "asyncio", "random", "os", "nats", "psutil", "structlog", "opentelemetry"}
FORBIDDEN_PROJECT = ("agentscaler.shared.bus", "agentscaler.shared.telemetry", "agentscaler.shared.settings")
CORE = sorted(Path(core.__path__[0]).rglob("*.py"))


def imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against ``package``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            relative = "." * node.level + (node.module or "")
            base = importlib.util.resolve_name(relative, package) if node.level else relative
            names.add(base)
            # ``from pkg import mod`` may import a submodule.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def violations(names: set[str]) -> set[str]:
    return {
        n
        for n in names
        if n.split(".")[0] in FORBIDDEN or any(n == f or n.startswith(f + ".") for f in FORBIDDEN_PROJECT)
    }


def test_the_core_has_modules_to_check():
    assert {p.name for p in CORE} >= {"__init__.py", "capacity.py", "decide.py", "scaling.py"}


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path):
    assert violations(imports(path, core.__name__)) == set()


def test_core_is_pure_through_the_project_modules_it_imports():
    """The messages the core decodes count too: walk every agentscaler module reachable from the core."""
    seen: set[str] = set()
    todo = [(p, core.__name__) for p in CORE]
    reached: set[str] = set()
    while todo:
        path, package = todo.pop()
        if str(path) in seen:
            continue
        seen.add(str(path))
        names = imports(path, package)
        assert violations(names) == set(), path
        for name in names:
            if not name.startswith("agentscaler.") or name in reached:
                continue
            reached.add(name)
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:  # ``from module import Name``: Name is no module
                continue
            if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
                continue
            origin = Path(spec.origin)
            todo.append((origin, name if origin.name == "__init__.py" else name.rpartition(".")[0]))
    assert "agentscaler.shared.messages.pools" in reached  # the walk went past the core


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("import time", "time"),
        ("import os.path", "os.path"),
        ("from datetime import datetime", "datetime"),
        ("from nats.aio import client", "nats.aio"),
        ("import opentelemetry.trace as t", "opentelemetry.trace"),
        ("from agentscaler.shared.bus import rpc", "agentscaler.shared.bus"),
        ("from ....shared.telemetry import logging", "agentscaler.shared.telemetry"),
    ],
)
def test_the_checker_catches_impure_imports(tmp_path, source, caught):
    """The guard itself: a forbidden import written any of these ways is reported."""
    path = tmp_path / "mod.py"
    path.write_text(source + "\n")
    assert caught in violations(imports(path, core.__name__))
