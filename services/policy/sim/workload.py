"""Workloads the simulator runs: a trace of tasks (arrival and service seconds), given or rebuilt from the
demand samples an auto pool records in its history."""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from agentscaler.shared.messages.decisions import DemandSample


@dataclass(frozen=True)
class Workload:
    """A trace as two parallel lists sorted by arrival: arrival seconds and service seconds."""

    arrivals: list[float]
    services: list[float]
    _windows: dict[float, list[tuple[int, int]]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """The index ranges of each window length asked for so far: every trial over a load judges the same
    windows."""

    @classmethod
    def from_tasks(cls, tasks: Sequence[tuple[float, float]]) -> Workload:
        """From ``(t, service_s)`` pairs, sorted by ``t`` here if they are not already."""
        ordered = sorted(tasks, key=lambda task: task[0])
        return cls([t for t, _ in ordered], [s for _, s in ordered])

    def __len__(self) -> int:
        return len(self.arrivals)

    @property
    def end(self) -> float:
        """The last arrival: the run lasts at least this long."""
        return self.arrivals[-1] if self.arrivals else 0.0

    @cached_property
    def work(self) -> float:
        """Total service seconds: the busy agent-seconds of any run that finishes every task."""
        return math.fsum(self.services)

    @property
    def minutes(self) -> list[tuple[int, int]]:
        """Index ranges ``[lo, hi)`` of the tasks arriving in each minute that has any."""
        return self.windows(60.0)

    def windows(self, length: float) -> list[tuple[int, int]]:
        """Index ranges ``[lo, hi)`` of the tasks arriving in each window of ``length`` seconds (``floor(t /
        length)``) that has any; worked out once per length."""
        if length not in self._windows:
            self._windows[length] = self._ranges(length)
        return self._windows[length]

    def _ranges(self, length: float) -> list[tuple[int, int]]:
        ranges: list[tuple[int, int]] = []
        lo = 0
        while lo < len(self.arrivals):
            window_end = (math.floor(self.arrivals[lo] / length) + 1) * length
            hi = max(lo + 1, bisect_left(self.arrivals, window_end, lo))
            ranges.append((lo, hi))
            lo = hi
        return ranges


class Draws(Protocol):
    """A source of uniform draws in [0, 1), e.g. a seeded ``random.Random``: the caller picks the seed, so a
    rebuilt workload is the same every time it is rebuilt from the same samples."""

    def random(self) -> float: ...


class NoRecord(ValueError):
    """Samples from which no workload can be rebuilt: none records its arrivals, or no task ever finished."""


@dataclass(frozen=True)
class Recorded:
    """A workload rebuilt from demand samples, with what it was rebuilt from."""

    workload: Workload
    origin: float
    """Epoch seconds of the workload's second 0: the start of the first sample's interval."""
    span: float
    """Seconds from the first sample's start to the last sample's end."""
    samples: int
    """Samples used (those that record arrivals, interval and a known mean service time)."""
    skipped: int
    """Samples that could not be used (recorded before samples carried their arrivals)."""
    start_time: float = 0.0
    """The median of the agents' start times the samples record (0: none does)."""


def _spans(sample: DemandSample) -> list[tuple[float, float, int]]:
    """The parts of a sample's interval and the tasks that arrived in each, as ``(from, to, count)`` in
    seconds into the interval: from its ``arrivals`` when they account for every task, else the whole
    interval."""
    interval, arrived = sample.interval or 0.0, sample.arrived or 0
    marks = sample.arrivals or []
    if not marks or sum(n for _, n in marks) != arrived:
        return [(0.0, interval, arrived)]
    spans, lo = [], 0.0
    for at, count in marks:
        hi = min(max(at, lo), interval)
        spans.append((lo, hi, count))
        lo = hi
    return spans


def rebuild(samples: Iterable[DemandSample], draws: Draws) -> Recorded:
    """The tasks ``samples`` record, as a :class:`Workload`: each sample's ``arrived`` tasks arrive at uniformly
    drawn moments of its interval (a Poisson process given its count), or of the part of it its ``arrivals`` put
    them in, and take service times drawn from an exponential distribution around its mean service time (the
    sample's own, else the latest one known before it, else the first one after). Samples without ``interval``
    or ``arrived`` are skipped; time no sample covers (the pool in manual mode, the policy down) has no
    arrivals."""
    usable: list[DemandSample] = []
    skipped = 0
    for sample in sorted(samples, key=lambda s: s.at):
        if sample.interval is None or sample.arrived is None or sample.interval <= 0:
            skipped += 1
        else:
            usable.append(sample)
    means = [s.service_mean for s in usable if s.service_mean is not None and s.service_mean > 0]
    if not usable:
        raise NoRecord("no demand sample records its arrivals")
    if not means:
        raise NoRecord("no task finished while the samples were recorded, so their service times are unknown")
    origin = usable[0].at - (usable[0].interval or 0.0)
    mean = means[0]
    tasks: list[tuple[float, float]] = []
    for sample in usable:
        if sample.service_mean is not None and sample.service_mean > 0:
            mean = sample.service_mean
        start = sample.at - (sample.interval or 0.0) - origin
        for lo, hi, count in _spans(sample):
            for _ in range(count):
                at = start + lo + draws.random() * (hi - lo)
                tasks.append((at, -mean * math.log(1.0 - draws.random())))
    return Recorded(
        workload=Workload.from_tasks(tasks),
        origin=origin,
        span=usable[-1].at - origin,
        samples=len(usable),
        skipped=skipped,
        start_time=statistics.median(starts) if (starts := [s.start_time for s in usable if s.start_time]) else 0.0,
    )
