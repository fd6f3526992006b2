"""The recurring shape of a pool's load: the agents it needed in each slot of a season (a day or a week).

Each slot (``SLOT`` seconds) keeps the peak demand seen in it, blended over seasons (the last season
weighs ``BLEND``). A slot predicts only once it has been seen in an earlier season, so the first season
only learns. The prediction for a moment is the largest learned peak from then to ``LEAD`` seconds on:
capacity is in place before a recurring ramp, not after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

SLOT = 300.0
"""Seconds per slot of the season."""
LEAD = 180.0
"""Seconds ahead the prediction looks: long enough for agents to start and for a ramp inside a slot."""
BLEND = 0.5
"""Weight of the latest season in a slot's learned peak."""


@dataclass(frozen=True)
class Profile:
    season: float = 86400.0
    peaks: tuple[float, ...] = ()
    """Learned peak demand per slot; empty until the first slot closes."""
    seen: tuple[int, ...] = ()
    """The season number in which each slot was last learned; -1 for never."""
    slot: int = -1
    """The absolute slot number (``floor(t / SLOT)``) being observed now."""
    slot_peak: float = 0.0
    """The peak demand in the current slot so far."""

    @property
    def slots(self) -> int:
        return max(1, round(self.season / SLOT))

    def observe(self, now: float, need: int) -> Profile:
        """Learn ``need`` at ``now``; a slot's peak is folded in when its time has passed."""
        current = math.floor(now / SLOT)
        if current == self.slot:
            return replace(self, slot_peak=max(self.slot_peak, float(need))) if need > self.slot_peak else self
        profile = self if self.peaks else replace(self, peaks=(0.0,) * self.slots, seen=(-1,) * self.slots)
        if self.slot >= 0 and current > self.slot:
            profile = profile._fold(self.slot, self.slot_peak)
        return replace(profile, slot=current, slot_peak=float(need))

    def _fold(self, absolute_slot: int, peak: float) -> Profile:
        i = absolute_slot % self.slots
        season = absolute_slot // self.slots
        peaks, seen = list(self.peaks), list(self.seen)
        peaks[i] = peak if seen[i] < 0 else BLEND * peak + (1 - BLEND) * peaks[i]
        seen[i] = season
        return replace(self, peaks=tuple(peaks), seen=tuple(seen))

    def predict(self, now: float) -> int:
        """Agents the load needed around this time in earlier seasons; 0 when nothing was learned yet."""
        if not self.peaks:
            return 0
        best = 0.0
        for t in (now, now + LEAD):
            absolute = math.floor(t / SLOT)
            i = absolute % self.slots
            if 0 <= self.seen[i] < absolute // self.slots:  # learned in an earlier season than t's
                best = max(best, self.peaks[i])
        return math.ceil(best - 1e-9)
