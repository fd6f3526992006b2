"""The policy's metrics (docs/metrics.md): each pool's desired count and queue, and the scaling decisions it
applies. Only the leading policy exports them (a standby has no :class:`PoolGauges`), so each pool figure
appears once in the fleet."""

from __future__ import annotations

from agentscaler.shared.messages.snapshots import Snapshot
from agentscaler.shared.telemetry.metrics import Labels, Readings, labels, meter

DESIRED = Readings("agentscaler_desired_agents", "Agents the policy wants in each pool, over all hosts")
QUEUE_PENDING = Readings("agentscaler_queue_pending", "Tasks waiting in each pool's queue, not yet delivered")
QUEUE_IN_FLIGHT = Readings("agentscaler_queue_in_flight", "Tasks of each pool delivered to an agent, not acknowledged")
DECISIONS = meter().create_counter(
    "agentscaler_scaling_decisions_total", description="Changes of a pool's desired count the policy applied, by rule"
)
PART = "policy"


class PoolGauges:
    """The pool figures of the leading policy: desired counts as it writes them, queues from the latest
    snapshot; pools no snapshot lists any more (deleted) are dropped."""

    def __init__(self) -> None:
        self.desired: dict[str, int] = {}

    def desired_is(self, pool: str, desired: int) -> None:
        self.desired[pool] = desired
        DESIRED.set(PART, _by_pool(self.desired))

    def snapshot(self, snapshot: Snapshot) -> None:
        listed = {p.name for p in snapshot.pools}
        self.desired = {pool: n for pool, n in self.desired.items() if pool in listed}
        DESIRED.set(PART, _by_pool(self.desired))
        QUEUE_PENDING.set(PART, _by_pool({p.name: p.queue.pending for p in snapshot.pools}))
        QUEUE_IN_FLIGHT.set(PART, _by_pool({p.name: p.queue.in_flight for p in snapshot.pools}))

    def close(self) -> None:
        """Leadership ended: the next leader exports the pool figures."""
        for readings in (DESIRED, QUEUE_PENDING, QUEUE_IN_FLIGHT):
            readings.clear(PART)


def decision_applied(pool: str, rule: str) -> None:
    DECISIONS.add(1, {"pool": pool, "rule": rule})


def _by_pool(values: dict[str, int]) -> dict[Labels, float]:
    return {labels(pool=pool): float(n) for pool, n in values.items()}
