"""How fast a pool's agents come up: how long one takes to start, and the host's pace of starting them when
many are wanted at once, which a simulation of a burst needs (agents asked for in hundreds arrive at this
pace, not at once)."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentscaler.shared.messages.agents import AgentRecord

START_SAMPLE = 20
"""The latest agents to start whose start times make a pool's figure."""
BACKLOG = 10
"""Agents wanted and not yet up, at least, for an interval to measure the host's pace: with fewer, the
pool's own demand and not the host sets how many come up."""
MEMORY = 3600.0
"""Seconds the measured intervals are kept."""


@dataclass
class SpawnPace:
    """Counts, from one snapshot to the next, the agents that came up while at least ``BACKLOG`` were wanted
    and not up and some still were at the end (so the host, not the pool's demand, set how many came up).
    The pace is those agents over those intervals' seconds, in the last ``MEMORY`` seconds: agents come up
    in batches (a snapshot may see none, the next many), so the intervals are summed, not averaged."""

    up: set[str] = field(default_factory=set)
    """Agents up (registered) at the last snapshot."""
    wanted: int = 0
    """Agents wanted and not up at the last snapshot."""
    at: float | None = None
    intervals: deque[tuple[float, int, float]] = field(default_factory=deque)
    """(when it ended, agents that came up, seconds) of each measured interval."""

    def observe(self, now: float, desired: int, agents: Sequence[AgentRecord]) -> float:
        """Note the pool's ``agents`` (its records) and ``desired`` count at ``now``; returns its pace in
        agents a second (0 before one was measured)."""
        up = {a.agent_id for a in agents if a.state != "starting"}
        wanted = max(desired - len(up), 0)
        if self.at is not None and now > self.at and self.wanted >= BACKLOG and wanted > 0:
            self.intervals.append((now, len(up - self.up), now - self.at))
        self.up, self.wanted, self.at = up, wanted, now
        while self.intervals and self.intervals[0][0] < now - MEMORY:
            self.intervals.popleft()
        return self.rate(now)

    def rate(self, now: float) -> float:
        """The pace at ``now`` over the intervals measured so far, without observing (0 before one was)."""
        kept = [(n, s) for end, n, s in self.intervals if end >= now - MEMORY]
        seconds = sum(s for _, s in kept)
        return round(sum(n for n, _ in kept) / seconds, 2) if seconds > 0 else 0.0


def start_time(agents: Sequence[AgentRecord]) -> float:
    """Median seconds the latest ``START_SAMPLE`` of ``agents`` seen starting took to register; 0 for none.
    The median, so that the last agents of a burst, which waited their turn to start, do not make the
    pool's agents look slow."""
    measured = sorted((a for a in agents if a.start_seconds > 0), key=lambda a: a.started_at)[-START_SAMPLE:]
    return round(statistics.median(a.start_seconds for a in measured), 4) if measured else 0.0
