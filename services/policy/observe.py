"""From what the policy hears (monitor snapshots, task submissions) to what the auto core decides on."""

from __future__ import annotations

from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.snapshots import HostSnapshot, PoolSnapshot


def observation(
    pool: PoolSnapshot | None,
    host: HostSnapshot | None,
    agents_fit: int | None,
    arrived: int,
    now: float,
    room_bound: str = "memory",
) -> Observation | None:
    """The pool as of its latest snapshot, plus the ``arrived`` tasks submitted since that snapshot was
    taken (the policy counts submissions itself, so a burst or a first task is seen at once). ``host`` gives
    the CPU and I/O figures, ``agents_fit`` the agents all fresh hosts still fit (their room), ``room_bound``
    what bounds that. None when there is neither a snapshot nor a submission to go on."""
    if pool is None:
        if arrived == 0:
            return None
        return Observation(
            at=now,
            pending=arrived,
            in_flight=0,
            agents=0,
            busy=0,
            arrival_rate=0.0,
            service_time=0.0,
            wait_p95=0.0,
            throughput=0.0,
        )
    a, q, t = pool.agents, pool.queue, pool.tasks
    return Observation(
        at=now,
        pending=q.pending + arrived,
        in_flight=q.in_flight,
        agents=a.starting + a.ready + a.busy,
        busy=a.busy,
        arrival_rate=t.arrival_rate,
        service_time=t.service_mean,
        wait_p95=t.wait_p95,
        throughput=t.throughput,
        cpu_percent=None if host is None else host.cpu_percent,
        iowait_percent=None if host is None else host.iowait_percent,
        agents_fit=agents_fit,
        room_bound=room_bound,
        start_time=pool.start_time,
    )
