"""What a priced pool costs: its burn rate now, and the agent-seconds and finished tasks of the last hour and
day (from its ledger) at its prices."""

from __future__ import annotations

from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.snapshots import PoolCost

from .ledger import DAY, HOUR, Ledger


def pool_cost(config: PoolConfig, ledger: Ledger, agents: int, throughput: float, now: float) -> PoolCost | None:
    """The pool's cost figures at its prices, with ``agents`` agents and ``throughput`` tasks a second now;
    None when it has no price set."""
    per_hour, per_task = config.cost_per_agent_hour, config.cost_per_task
    if per_hour <= 0 and per_task <= 0:
        return None

    def cost(window: float) -> float:
        seconds, tasks = ledger.used(now, window)
        return round(seconds / HOUR * per_hour + tasks * per_task, 6)

    return PoolCost(
        per_agent_hour=per_hour,
        per_task=per_task,
        burn_rate=round(agents * per_hour + throughput * HOUR * per_task, 6),
        last_hour=cost(HOUR),
        last_day=cost(DAY),
        covered=round(ledger.covered(now), 1),
    )
