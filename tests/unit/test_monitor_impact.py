"""What a scaling change did: task figures in windows before and after it, per agent, flags and cost."""

from __future__ import annotations

import pytest

from agentscaler.services.monitor.impact import CHANGES, Changes, impact
from agentscaler.services.monitor.ledger import Ledger
from agentscaler.shared.messages.decisions import DecisionEvent

from .builders import task_result

T = 10_000.0


def change(previous: int, desired: int, at: float = T, applied: bool = True) -> DecisionEvent:
    return DecisionEvent(
        pool="p", previous=previous, desired=desired, rule="auto.backlog", reason="", trigger="arrival", at=at,
        applied=applied,
    )  # fmt: skip


def finished(ledger: Ledger, at: float, latency: float, wait: float) -> None:
    """A task finished at ``at`` after ``latency`` seconds, ``wait`` of them in the queue."""
    ledger.add(task_result(submitted_at=at - latency, started_at=at - latency + wait, finished_at=at))


def steady(series: Ledger, start: float, end: float, per_second: int, latency: float, wait: float) -> None:
    for second in range(int(start), int(end)):
        for _ in range(per_second):
            finished(series, second + 0.5, latency, wait)


def test_a_scale_up_that_doubles_throughput_is_clean_and_costs_its_agents() -> None:
    series = Ledger()
    steady(series, T - 60, T, 2, latency=9.0, wait=6.0)
    steady(series, T + 5, T + 65, 4, latency=3.0, wait=0.5)
    i = impact(change(4, 8), series, now=T + 70, window=60, settle=5, per_agent_hour=0.5)
    assert i.before.throughput == 2.0 and i.after is not None and i.after.throughput == 4.0
    assert (i.before.latency_mean, i.after.latency_mean, i.before.wait_mean, i.after.wait_mean) == (9, 3, 6, 0.5)
    assert (i.per_agent_before, i.per_agent_after) == (0.5, 0.5)
    assert i.flags == [] and i.cost_per_hour == 2.0


def test_a_scale_up_that_brings_no_throughput_is_flagged() -> None:
    series = Ledger()
    steady(series, T - 60, T + 65, 2, latency=9.0, wait=6.0)  # a rate limit: 2/s whatever the agents
    i = impact(change(4, 8), series, now=T + 70, window=60, settle=5, per_agent_hour=0.5)
    assert i.flags == ["no_gain", "degraded"] and i.per_agent_after == 0.25


def test_a_scale_down_saves_and_the_after_window_waits_for_its_time() -> None:
    series = Ledger()
    steady(series, T - 60, T, 2, latency=1.0, wait=0.0)
    i = impact(change(8, 4), series, now=T + 30, window=60, settle=5, per_agent_hour=0.5)
    assert i.after is None and i.cost_per_hour == -2.0 and i.flags == []
    # the work ran out after it: per-agent throughput fell, but that is no degradation of the agents
    i = impact(change(8, 4), series, now=T + 70, window=60, settle=5, per_agent_hour=0.5)
    assert i.after is not None and i.after.throughput == 0 and i.flags == []


def test_only_applied_changes_of_count_are_kept_and_only_the_latest() -> None:
    changes = Changes()
    changes.heard(change(4, 4, at=1))  # a hold
    changes.heard(change(4, 8, at=2, applied=False))  # a dry run
    for k in range(CHANGES + 2):
        changes.heard(change(k, k + 1, at=10 + k))
    changes.heard(change(CHANGES + 1, CHANGES + 2, at=10 + CHANGES + 1))  # heard twice (history and live)
    assert [c.at for c in changes.recent] == [10 + k for k in range(2, CHANGES + 2)]


def test_old_seconds_are_forgotten() -> None:
    series = Ledger()
    finished(series, T, 1.0, 0.0)
    assert series.window(T - 1, T + 2, now=T + 2).tasks == 1
    assert series.window(T - 1, T + 2, now=T + 10_000).tasks == 0


@pytest.mark.parametrize(
    ("start", "end", "tasks"), [(T, T + 1, 1), (T - 1, T + 1.9, 1), (T + 0.5, T + 2, 0), (T + 1, T + 2, 0)]
)
def test_windows_count_whole_seconds(start: float, end: float, tasks: int) -> None:
    series = Ledger()
    finished(series, T + 0.5, 1.0, 0.0)
    assert series.window(start, end, now=T + 2).tasks == tasks
