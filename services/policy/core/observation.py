"""What the auto policy sees of a pool at one moment: built from a monitor snapshot by the service, or by
the simulator from its simulated queue."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    at: float
    """When this was observed (seconds, the same clock as ``now``)."""
    pending: int
    """Tasks waiting in the queue, not yet delivered to an agent."""
    in_flight: int
    """Tasks delivered to an agent and not yet finished: work that scaling down must not drop."""
    agents: int
    """Agents running or starting, not draining."""
    busy: int
    """Agents running a task."""
    arrival_rate: float
    """Tasks submitted per second, recently."""
    service_time: float
    """Mean seconds an agent spends on a task, recently; 0 when no task has finished yet."""
    wait_p95: float
    """95th percentile of the seconds recent tasks waited in the queue before an agent started them."""
    throughput: float
    """Tasks finished per second, recently."""
    cpu_percent: float | None = None
    """Host CPU use, 0-100; None when unknown."""
    iowait_percent: float | None = None
    """Share of CPU time the host spent waiting for I/O, 0-100; None when unknown."""
    agents_fit: int | None = None
    """How many more agents the host's memory takes; None when unknown."""

    @property
    def backlog(self) -> int:
        """Every task not yet finished: the queued ones and the ones in progress."""
        return self.pending + self.in_flight
