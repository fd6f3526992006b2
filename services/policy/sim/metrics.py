"""The figures a simulated run is judged by (see ``simulate.py``): agent-seconds, slack, the p95 queue wait and
the minutes of arrival whose tasks' p95 wait exceeds the target. Percentiles are nearest-rank: the p95 of n
values is the ``ceil(0.95 n)``-th smallest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentscaler.shared.numbers import nearest_rank

from .simulate import RunResult
from .workload import Workload


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (the ``ceil(0.95 n)``-th smallest); 0 for no values."""
    if not values:
        return 0.0
    rank = nearest_rank(len(values), 95)
    positive = sorted(v for v in values if v > 0)
    zeros = len(values) - len(positive)
    return 0.0 if rank <= zeros else positive[rank - zeros - 1]


def p95_exceeds(values: Sequence[float], limit: float) -> bool:
    """Whether the nearest-rank p95 of ``values`` is above ``limit``, without sorting: it is iff more than
    ``n - ceil(0.95 n)`` of them are."""
    if not values or max(values) <= limit:
        return False
    above = sum(1 for v in values if v > limit)
    return above > len(values) - nearest_rank(len(values), 95)


def minutes_over(waits: Sequence[float], workload: Workload, target: float, minute: float = 60.0) -> int:
    """Minutes of arrival whose tasks' p95 wait exceeds ``target``; ``minute`` is its length in seconds (less
    for a load played faster than it was recorded)."""
    return sum(1 for lo, hi in workload.windows(minute) if p95_exceeds(waits[lo:hi], target))


@dataclass(frozen=True)
class Metrics:
    """The figures a policy is judged by on one workload (see the module docstring)."""

    policy: str
    agent_seconds: float
    slack: float
    p95_wait: float
    minutes_over: int
    minutes: int
    """Minutes of the trace with at least one arrival."""
    actions: int
    unfinished: int
    peak_agents: int


def measure(result: RunResult, workload: Workload, target_wait: float, minute: float = 60.0) -> Metrics:
    """The :class:`Metrics` of a run."""
    slack = 1.0 - result.busy_seconds / result.agent_seconds if result.agent_seconds > 0 else 0.0
    return Metrics(
        policy=result.policy,
        agent_seconds=result.agent_seconds,
        slack=slack,
        p95_wait=p95(result.waits),
        minutes_over=minutes_over(result.waits, workload, target_wait, minute),
        minutes=len(workload.windows(minute)),
        actions=result.actions,
        unfinished=result.unfinished,
        peak_agents=result.peak_agents,
    )
