"""The monitor's metrics (docs/metrics.md): the agents, CPU and memory of its own host, and the tasks its
host's agents finished. Each figure carries the ``host`` label and is exported by that host's monitor alone,
so sums over the fleet count every agent and every task once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from agentscaler.shared.messages.agents import AgentRecord, AgentState
from agentscaler.shared.messages.snapshots import HostSnapshot
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.telemetry.metrics import Labels, Readings, labels, meter

STATES: tuple[str, ...] = get_args(AgentState)

AGENTS = Readings("agentscaler_agents", "Agents of each pool on each host, by registry state")
HOST_CPU = Readings("agentscaler_host_cpu_ratio", "Host CPU use over the monitor's last sample interval, 0-1")
HOST_MEMORY_TOTAL = Readings("agentscaler_host_memory_total_bytes", "Host memory in bytes")
HOST_MEMORY_AVAILABLE = Readings("agentscaler_host_memory_available_bytes", "Host memory available in bytes")
HOST_ROOM = Readings("agentscaler_host_room_agents", "How many more agents the host takes (memory and CPU)")
TASKS = meter().create_counter(
    "agentscaler_tasks_total", description="Tasks finished by the host's agents, by outcome (ok or failed)"
)
TASK_WAIT = meter().create_histogram(
    "agentscaler_task_wait_seconds", unit="s", description="Seconds from a task's submission to its start"
)
TASK_DURATION = meter().create_histogram(
    "agentscaler_task_duration_seconds", unit="s", description="Seconds from a task's start to its result"
)


def agent_counts(agents: Iterable[AgentRecord], pools: Iterable[str], host: str) -> dict[Labels, float]:
    """The agents of ``host`` per (pool, state), every state of every known pool included (0 for none), so a
    pool's sum is 0 rather than absent when it runs no agent."""
    counts: dict[Labels, float] = {labels(pool=p, state=s, host=host): 0.0 for p in pools for s in STATES}
    for agent in agents:
        if agent.host == host:
            key = labels(pool=agent.pool, state=agent.state, host=host)
            counts[key] = counts.get(key, 0.0) + 1
    return counts


def ran_on(result: TaskResult, host: str) -> bool:
    """Whether the agent that produced ``result`` ran on ``host``: agent ids are ``<pool>-<host>-<run>-<seq>``
    (services/actuator), ``<run>`` and ``<seq>`` free of dashes, so a host named like the start of another
    (``gpu`` and ``gpu-2``) is told apart."""
    rest = result.agent_id.removeprefix(f"{result.pool}-{host}-")
    return rest != result.agent_id and rest.count("-") == 1


def record_host(sample: HostSnapshot, agents: Iterable[AgentRecord], pools: Iterable[str]) -> None:
    host = sample.host
    AGENTS.set(host, agent_counts(agents, pools, host))
    key = labels(host=host)
    HOST_CPU.set(host, {key: sample.cpu_percent / 100})
    HOST_MEMORY_TOTAL.set(host, {key: float(sample.memory_total)})
    HOST_MEMORY_AVAILABLE.set(host, {key: float(sample.memory_available)})
    HOST_ROOM.set(host, {key: float(sample.room)})


def forget_host(host: str) -> None:
    """A monitor that stops exports nothing more of its host (another may run there next)."""
    for readings in (AGENTS, HOST_CPU, HOST_MEMORY_TOTAL, HOST_MEMORY_AVAILABLE, HOST_ROOM):
        readings.clear(host)


def record_result(result: TaskResult, host: str) -> None:
    attributes = {"pool": result.pool, "host": host}
    TASKS.add(1, {**attributes, "status": result.status})
    if result.submitted_at > 0 and result.started_at >= result.submitted_at:
        TASK_WAIT.record(result.started_at - result.submitted_at, attributes)
    if result.started_at > 0 and result.finished_at >= result.started_at:
        TASK_DURATION.record(result.finished_at - result.started_at, attributes)
