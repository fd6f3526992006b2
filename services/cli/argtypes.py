"""The command line's argument types: each turns a flag's text into a value or a usage error saying what to give."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .units import parse_duration

MAX_COUNT = 1_000_000


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give a whole number of agents, 0 or more") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give a whole number from 0 to {MAX_COUNT}")
    return value


def _number(text: str, ok: Callable[[float], bool], words: str) -> float:
    """``text`` as a finite number that is ``ok``; else a usage error asking for ``words``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give {words}") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give {words}")
    return value


def positive(text: str) -> float:
    return _number(text, lambda v: v > 0, "a positive number")


def nonnegative(text: str) -> float:
    """A price: 0 or more, e.g. ``--cost-per-agent-hour 0.12``."""
    return _number(text, lambda v: v >= 0, "a number, 0 or more")


def fraction(text: str) -> float:
    """A share above 0 and at most 1, e.g. ``--utilization 0.8``."""
    value = positive(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"bad share {text!r}: give a number above 0 and at most 1")
    return value


def names(text: str) -> list[str]:
    """A comma-separated list, e.g. ``--hosts gpu-*,zone=eu``; empty for none."""
    return [item.strip() for item in text.split(",") if item.strip()]


def since(text: str) -> float:
    """A duration such as ``24h``, ``90m`` or ``3600`` (seconds)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
