"""Units of size and the nearest-rank percentile: the one definition every service, the CLI and the simulator
use."""

from __future__ import annotations

import math
from collections.abc import Sequence

MIB = 1 << 20
GIB = 1 << 30


def nearest_rank(count: int, q: float) -> int:
    """The 1-based rank of the nearest-rank ``q``-th percentile (``q`` in 0..100) among ``count`` values: the
    ``ceil(q n / 100)``-th smallest, at least the first; 0 for no values."""
    return max(1, math.ceil(q * count / 100)) if count else 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(nearest_rank(len(ordered), q), len(ordered)) - 1]
