"""What each recent scaling change did: a pool's throughput, latency and wait in a window before the change
and in one after it, per agent, and what the change costs or saves an hour."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.snapshots import ScalingImpact, WindowFigures

KEEP = 900
"""Seconds of per-second task figures kept: enough for the windows around the changes reported."""
CHANGES = 5
"""Changes of count reported per pool, newest first."""
NO_GAIN = 0.25
"""A scale-up whose throughput rose by less than this share of its proportional gain is flagged."""
DEGRADED = 0.75
"""A scale-up after which per-agent throughput is below this share of what it was before is flagged as
degraded (after a scale-down, per-agent throughput falls only because the work did)."""


@dataclass
class TaskSeries:
    """A pool's finished tasks per second: how many, and their summed latency and wait."""

    seconds: dict[int, tuple[int, float, float]] = field(default_factory=dict)

    def add(self, finished_at: float, latency: float, wait: float) -> None:
        second = math.floor(finished_at)
        count, lat, wt = self.seconds.get(second, (0, 0.0, 0.0))
        self.seconds[second] = (count + 1, lat + latency, wt + wait)

    def window(self, start: float, end: float) -> WindowFigures:
        """Tasks finished in the whole seconds from ``start`` to ``end``."""
        first, last = math.ceil(start), math.floor(end)
        count, lat, wt = 0, 0.0, 0.0
        for second in range(first, last):
            c, la, w = self.seconds.get(second, (0, 0.0, 0.0))
            count, lat, wt = count + c, lat + la, wt + w
        span = max(last - first, 1)
        return WindowFigures(
            throughput=round(count / span, 4),
            latency_mean=round(lat / count, 4) if count else 0.0,
            wait_mean=round(wt / count, 4) if count else 0.0,
            tasks=count,
        )

    def forget(self, now: float) -> None:
        oldest = math.floor(now) - KEEP
        for second in [s for s in self.seconds if s < oldest]:
            del self.seconds[second]


@dataclass
class Changes:
    """A pool's latest changes of count (applied decisions whose desired count differs from the previous)."""

    recent: deque[DecisionEvent] = field(default_factory=lambda: deque(maxlen=CHANGES))

    def heard(self, event: DecisionEvent) -> None:
        if event.applied and event.desired != event.previous and all(e.at != event.at for e in self.recent):
            self.recent.append(event)


def impact(
    change: DecisionEvent, series: TaskSeries, now: float, window: float, settle: float, per_agent_hour: float
) -> ScalingImpact:
    """The figures before ``change`` (the ``window`` seconds up to it) and after it (the ``window`` seconds
    from ``settle`` seconds after it; None until those have passed)."""
    before = series.window(change.at - window, change.at)
    start = change.at + settle
    after = series.window(start, start + window) if now >= start + window else None
    flags: list[str] = []
    per_before = before.throughput / change.previous if change.previous else 0.0
    per_after = 0.0
    if after is not None:
        per_after = after.throughput / change.desired if change.desired else 0.0
        if change.desired > change.previous > 0 and before.throughput > 0:
            proportional = change.desired / change.previous - 1
            if after.throughput / before.throughput - 1 < NO_GAIN * proportional:
                flags.append("no_gain")
        if change.desired > change.previous and per_before > 0 and per_after < DEGRADED * per_before:
            flags.append("degraded")
    return ScalingImpact(
        at=change.at,
        previous=change.previous,
        desired=change.desired,
        rule=change.rule,
        before=before,
        after=after,
        per_agent_before=round(per_before, 4),
        per_agent_after=round(per_after, 4),
        flags=flags,
        cost_per_hour=round((change.desired - change.previous) * per_agent_hour, 6),
    )
