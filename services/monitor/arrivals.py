"""How fast tasks arrive in a pool's queue, from the queue's running count of tasks submitted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Arrivals:
    """The queue's count of tasks ever submitted at the latest periodic snapshot: the baseline of the
    arrival rate. ``rate`` only reads it; ``advance`` (the periodic snapshot) moves it."""

    submitted: int = -1
    """Tasks ever queued at the baseline (-1 before the first)."""
    at: float = 0.0
    """When the baseline was taken."""

    def rate(self, submitted: int, now: float) -> float:
        """Tasks submitted a second from the baseline to ``now``, when ``submitted`` had been queued; 0 with
        no baseline yet, with the count not known (0), or after the stream was recreated (fewer)."""
        if submitted <= 0 or self.submitted < 0 or now <= self.at or submitted < self.submitted:
            return 0.0
        return round((submitted - self.submitted) / (now - self.at), 3)

    def advance(self, submitted: int, now: float) -> float:
        """The rate up to ``now``, which becomes the baseline (a count not known, 0, leaves it as it is)."""
        rate = self.rate(submitted, now)
        if submitted > 0:
            self.submitted, self.at = submitted, now
        return rate
