"""The chat grammar: a command line as typed in chat (``up 5 --pool x``, ``status``) into the command it asks
for, or a one-line usage text. Pure: text in, a :class:`ChatLine` or :class:`ChatUsage` out."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from agentscaler.shared.messages.commands import Command, ListPools, Scale, SetMode
from agentscaler.shared.messages.pools import DEFAULT_POOL

USAGE = (
    "usage: up N [--pool P] | down N [--pool P] | auto [--pool P] | manual [--pool P] | status [--pool P] "
    "| pools | help"
)
HELP = "\n".join(
    [
        "up N [--pool P]     scale a manual pool up to N agents",
        "down N [--pool P]   scale a manual pool down to N agents",
        "auto [--pool P]     hand the pool to the policy",
        "manual [--pool P]   take the pool back at its current size",
        "status [--pool P]   agents, queue and hosts, in short",
        "pools               the pools, their mode and desired count",
        "help                this text",
        "(P is 'default' when not given)",
    ]
)
VERBS = ("up", "down", "auto", "manual", "status", "pools", "help")
MAX_COUNT = 1_000_000


class ChatUsage(ValueError):
    """A line that is not a chat command: its message says what was wrong, then the usage, on one line."""


@dataclass(frozen=True)
class ChatLine:
    verb: str
    pool: str | None = None
    """The pool named with ``--pool``; None when not named."""
    count: int = 0

    @property
    def kind(self) -> str | None:
        """The command ``type`` whose permission the line needs; None for ``help``, which anyone may ask."""
        return {"up": "scale", "down": "scale", "auto": "set_mode", "manual": "set_mode"}.get(
            self.verb, {"status": "get_pool", "pools": "list_pools"}.get(self.verb)
        )

    def command(self) -> Command | None:
        """The policy command the line sends; None for ``status`` (the monitor's) and ``help``."""
        pool = self.pool or DEFAULT_POOL
        if self.verb in ("up", "down"):
            return Scale(pool=pool, direction=self.verb, count=self.count)  # type: ignore[arg-type]
        if self.verb in ("auto", "manual"):
            return SetMode(pool=pool, mode=self.verb)  # type: ignore[arg-type]
        if self.verb == "pools":
            return ListPools()
        return None


def _bad(what: str) -> ChatUsage:
    return ChatUsage(f"{what}; {USAGE}")


def parse(text: str) -> ChatLine:
    """The chat command ``text`` asks for; :class:`ChatUsage` saying what is wrong otherwise."""
    try:
        words = shlex.split(text.strip())
    except ValueError as exc:
        raise _bad(f"cannot read the line ({exc})") from None
    if not words:
        raise _bad("empty command")
    verb, rest = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise _bad(f"unknown command {words[0][:40]!r}")
    pool, args = _pool_option(rest)
    if verb in ("up", "down"):
        if len(args) != 1:
            raise _bad(f"{verb} takes one count")
        if not args[0].isdigit() or int(args[0]) > MAX_COUNT:
            raise _bad(f"count {args[0][:20]!r} must be a whole number 0-{MAX_COUNT}")
        return ChatLine(verb, pool, int(args[0]))
    if args:
        raise _bad(f"{verb} takes no argument {args[0][:40]!r}")
    if verb in ("pools", "help") and pool is not None:
        raise _bad(f"{verb} takes no --pool")
    return ChatLine(verb, pool)


def _pool_option(words: list[str]) -> tuple[str | None, list[str]]:
    """The ``--pool P`` (``--pool=P``, ``-p P``) among ``words``, and the other words."""
    pool: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("--pool", "-p"):
            if i + 1 >= len(words):
                raise _bad(f"{word} needs a pool name")
            value, i = words[i + 1], i + 2
        elif word.startswith("--pool="):
            value, i = word.removeprefix("--pool="), i + 1
        elif word.startswith("-") and not word.lstrip("-").isdigit():
            raise _bad(f"unknown option {word[:40]!r}")
        else:
            rest.append(word)
            i += 1
            continue
        if pool is not None:
            raise _bad("--pool given twice")
        pool = value
    return pool, rest
