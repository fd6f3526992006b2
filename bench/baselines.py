"""The baselines the autoscaling policy is compared with, as simulator policies (see ``simulate.SizingPolicy``).

- :class:`StaticPeak`: the trace's peak need, all the time: what a pool sized by hand for its worst moment costs.
- :class:`HpaLike`: the Kubernetes Horizontal Pod Autoscaler on a queue metric.
- :class:`KedaLike`: KEDA's own scaling loop (its JetStream scaler without an HPA behind it).

The per-agent backlog target (a backlog being the tasks pending plus in flight) plays the part of the KEDA
JetStream scaler's ``lagThreshold``: 1 means one task per agent.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentscaler.services.policy.sim.simulate import PoolView


def peak_need(arrivals: Sequence[float], services: Sequence[float]) -> int:
    """The most tasks running at once if every task started on its arrival: the fewest agents that never
    queue a task (with no start delay). ``arrivals`` is sorted."""
    ends = sorted(a + s for a, s in zip(arrivals, services, strict=True))
    peak, ended = 0, 0
    for started, arrival in enumerate(arrivals, start=1):
        while ended < len(ends) and ends[ended] <= arrival:
            ended += 1
        peak = max(peak, started - ended)
    return peak


@dataclass
class StaticPeak:
    """A fixed count, asked for once at t = 0 (a zero-length task makes no difference to the count)."""

    count: int
    name: str = "static-peak"
    period: float = math.inf
    wakes_on_arrival: bool = False

    def decide(self, pool: PoolView, now: float) -> int:
        return self.count


@dataclass
class HpaLike:
    """The HPA algorithm on backlog per agent, called every 15 s (its sync period).

    Each sync recommends ``ceil(current * metric / target)`` with ``metric = backlog / current``, or
    ``current`` when ``|metric / target - 1| <= tolerance`` (10%). A recommendation above the current count
    applies at once; below it, the count falls only to the highest recommendation of the last 300 s (the
    scale-down stabilization window). The HPA cannot scale from zero: with 0 agents and a backlog it goes to
    ``ceil(backlog / target)``, which is what KEDA's activation does for it in a KEDA-managed deployment, and
    with no backlog for the whole window it falls to 0 (KEDA's cooldown, of the same length, deactivating it).
    The HPA's default scale-up rate limit (double or +4 pods per 15 s) is left out, in the baseline's favour.
    """

    max_agents: int
    target: float = 1.0
    tolerance: float = 0.1
    window: float = 300.0
    name: str = "HPA-like"
    period: float = 15.0
    wakes_on_arrival: bool = False
    history: deque[tuple[float, int]] = field(default_factory=deque)

    def recommend(self, current: int, backlog: int) -> int:
        """This sync's recommendation, before stabilization."""
        if current == 0:
            wanted = math.ceil(backlog / self.target)
        else:
            ratio = backlog / current / self.target
            wanted = current if abs(ratio - 1.0) <= self.tolerance else math.ceil(current * ratio)
        return min(wanted, self.max_agents)

    def step(self, now: float, current: int, backlog: int) -> int:
        """The count for a sync at ``now`` seeing ``current`` agents and ``backlog`` tasks."""
        wanted = self.recommend(current, backlog)
        self.history.append((now, wanted))
        while self.history[0][0] < now - self.window:
            self.history.popleft()
        if wanted > current:
            return wanted
        return min(current, max(r for _, r in self.history))

    def decide(self, pool: PoolView, now: float) -> int:
        return self.step(now, pool.agents, pool.backlog())


@dataclass
class KedaLike:
    """KEDA's scaling loop, polling every 30 s: ``ceil(backlog / target)`` agents, at least 1 while active,
    and 0 only once there has been no backlog for the cooldown (300 s) since the last poll that saw one."""

    max_agents: int
    target: float = 1.0
    cooldown: float = 300.0
    name: str = "KEDA-like"
    period: float = 30.0
    wakes_on_arrival: bool = False
    last_active: float = -math.inf

    def step(self, now: float, backlog: int) -> int:
        """The count for a poll at ``now`` seeing ``backlog`` tasks."""
        if backlog > 0:
            self.last_active = now
            return min(max(1, math.ceil(backlog / self.target)), self.max_agents)
        return 1 if now - self.last_active < self.cooldown else 0

    def decide(self, pool: PoolView, now: float) -> int:
        return self.step(now, pool.backlog())
