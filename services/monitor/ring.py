"""A fixed-size ring of sums per unit of time (a whole second, a minute): what the monitor keeps of a pool's
finished tasks and agent-seconds, in memory that does not grow with what arrives."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

EMPTY = -(2**62)
"""The unit of a slot nothing was added to."""


@dataclass
class Ring:
    """Sums of ``width`` figures per unit of time, for the latest ``size`` units. Unit ``u`` lives in slot
    ``u % size``: a newer unit takes the slot of the one ``size`` units older, and a figure for a unit older
    than the one its slot holds is dropped. Memory: ``size`` units and ``size * width`` floats, whatever
    arrives."""

    size: int
    width: int
    units: array[int] = field(init=False)
    """The unit each slot holds (``EMPTY`` for none)."""
    sums: array[float] = field(init=False)
    """Slot ``i``'s figures at ``sums[i * width : (i + 1) * width]``."""

    def __post_init__(self) -> None:
        self.units = array("q", [EMPTY]) * self.size
        self.sums = array("d", [0.0]) * (self.size * self.width)

    def add(self, unit: int, figures: Sequence[float]) -> None:
        """Add ``figures`` to the sums of ``unit``."""
        slot = unit % self.size
        held = self.units[slot]
        if held > unit:
            return  # the slot has moved on to a newer unit: this one is older than the ring reaches
        start = slot * self.width
        if held != unit:
            self.units[slot] = unit
            self.sums[start : start + self.width] = array("d", [0.0]) * self.width
        for i, figure in enumerate(figures):
            self.sums[start + i] += figure

    def total(self, first: int, last: float = math.inf) -> list[float]:
        """Each figure summed over the units from ``first`` up to, not including, ``last``."""
        totals = [0.0] * self.width
        for slot, unit in enumerate(self.units):
            if unit != EMPTY and first <= unit < last:
                start = slot * self.width
                for i in range(self.width):
                    totals[i] += self.sums[start + i]
        return totals
