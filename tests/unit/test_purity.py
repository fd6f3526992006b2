"""The pure modules stay pure: the modules of pyproject.toml's "pure decision modules" contract, read from it so
that the two lists cannot drift. import-linter cannot forbid stdlib modules, so read the imports here."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"time", "datetime", "asyncio", "random", "os", "nats", "psutil", "structlog", "opentelemetry"}
FORBIDDEN_PROJECT = ("agentscaler.shared.bus", "agentscaler.shared.telemetry", "agentscaler.shared.settings")


def pure_modules() -> list[str]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"].startswith("the pure decision modules")]
    return contract["source_modules"]


def files(name: str) -> list[tuple[Path, str]]:
    """Each file of module or package ``name``, with the package its relative imports resolve against."""
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):
        return [(p, name) for p in sorted(Path(module.__path__[0]).rglob("*.py"))]
    return [(Path(module.__file__ or ""), name.rpartition(".")[0])]


PURE = [entry for name in pure_modules() for entry in files(name)]


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


def test_the_pure_packages_have_modules_to_check():
    names = {p.name for p, _ in PURE}
    assert names >= {"decide.py", "scaling.py", "simulate.py", "trial.py", "workload.py", "metrics.py", "search.py"}
    assert names >= {"table.py", "plan.py", "cgroupplan.py", "room.py", "ledger.py", "capacity.py", "numbers.py"}


@pytest.mark.parametrize(("path", "package"), PURE, ids=lambda v: v.name if isinstance(v, Path) else "")
def test_pure_module_imports_nothing_impure(path, package):
    assert violations(imports(path, package)) == set()


def test_the_pure_modules_are_pure_through_the_project_modules_they_import():
    """The messages they decode count too: walk every agentscaler module reachable from them."""
    seen: set[str] = set()
    todo = list(PURE)
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
    assert caught in violations(imports(path, "agentscaler.services.policy.core"))
