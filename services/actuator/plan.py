"""Pure reconcile decisions: how many agents to start, which to drain, how long to back off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentscaler.shared.messages.agents import AgentState


@dataclass(frozen=True)
class ProcView:
    """What the plan needs to know of one live agent process."""

    agent_id: str
    pool: str
    started_at: float
    draining: bool = False
    state: AgentState | None = None
    """The registry's view; None when the registry does not know the agent (yet)."""
    busy_since: float = 0.0
    held: int = 0
    """Tasks the agent holds, running and prefetched (the registry's view)."""


@dataclass(frozen=True)
class Plan:
    spawn: dict[str, int] = field(default_factory=dict)
    excess: dict[str, int] = field(default_factory=dict)
    """Pools with more non-draining agents than desired, and by how many."""


def plan(
    desired: Mapping[str, int],
    procs: Sequence[ProcView],
    *,
    now: float,
    not_before: Mapping[str, float],
    spawn_batch: int,
) -> Plan:
    """Compare each pool's desired count with its live, non-draining agents."""
    active: dict[str, int] = {}
    for p in procs:
        if not p.draining:
            active[p.pool] = active.get(p.pool, 0) + 1
    spawn: dict[str, int] = {}
    excess: dict[str, int] = {}
    for pool in set(desired) | set(active):
        want, have = desired.get(pool, 0), active.get(pool, 0)
        if want > have and now >= not_before.get(pool, 0.0):
            spawn[pool] = min(want - have, spawn_batch)
        elif have > want:
            excess[pool] = have - want
    return Plan(spawn=spawn, excess=excess)


_ORDER = {"starting": 0, None: 0, "ready": 1, "busy": 2, "draining": 3}


def choose_victims(procs: Sequence[ProcView], pool: str, count: int) -> list[str]:
    """The ``count`` agents of ``pool`` to drain: not yet working first, then idle, then busy ones with the
    least work in progress: fewest tasks held (a prefetching agent may hold several), then the one busy
    longest (closest to done). Newer agents go before older ones within a rank."""
    candidates = [p for p in procs if p.pool == pool and not p.draining]
    candidates.sort(
        key=lambda p: (_ORDER[p.state], (p.held, p.busy_since) if p.state == "busy" else (0, -p.started_at))
    )
    return [p.agent_id for p in candidates[:count]]


def backoff(crashes: int, max_backoff: float) -> float:
    """Seconds to wait before the next start after ``crashes`` consecutive early exits."""
    if crashes <= 0:
        return 0.0
    return float(min(0.5 * 2 ** min(crashes - 1, 64), max_backoff))
