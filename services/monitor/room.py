"""Room to grow, the one rule: how many more agents a host takes (memory or CPU bounds it) and how many more a
pool can have (its max, its auto max or the hosts bound it). Pure: the monitor puts these figures in its
snapshots; the policy checks scale-ups against them and ``agentscaler status`` shows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from agentscaler.shared.capacity import CPU_CEILING
from agentscaler.shared.messages.pools import Mode
from agentscaler.shared.messages.snapshots import HostSnapshot, PoolSnapshot, RoomBound

MIN_AGENT_CPU = 0.05
"""Per-agent CPU (percent of one core) below which the CPU sets no useful bound on the agents."""
NAMED = 3
"""Hosts named in a pool's bound; the rest are counted."""


@dataclass(frozen=True)
class PoolRoom:
    room: int
    """How many more agents the pool can have."""
    bound: str
    """What bounds it, in words (see ``PoolSnapshot.room_bound``)."""
    cpu_hold: str = ""
    """In auto mode, the saturated hosts' CPU in words (see ``PoolSnapshot.cpu_hold``)."""


def memory_fit(available: int, reserve: int, per_agent: int) -> int:
    """How many more agents of ``per_agent`` bytes fit in ``available`` memory, keeping ``reserve`` free."""
    return max(available - reserve, 0) // per_agent if per_agent > 0 else 0


def cpu_fit(cpu_percent: float, cpu_count: int, per_agent: float) -> int | None:
    """How many more agents using ``per_agent`` percent of one core each the host takes before its CPU passes
    ``CPU_CEILING``; None when ``per_agent`` is about 0."""
    if per_agent < MIN_AGENT_CPU:
        return None
    return int(max(CPU_CEILING - cpu_percent, 0.0) * cpu_count // per_agent)


def host_room(memory: int, cpu: int | None) -> tuple[int, RoomBound]:
    """How many more agents a host takes, the smaller of what its ``memory`` and its ``cpu`` (None: not
    measured, no bound) take, and which of the two bounds it (memory on a tie)."""
    if cpu is not None and cpu < memory:
        return max(cpu, 0), "CPU"
    return max(memory, 0), "memory"


def pool_room(
    mode: Mode, desired: int, max_agents: int, auto_max: int | None, hosts: Sequence[HostSnapshot]
) -> PoolRoom:
    """How many more agents a pool can have: its limit (``max_agents``, or in auto mode ``auto_max`` when
    lower) less ``desired``, or the ``hosts``' room summed when smaller (no host known: the hosts set no
    bound), with what bounds it."""
    limit, why = max_agents, "the pool's max_agents"
    if mode == "auto" and auto_max is not None and auto_max < limit:
        limit, why = auto_max, "its auto max"
    room, bound = max(limit - desired, 0), f"{why} {limit}"
    fit = sum(h.room for h in hosts)
    if hosts and fit < room:
        room, bound = fit, f"{_resources(hosts)}: fits {fit} more"
    hot = [h for h in hosts if h.cpu_percent >= CPU_CEILING]
    hold = ""
    if mode == "auto" and hot:
        where = f" on {_names([h.host for h in hot])}" if len(hosts) > 1 else ""
        hold = f"host CPU at {max(h.cpu_percent for h in hot):.0f}%{where}"
    return PoolRoom(room, bound, hold)


def with_room(pool: PoolSnapshot, hosts: Sequence[HostSnapshot]) -> PoolSnapshot:
    """``pool`` with its ``room``, ``room_bound`` and ``cpu_hold`` over ``hosts`` (the fresh ones)."""
    auto_max = None if pool.auto is None else pool.auto.max_agents
    r = pool_room(pool.mode, pool.desired, pool.max_agents, auto_max, hosts)
    return msgspec.structs.replace(pool, room=r.room, room_bound=r.bound, cpu_hold=r.cpu_hold)


def _resources(hosts: Sequence[HostSnapshot]) -> str:
    """What bounds the hosts together: ``memory on h1, h2, CPU on h3``."""
    bounds: dict[str, list[str]] = {}
    for h in hosts:
        bounds.setdefault(h.room_bound, []).append(h.host)
    return ", ".join(f"{what} on {_names(names)}" for what, names in sorted(bounds.items(), reverse=True))


def _names(names: list[str]) -> str:
    """Up to ``NAMED`` names, then how many more."""
    more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
    return ", ".join(names[:NAMED]) + more
