"""The policy engine: ``decide(snapshot, config, state, now) -> (decision, state)``.

Pure: the service feeds it the pool's latest snapshot, its configuration, its desired state and the time,
and writes back the state it returns when the decision changed the count.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import PoolSnapshot


@dataclass(frozen=True)
class Decision:
    pool: str
    previous: int
    desired: int
    rule: str
    reason: str

    @property
    def changed(self) -> bool:
        return self.desired != self.previous


def decide(
    snapshot: PoolSnapshot | None, config: PoolConfig, state: DesiredState, now: float
) -> tuple[Decision, DesiredState]:
    """Manual mode holds the count set by the last command, within the pool's current ``max_agents``."""
    current = state.desired
    if current > config.max_agents:
        decision = Decision(
            config.name,
            current,
            config.max_agents,
            "manual.clamp_to_max",
            f"desired {current} is above max_agents {config.max_agents}; lowered to the maximum",
        )
        return decision, msgspec.structs.replace(
            state, desired=config.max_agents, updated_at=now, reason=decision.reason, traceparent=""
        )
    observed = "" if snapshot is None else f" ({snapshot.agents.ready + snapshot.agents.busy} running)"
    return Decision(
        config.name, current, current, "manual.hold", f"manual mode: holding {current} agents{observed}"
    ), state
