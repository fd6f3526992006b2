"""Whether a pool reached its desired count after a change, or has not in time: the monitor's pool events
(``agentscaler.evt.pool.converged|stuck.<pool>``). Pure: counts and times in, at most one event per change out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentscaler.shared.messages.snapshots import AgentCounts

Outcome = Literal["converged", "stuck"]


def at_desired(desired: int, agents: AgentCounts) -> bool:
    """ready + busy == desired, none starting or draining."""
    return agents.ready + agents.busy == desired and agents.starting == agents.draining == 0


@dataclass
class _Pending:
    desired: int
    since: float
    """When the change was seen."""
    settled: bool
    """Met since the change (or never changed since first seen at it): nothing more to report."""
    stuck: bool = False


class ConvergeTracker:
    """Each pool's latest desired count and whether it has been met since it last changed. A pool first seen
    away from its count counts as changed then (the monitor may start mid-change); one first seen at it, not."""

    def __init__(self, stuck_after: float) -> None:
        self.stuck_after = stuck_after
        self._pools: dict[str, _Pending] = {}

    def observe(self, pool: str, desired: int, agents: AgentCounts, now: float) -> tuple[Outcome, float] | None:
        """The event the pool's figures at ``now`` make, with the seconds since the change; None for none."""
        met = at_desired(desired, agents)
        known = self._pools.get(pool)
        if known is None or known.desired != desired:
            self._pools[pool] = known = _Pending(desired, now, settled=met and known is None)
        if known.settled:
            return None
        if met:
            known.settled = True
            return "converged", now - known.since
        if not known.stuck and now - known.since >= self.stuck_after:
            known.stuck = True
            return "stuck", now - known.since
        return None

    def forget_others(self, pools: set[str]) -> None:
        """Drop the pools no longer defined."""
        for name in set(self._pools) - pools:
            del self._pools[name]
