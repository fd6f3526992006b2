"""The README stays a short front door whose commands work, and no link in it or in docs/ points nowhere.

Commands are checked against the CLI's own argparse parser (``agentscaler.services.cli.main.parser``), not
by running them: each ``agentscaler ...`` line in a fenced block of the README must parse, and in docs/ each
one must name a real subcommand and only flags that subcommand accepts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import re
import shlex
import unicodedata
from pathlib import Path

import msgspec
import pytest

from agentscaler.services.cli.main import parser
from agentscaler.shared.messages.pools import POOL_DEFAULTS, PoolConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_LINES = 300
QUICKSTART = [
    "python3 -m pip install . && agentscaler demo",
    "python3 -m pip install '.[test]' && python3 -m pytest",
]

SHELL = ("", "sh", "bash", "shell", "console")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def blocks(text: str, kinds: tuple[str, ...] | None = None) -> list[list[str]]:
    """The lines of each fenced code block, or of those whose info string is one of ``kinds``."""
    found: list[list[str]] = []
    current: list[str] | None = None
    kind = ""
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            if current is None:
                current, kind = [], line.strip()[3:].strip()
            else:
                if kinds is None or kind in kinds:
                    found.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return found


def prose(text: str, *, spans: bool = False) -> str:
    """The text outside fenced code blocks, and outside inline code spans unless ``spans``."""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
        elif not inside:
            kept.append(line if spans else re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def commands(text: str) -> list[str]:
    """Every ``agentscaler ...`` command in the fenced shell blocks (info string ``sh``, ``console`` or none;
    diagrams are ``text``): a block with ``$ `` prompts is a console session (only the prompted lines are
    commands), any other is a script. Continuation lines are joined; ``&&``, ``|`` and ``;`` separate
    commands, and ``#`` starts a comment."""
    found: list[str] = []
    for block in blocks(text, SHELL):
        prompted = any(line.startswith("$ ") for line in block)
        lines: list[str] = []
        for line in block:
            if prompted and not line.startswith("$ "):
                continue
            line = line[2:] if prompted else line
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            else:
                lines.append(line.strip())
        for line in lines:
            try:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                tokens = list(lexer)
            except ValueError:  # an unbalanced quote: not a shell line (e.g. JSON output)
                continue
            segment: list[str] = []
            for token in [*tokens, ";"]:
                if token and set(token) <= set("&|;()<>"):
                    if segment[:1] == ["agentscaler"]:
                        found.append(shlex.join(segment))
                    segment = []
                elif segment or not ASSIGNMENT.match(token):  # skip VAR=value before the command
                    segment.append(token)
    return found


@functools.cache
def cli() -> argparse.ArgumentParser:
    """The CLI's parser, built once: parsing leaves it as it was."""
    return parser()


def subcommand(p: argparse.ArgumentParser, args: list[str]) -> tuple[argparse.ArgumentParser, list[str], str]:
    """The (sub)parser the words of ``args`` lead to, the words left after it, and its name."""
    name = p.prog
    while True:
        actions = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions:
            return p, args, name
        words = [i for i, arg in enumerate(args) if not arg.startswith("-")]
        assert words, f"{name}: no subcommand given"
        choice = args[words[0]]
        choices = actions[0].choices
        assert choice in choices, f"{name}: no subcommand {choice!r}; there are {sorted(choices)}"
        p, args, name = choices[choice], args[words[0] + 1 :], f"{name} {choice}"


def check_flags(command: str) -> argparse.ArgumentParser:
    """Assert that ``command`` names a real subcommand and that every ``--flag`` in it belongs to it."""
    p, rest, name = subcommand(cli(), shlex.split(command)[1:])
    for arg in rest:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            assert flag in p._option_string_actions, f"{command!r}: `{name}` takes no {flag}"
    return p


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_LINES, f"README.md has {lines} lines; keep it to {MAX_LINES} and move detail to docs/"


def test_quickstart_is_the_two_commands() -> None:
    text = README.read_text()
    section = text.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    first = blocks(section)[0]
    assert [line.strip() for line in first if line.strip()] == QUICKSTART


def test_readme_commands_parse() -> None:
    found = commands(README.read_text())
    assert "agentscaler demo" in found
    assert len(found) >= 10, f"the README's tour should show the commands; found only {found}"
    for command in found:
        check_flags(command)
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                cli().parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{command!r} does not parse: {err.getvalue().strip()}")


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_docs_commands_exist(doc: Path) -> None:
    for command in commands(doc.read_text()):
        check_flags(command)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[*`]", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose(path.read_text(), spans=True).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = counts.get(base, 0)
            counts[base] = count + 1
            found.add(f"{base}-{count}" if count else base)
    return found


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda d: d.name)
def test_links_point_somewhere(doc: Path) -> None:
    text = prose(doc.read_text())
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: link to {target} points to no file"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{doc.name}: link to {target}: no such heading in {file.name}"


def pool_settings_table() -> dict[str, str]:
    """docs/cli.md's table of pool settings: each setting's documented default, as written."""
    text = (ROOT / "docs" / "cli.md").read_text()
    table = text[text.index("| Setting | Default | Meaning |") :].split("\n\n", 1)[0]
    rows = (line.split(" | ") for line in table.splitlines()[2:])
    return {row[0].strip("| `"): row[1].strip() for row in rows}


def test_the_pool_settings_table_has_every_field_at_its_default() -> None:
    """The table restates PoolConfig's defaults for readers; it must name every field and agree with them."""
    table = pool_settings_table()
    fields = {f.name for f in msgspec.structs.fields(PoolConfig)} - {"name"}
    assert set(table) == fields
    for field in sorted(fields - {"auto", "env", "hosts"}):
        written = table[field].strip("`").removesuffix(" s")
        assert type(getattr(POOL_DEFAULTS, field))(written) == getattr(POOL_DEFAULTS, field), field
    assert table["env"] == "`{}`" and POOL_DEFAULTS.env == {}
    assert table["hosts"] == "`[]`" and POOL_DEFAULTS.hosts == []
