"""The baselines the autoscaling policy is compared with, as simulator policies (see ``simulate.SizingPolicy``).

- :class:`StaticPeak` (``static``): the trace's peak need, all the time: a pool sized by hand for its worst moment.
- :class:`Hpa` (``hpa``): the Kubernetes Horizontal Pod Autoscaler (autoscaling/v2) with its default behaviour,
  on the backlog as an External metric.
- :class:`Keda` (``keda``): a KEDA ScaledObject with a queue-length trigger, which activates the deployment from
  zero and hands 1 <-> N scaling to an HPA as above.

Both model what the upstream documentation states, with its defaults:

- Kubernetes, "Horizontal Pod Autoscaling", section "Algorithm details": ``desiredReplicas = ceil(currentReplicas
  * currentMetricValue / desiredMetricValue)``, skipped when the ratio is within the tolerance (0.1 by default,
  ``--horizontal-pod-autoscaler-tolerance``); the controller runs every 15 s
  (``--horizontal-pod-autoscaler-sync-period``); with an External metric and an ``AverageValue`` target the
  metric is the external value divided by the replica count. Section "Configurable scaling behavior", "Default
  Behavior": scale-down ``stabilizationWindowSeconds: 300`` with one policy, 100 % per 15 s; scale-up
  ``stabilizationWindowSeconds: 0`` with two policies, 100 % and 4 pods per 15 s, ``selectPolicy: Max``.
  "Stabilization window": the controller uses the highest recommendation of the window when scaling down. An
  HPA does nothing while the target has 0 replicas (it cannot scale from zero).
- KEDA, "ScaledObject specification": ``pollingInterval`` 30 s (how often KEDA checks each trigger, which
  drives activation), ``cooldownPeriod`` 300 s ("the period to wait after the last trigger reported active
  before scaling the resource back to 0"), ``minReplicaCount`` 0; 1 <-> N is left to the HPA KEDA creates,
  with the default behaviour above. "Scaling Deployments" / activation: the scaler is active when the metric is
  above ``activationLagThreshold`` (the NATS JetStream scaler's default: 0).
- KEDA, "NATS JetStream" scaler: ``lagThreshold`` is the average target value (an ``AverageValue`` target per
  replica). Here the lag is the backlog (tasks pending plus in flight), and ``target`` (default 1: one task per
  agent) plays ``lagThreshold``.

One agent is one pod; a starting agent counts as a replica (``status.replicas`` counts pods that are not ready).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentscaler.services.policy.sim.simulate import PoolView

SYNC_PERIOD = 15.0
"""Seconds between HPA reconciliations (``--horizontal-pod-autoscaler-sync-period``)."""
TOLERANCE = 0.1
"""``--horizontal-pod-autoscaler-tolerance``."""
SCALE_DOWN_WINDOW = 300.0
"""The default ``scaleDown.stabilizationWindowSeconds``."""
SCALE_UP_PERCENT = 100.0
SCALE_UP_PODS = 4
"""The default scale-up policies, each per 15 s (``selectPolicy: Max``)."""
POLLING_INTERVAL = 30.0
"""KEDA's default ``pollingInterval``."""
COOLDOWN = 300.0
"""KEDA's default ``cooldownPeriod``."""


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
    name: str = "static"
    period: float = math.inf
    wakes_on_arrival: bool = False

    def decide(self, pool: PoolView, now: float) -> int:
        return self.count


@dataclass
class Hpa:
    """The HPA v2 controller with its default behaviour, on the backlog as an External ``AverageValue`` metric
    of ``target`` tasks per agent (see the module docstring for the sources). At each 15 s sync, with
    ``current`` replicas:

    1. **Recommendation.** ``ceil(backlog / target)``, or ``current`` when ``|backlog / (target * current) - 1|
       <= 0.1`` (tolerance). It is recorded, raw, in the recommendation history.
    2. **Stabilization.** Scale-up window 0 s: up to this recommendation at once. Scale-down window 300 s: no
       lower than the highest recommendation recorded in the last 300 s (those strictly newer than
       ``now - 300``, this one included).
    3. **Rate limits.** Per 15 s period, up to the larger of ``ceil(start * 2)`` and ``start + 4``, ``start``
       being the replicas at the start of the period (with syncs 15 s apart, ``current``); down by up to
       100 % (no limit in effect).
    4. **Bounds.** Clamped to ``[min_replicas, max_agents]``.

    Readiness: with an External ``AverageValue`` metric, the controller divides the metric by the replica
    count whatever the pods' readiness; the not-ready handling (``--horizontal-pod-autoscaler-initial-readiness
    -delay``, set-aside pods) applies to per-pod Resource and Pods metrics only. So the readiness delay (here the
    agents' start-up time) does not change the recommendation; what it changes is when a new agent starts
    taking tasks, which the simulator models for every policy (``start_delay``): agents counted as replicas
    serve nothing until then, and the backlog the HPA sees keeps those tasks.

    With 0 replicas the HPA does nothing (it cannot scale from zero): standalone, ``min_replicas`` (1) is the
    deployment's initial count, asked for at the first call.
    """

    max_agents: int
    target: float = 1.0
    min_replicas: int = 1
    tolerance: float = TOLERANCE
    window: float = SCALE_DOWN_WINDOW
    name: str = "hpa"
    period: float = SYNC_PERIOD
    wakes_on_arrival: bool = False
    history: deque[tuple[float, int]] = field(default_factory=deque)

    def recommend(self, current: int, backlog: int) -> int:
        """Step 1: this sync's raw recommendation for ``current`` replicas (> 0) seeing ``backlog`` tasks."""
        if abs(backlog / (self.target * current) - 1.0) <= self.tolerance:
            return current
        return math.ceil(backlog / self.target)

    def stabilize(self, now: float, current: int, recommendation: int) -> int:
        """Step 2: record ``recommendation`` and bound a scale-down by the highest of the window."""
        self.history.append((now, recommendation))
        while self.history[0][0] <= now - self.window:
            self.history.popleft()
        if recommendation >= current:
            return recommendation
        return min(current, max(r for _, r in self.history))

    @staticmethod
    def scale_up_limit(current: int) -> int:
        """Step 3: the most replicas one 15 s period may end with: the larger of +100 % and +4 pods."""
        return max(math.ceil(current * (1.0 + SCALE_UP_PERCENT / 100.0)), current + SCALE_UP_PODS)

    def step(self, now: float, current: int, backlog: int) -> int:
        """The replica count for a sync at ``now`` seeing ``current`` replicas and ``backlog`` tasks."""
        if current == 0:
            return 0
        wanted = self.stabilize(now, current, self.recommend(current, backlog))
        wanted = min(wanted, self.scale_up_limit(current))
        return min(max(wanted, self.min_replicas), self.max_agents)

    def decide(self, pool: PoolView, now: float) -> int:
        if pool.agents == 0 and now == 0.0:
            return min(self.min_replicas, self.max_agents)
        return self.step(now, pool.agents, pool.backlog())


@dataclass
class Keda:
    """A KEDA ScaledObject on the backlog (a queue-length trigger such as the NATS JetStream scaler's lag), with
    the defaults of the module docstring: KEDA activates and deactivates, an :class:`Hpa` (minReplicas 1, fed
    the same backlog metric, its rate limits and 300 s window included) scales 1 <-> N.

    - **Polls** every 30 s (on the grid ``k * 30``): the trigger is active when the backlog exceeds the
      activation threshold (0). A poll seeing activity notes the time.
    - **Activation.** At a poll, with 0 replicas and the trigger active: 1 replica. The HPA takes it from there
      at the same call (a real HPA's next sync comes within 15 s: taking it at once favours the baseline).
    - **Deactivation.** At a poll, with the trigger inactive and at least ``cooldown`` (300 s) since the last
      poll that saw activity: 0 replicas.
    - **HPA syncs** every 15 s while there are replicas.
    """

    max_agents: int
    target: float = 1.0
    activation: float = 0.0
    polling: float = POLLING_INTERVAL
    cooldown: float = COOLDOWN
    name: str = "keda"
    period: float = SYNC_PERIOD
    wakes_on_arrival: bool = False
    hpa: Hpa = field(init=False)
    last_active: float = -math.inf
    next_poll: float = 0.0

    def __post_init__(self) -> None:
        self.hpa = Hpa(self.max_agents, target=self.target)

    def poll(self, now: float, current: int, backlog: int) -> int:
        """KEDA's check at a poll: the replica count it sets (activation 0 -> 1, deactivation -> 0), else
        ``current``."""
        if backlog > self.activation:
            self.last_active = now
            return max(current, 1)
        if current > 0 and now - self.last_active >= self.cooldown:
            return 0
        return current

    def step(self, now: float, current: int, backlog: int) -> int:
        """The replica count for a call at ``now`` seeing ``current`` replicas and ``backlog`` tasks."""
        if now >= self.next_poll:
            self.next_poll = now + self.polling
            current = self.poll(now, current, backlog)
        return self.hpa.step(now, current, backlog)

    def decide(self, pool: PoolView, now: float) -> int:
        return self.step(now, pool.agents, pool.backlog())
