"""Durations in words, and read from the command line."""

from __future__ import annotations

import math

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration(seconds: float) -> str:
    """``seconds`` in the largest whole units that fit: 42s, 5m 3s, 2h 10m, 1d 2h."""
    s = int(seconds)
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if s >= size:
            rest = (s % size) // subsize
            return f"{s // size}{unit}" + (f" {rest}{sub}" if rest else "")
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"


def parse_duration(text: str) -> float:
    """``text`` as seconds: a number with an optional unit (``90``, ``90s``, ``15m``, ``24h``, ``7d``);
    ValueError saying what is expected otherwise."""
    body = text.strip().lower()
    scale = UNITS.get(body[-1:])
    number = body[:-1] if scale is not None else body
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        raise ValueError(f"bad duration {text!r}: give seconds, or a number with s, m, h or d (e.g. 24h)") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"bad duration {text!r}: give a positive duration (e.g. 30m or 24h)")
    return value
