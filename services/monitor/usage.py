"""What each pool has used over the last day: agent-seconds and finished tasks per minute, integrated from the
agent counts of successive snapshots, and what they cost at the pool's prices."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.snapshots import PoolCost

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


@dataclass
class PoolUsage:
    """A pool's agent-seconds and finished tasks per minute of the last day.

    Counts hold from one observation to the next: ``observe(t, n)`` adds ``n_prev * (t - t_prev)``, split
    over the minutes it spans. What happened before the first observation (e.g. before the monitor started)
    is not known, and ``covered`` says how far back the figures reach."""

    agent_seconds: dict[int, float] = field(default_factory=dict)
    """Minute number (``floor(t / 60)``) -> agent-seconds in it."""
    tasks: dict[int, int] = field(default_factory=dict)
    """Minute number -> tasks finished in it."""
    last: tuple[float, int] | None = None
    """(time, agents) at the latest observation."""
    since: float | None = None
    """The first observation."""

    def observe(self, now: float, agents: int) -> None:
        """The pool has ``agents`` agents at ``now`` (and had the previous count until now)."""
        if self.last is not None and now > self.last[0]:
            then, count = self.last
            t = then
            while t < now:
                minute = math.floor(t / MINUTE)
                end = min(now, (minute + 1) * MINUTE)
                if count:
                    self.agent_seconds[minute] = self.agent_seconds.get(minute, 0.0) + count * (end - t)
                t = end
        if self.last is None or now >= self.last[0]:
            self.last = (now, agents)
        if self.since is None:
            self.since = now
        self._forget(now)

    def finished(self, at: float) -> None:
        """A task of the pool finished at ``at``."""
        minute = math.floor(at / MINUTE)
        self.tasks[minute] = self.tasks.get(minute, 0) + 1

    def covered(self, now: float) -> float:
        """Seconds back from ``now`` that the figures cover (at most a day)."""
        return 0.0 if self.since is None else min(max(now - self.since, 0.0), DAY)

    def used(self, now: float, window: float) -> tuple[float, int]:
        """Agent-seconds and finished tasks in the ``window`` seconds before ``now`` (whole minutes, the
        current one included)."""
        first = math.floor((now - window) / MINUTE) + 1
        seconds = sum(v for m, v in self.agent_seconds.items() if m >= first)
        tasks = sum(v for m, v in self.tasks.items() if m >= first)
        return seconds, tasks

    def _forget(self, now: float) -> None:
        oldest = math.floor((now - DAY) / MINUTE)
        for table in (self.agent_seconds, self.tasks):
            for minute in [m for m in table if m <= oldest]:
                del table[minute]


def pool_cost(config: PoolConfig, usage: PoolUsage, agents: int, throughput: float, now: float) -> PoolCost | None:
    """The pool's cost figures at its prices; None when it has no price set."""
    per_hour, per_task = config.cost_per_agent_hour, config.cost_per_task
    if per_hour <= 0 and per_task <= 0:
        return None

    def cost(window: float) -> float:
        seconds, tasks = usage.used(now, window)
        return round(seconds / HOUR * per_hour + tasks * per_task, 6)

    return PoolCost(
        per_agent_hour=per_hour,
        per_task=per_task,
        burn_rate=round(agents * per_hour + throughput * HOUR * per_task, 6),
        last_hour=cost(HOUR),
        last_day=cost(DAY),
        covered=round(usage.covered(now), 1),
    )
