"""Where a service reads the time. Services take a :class:`Clock` when they are made, so that a test can run
their loops on a clock it controls; decision code takes ``now`` as an argument and reads no clock at all."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch: for timestamps that other processes and hosts read."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for intervals and deadlines within this process."""
        ...


class SystemClock:
    """The host's clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()
"""The clock every service uses unless it is given another."""
