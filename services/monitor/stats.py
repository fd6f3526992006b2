"""Task figures from results: exact counts, and throughput and latency percentiles over a sliding window; and
how long agents take to start."""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from agentscaler.shared.messages.agents import AgentRecord
from agentscaler.shared.messages.snapshots import TaskStats
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.numbers import percentile

START_SAMPLE = 20
"""The latest agents to start whose start times make a pool's figure."""


def start_time(agents: Sequence[AgentRecord]) -> float:
    """Median seconds the latest ``START_SAMPLE`` of ``agents`` seen starting took to register; 0 for none.
    The median, so that the last agents of a burst, which waited their turn to start, do not make the
    pool's agents look slow."""
    measured = sorted((a for a in agents if a.start_seconds > 0), key=lambda a: a.started_at)[-START_SAMPLE:]
    return round(statistics.median(a.start_seconds for a in measured), 4) if measured else 0.0


@dataclass
class PoolTaskStats:
    """Counts every result once (results are created once per task) and keeps the recent ones."""

    completed: int = 0
    failed: int = 0
    recent: deque[tuple[float, float, float, float]] = field(default_factory=deque)
    """(finished_at, latency, wait, service) of recent results, oldest first."""
    submitted: int = -1
    """Tasks ever queued, at the last snapshot (-1 before the first)."""
    submitted_at: float = 0.0

    def add(self, result: TaskResult) -> None:
        if result.status == "ok":
            self.completed += 1
        else:
            self.failed += 1
        latency = max(result.finished_at - result.submitted_at, 0.0)
        wait = max(result.started_at - result.submitted_at, 0.0)
        service = max(result.finished_at - result.started_at, 0.0)
        self.recent.append((result.finished_at, latency, wait, service))

    def arrivals(self, submitted: int, now: float) -> float:
        """Tasks submitted per second since the last call, from the queue's running count of tasks."""
        before, since = self.submitted, self.submitted_at
        self.submitted, self.submitted_at = submitted, now
        if before < 0 or now <= since or submitted < before:  # first look, or the stream was recreated
            return 0.0
        return round((submitted - before) / (now - since), 3)

    def stats(self, now: float, window: float, arrival_rate: float = 0.0) -> TaskStats:
        while self.recent and self.recent[0][0] < now - window:
            self.recent.popleft()
        in_window = [r for r in self.recent if now - window <= r[0] <= now]
        latencies = [r[1] for r in in_window]
        waits = [r[2] for r in in_window]
        services = [r[3] for r in in_window]
        return TaskStats(
            completed=self.completed,
            failed=self.failed,
            throughput=round(len(in_window) / window, 3),
            latency_p50=round(percentile(latencies, 50), 4),
            latency_p95=round(percentile(latencies, 95), 4),
            wait_p95=round(percentile(waits, 95), 4),
            window=window,
            service_mean=round(sum(services) / len(services), 4) if services else 0.0,
            arrival_rate=arrival_rate,
        )
