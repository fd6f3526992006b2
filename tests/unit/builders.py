"""Builders for the messages and views the unit tests feed to the pure code. Every time is passed in."""

from __future__ import annotations

from typing import Any

from hypothesis import settings

from agentscaler.services.actuator.plan import ProcView
from agentscaler.services.monitor.room import host_room, with_room
from agentscaler.services.policy.core.capacity import Capacity
from agentscaler.shared.messages.agents import (
    AgentRecord,
    AgentState,
    Deregister,
    Exited,
    Heartbeat,
    Register,
    Spawned,
)
from agentscaler.shared.messages.pools import DesiredState, Mode, PoolConfig
from agentscaler.shared.messages.snapshots import (
    AgentCounts,
    HostSnapshot,
    PoolSnapshot,
    QueueStats,
    Snapshot,
    TaskStats,
)
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.numbers import MIB

PROPERTY = settings(max_examples=150, deadline=None)
"""Settings for the properties: enough examples to be useful, no per-example deadline (CI machines vary)."""

# --- registry -------------------------------------------------------------------------------------------


def spawned(agent_id: str = "a1", *, pool: str = "p", host: str = "h", pid: int = 100, at: float = 0.0) -> Spawned:
    return Spawned(agent_id=agent_id, pool=pool, host=host, pid=pid, at=at)


def register(
    agent_id: str = "a1", *, pool: str = "p", host: str = "h", pid: int = 100, started_at: float = 0.0
) -> Register:
    return Register(agent_id=agent_id, pool=pool, host=host, pid=pid, started_at=started_at, traceparent="tp")


def heartbeat(
    agent_id: str = "a1",
    *,
    pool: str = "p",
    host: str = "h",
    pid: int = 100,
    state: AgentState = "ready",
    completed: int = 0,
    failed: int = 0,
    busy_since: float = 0.0,
    held: int = 0,
) -> Heartbeat:
    return Heartbeat(
        agent_id=agent_id,
        pool=pool,
        host=host,
        pid=pid,
        state=state,
        completed=completed,
        failed=failed,
        busy_since=busy_since,
        held=held,
    )


def deregister(agent_id: str = "a1", *, pool: str = "p", completed: int = 0, failed: int = 0) -> Deregister:
    return Deregister(agent_id=agent_id, pool=pool, completed=completed, failed=failed)


def exited(
    agent_id: str = "a1", *, pool: str = "p", host: str = "h", code: int = 0, drained: bool = False, at: float = 0.0
) -> Exited:
    return Exited(agent_id=agent_id, pool=pool, host=host, pid=100, code=code, drained=drained, at=at)


def record(
    agent_id: str = "a1",
    *,
    pool: str = "p",
    host: str = "h",
    state: AgentState = "ready",
    started_at: float = 0.0,
    last_seen: float = 0.0,
) -> AgentRecord:
    return AgentRecord(
        agent_id=agent_id, pool=pool, host=host, pid=100, state=state, started_at=started_at, last_seen=last_seen
    )


# --- actuator -------------------------------------------------------------------------------------------


def proc(
    agent_id: str,
    *,
    pool: str = "p",
    started_at: float = 0.0,
    draining: bool = False,
    state: AgentState | None = None,
    busy_since: float = 0.0,
    held: int = 0,
) -> ProcView:
    return ProcView(agent_id, pool, started_at, draining, state, busy_since, held)


# --- policy ---------------------------------------------------------------------------------------------


def pool_config(name: str = "p", *, max_agents: int = 100) -> PoolConfig:
    return PoolConfig(name=name, max_agents=max_agents)


def desired_state(pool: str = "p", desired: int = 0, *, mode: Mode = "manual") -> DesiredState:
    return DesiredState(pool=pool, desired=desired, mode=mode, updated_at=1.0, reason="before", traceparent="tp")


def capacity(agents_fit: int, *, hosts: tuple[str, ...] = ("h1",)) -> Capacity:
    return Capacity(
        agents_fit=agents_fit,
        memory_available=3000 * MIB,
        memory_reserve=1024 * MIB,
        per_agent=64 * MIB,
        hosts=hosts,
    )


# --- monitor and status ---------------------------------------------------------------------------------


def host_snapshot(host: str = "h1", **changes: Any) -> HostSnapshot:
    fields: dict[str, Any] = {
        "host": host,
        "cpu_count": 8,
        "cpu_percent": 37.0,
        "load1": 1.75,
        "memory_total": 16 * 1024**3,
        "memory_available": 6 * 1024**3,
        "memory_percent": 62.5,
        "disk_total": 500 * 1024**3,
        "disk_free": 123 * 1024**3,
        "disk_read_bps": 3 * MIB,
        "disk_write_bps": 7 * MIB,
        "agents": 11,
        "agent_rss_avg": 48 * MIB,
        "agent_memory_budget": 96 * MIB,
        "memory_reserve": 1024 * MIB,
        "agents_fit": 42,
    }
    fields.update(changes)
    if "room" not in changes:  # as the monitor figures it, from the memory and CPU fits
        fields["room"], fields["room_bound"] = host_room(fields["agents_fit"], fields.get("cpu_fit"))
    return HostSnapshot(**fields)


def pool_snapshot(name: str = "p", **changes: Any) -> PoolSnapshot:
    fields: dict[str, Any] = {
        "name": name,
        "mode": "manual",
        "desired": 9,
        "max_agents": 40,
        "agents": AgentCounts(starting=2, ready=3, busy=4, draining=1),
        "queue": QueueStats(pending=17, in_flight=5, waiting_pulls=6),
        "tasks": TaskStats(
            completed=1234,
            failed=56,
            throughput=7.25,
            latency_p50=0.81,
            latency_p95=2.47,
            wait_p95=13.39,
            window=60.0,
        ),
    }
    fields.update(changes)
    return PoolSnapshot(**fields)


def snapshot(at: float = 0.0, *, host: HostSnapshot | None = None, pools: list[PoolSnapshot] | None = None) -> Snapshot:
    """A published snapshot; each pool without room figures gets them from ``host``, as the monitor does."""
    host = host or host_snapshot()
    pools = [pool_snapshot()] if pools is None else pools
    return Snapshot(at=at, host=host, pools=[p if p.room_bound else with_room(p, [host]) for p in pools])


def task_result(
    *,
    status: str = "ok",
    submitted_at: float = 0.0,
    started_at: float = 0.0,
    finished_at: float = 0.0,
    task_id: str = "t",
) -> TaskResult:
    return TaskResult(
        id=task_id,
        pool="p",
        status=status,  # type: ignore[arg-type]
        submitted_at=submitted_at,
        started_at=started_at,
        finished_at=finished_at,
    )
