"""What each recent scaling change did: a pool's throughput, latency and wait in a window before the change
and in one after it, per agent, and what the change costs or saves an hour."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.snapshots import ScalingImpact

from .ledger import Ledger

CHANGES = 5
"""Changes of count reported per pool, newest first."""
NO_GAIN = 0.25
"""A scale-up whose throughput rose by less than this share of its proportional gain is flagged."""
DEGRADED = 0.75
"""A scale-up after which per-agent throughput is below this share of what it was before is flagged as
degraded (after a scale-down, per-agent throughput falls only because the work did)."""


@dataclass
class Changes:
    """A pool's latest changes of count (applied decisions whose desired count differs from the previous)."""

    recent: deque[DecisionEvent] = field(default_factory=lambda: deque(maxlen=CHANGES))

    def heard(self, event: DecisionEvent) -> None:
        if event.applied and event.desired != event.previous and all(e.at != event.at for e in self.recent):
            self.recent.append(event)


def impact(
    change: DecisionEvent, ledger: Ledger, now: float, window: float, settle: float, per_agent_hour: float
) -> ScalingImpact:
    """The figures before ``change`` (the ``window`` seconds up to it) and after it (the ``window`` seconds
    from ``settle`` seconds after it; None until those have passed), from the pool's ``ledger``."""
    before = ledger.window(change.at - window, change.at, now)
    start = change.at + settle
    after = ledger.window(start, start + window, now) if now >= start + window else None
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
