"""The recurring shape of a pool's load: the agents it needed in each slot of a season (its period).

The season is divided into whole slots of about ``SLOT`` seconds (at least ``MIN_SLOTS`` of them), so the slots
tile the season exactly whatever its length and a slot falls at the same moment of every season. Each slot keeps
the mean demand seen in it, blended over seasons (the last season weighs ``BLEND``). The mean, not the peak: the
peak of a slot is its noise at its highest, and a floor there would keep idle agents all slot long; the live
rules follow the noise within seconds. A slot predicts only once it has been seen in an earlier season, so the
first season only learns. The prediction for a moment is the largest learned level from then to ``LEAD`` seconds
on: capacity is in place before a recurring ramp, not after it.

Whether the prediction is used is decided elsewhere (``sim/forecast.py``: the load must have a period, and the
forecast must beat the reactive policy on the recorded load); ``active`` and ``why`` carry that verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

SLOT = 300.0
"""Seconds per slot of a long season (the slot width is the season over a whole number of slots)."""
MIN_SLOTS = 12
"""Slots per season at least: a short season (an hour) still has a shape."""
LEAD = 180.0
"""Seconds ahead the prediction looks: long enough for agents to start and for a ramp inside a slot."""
BLEND = 0.5
"""Weight of the latest season in a slot's learned level."""


@dataclass(frozen=True)
class Profile:
    season: float = 86400.0
    levels: tuple[float, ...] = ()
    """Learned mean demand per slot; empty until the first slot closes."""
    seen: tuple[int, ...] = ()
    """The season number in which each slot was last learned; -1 for never."""
    slot: int = -1
    """The absolute slot number (``floor(t / width)``) being observed now."""
    slot_total: float = 0.0
    """The sum of the demands observed in the current slot so far."""
    slot_samples: int = 0
    """How many demands were observed in the current slot so far."""
    active: bool = False
    """Whether the prediction raises the floor (the verdict of ``sim/forecast.py``)."""
    why: str = ""
    """The verdict in words, for status (empty: not assessed yet)."""

    @property
    def slots(self) -> int:
        return max(MIN_SLOTS, round(self.season / SLOT))

    @property
    def width(self) -> float:
        """Seconds per slot: the season divided exactly."""
        return self.season / self.slots

    def observe(self, now: float, need: float) -> Profile:
        """Learn ``need`` at ``now``; a slot's mean is folded in when its time has passed."""
        current = math.floor(now / self.width)
        if current == self.slot:
            return replace(self, slot_total=self.slot_total + need, slot_samples=self.slot_samples + 1)
        profile = self if self.levels else replace(self, levels=(0.0,) * self.slots, seen=(-1,) * self.slots)
        if self.slot >= 0 and current > self.slot and self.slot_samples:
            profile = profile._fold(self.slot, self.slot_total / self.slot_samples)
        return replace(profile, slot=current, slot_total=float(need), slot_samples=1)

    def _fold(self, absolute_slot: int, level: float) -> Profile:
        i = absolute_slot % self.slots
        season = absolute_slot // self.slots
        levels, seen = list(self.levels), list(self.seen)
        levels[i] = level if seen[i] < 0 else BLEND * level + (1 - BLEND) * levels[i]
        seen[i] = season
        return replace(self, levels=tuple(levels), seen=tuple(seen))

    def predict(self, now: float) -> int:
        """Agents the load needed around this time in earlier seasons; 0 when nothing was learned yet."""
        if not self.levels:
            return 0
        best = 0.0
        for t in (now, now + LEAD):
            absolute = math.floor(t / self.width)
            i = absolute % self.slots
            if 0 <= self.seen[i] < absolute // self.slots:  # learned in an earlier season than t's
                best = max(best, self.levels[i])
        return math.ceil(best - 1e-9)
