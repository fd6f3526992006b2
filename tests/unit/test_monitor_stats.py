"""The monitor's task figures: nearest-rank percentiles and a sliding window over results; how fast agents
start, alone and many at once."""

from __future__ import annotations

import math
from fractions import Fraction

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agentscaler.services.monitor.ledger import Ledger
from agentscaler.services.monitor.pace import MEMORY, START_SAMPLE, SpawnPace, start_time
from agentscaler.shared.messages.agents import AgentRecord
from agentscaler.shared.numbers import percentile

from .builders import PROPERTY, record, task_result


def nearest_rank(values: list[float], q: int) -> float:
    """The textbook definition, in exact arithmetic: the smallest value with at least q% of values at or below."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(q, 100) * len(ordered)))
    return ordered[rank - 1]


# --- percentile -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, 0.0),
        ([3.0], 0, 3.0),
        ([3.0], 100, 3.0),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0, 1),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10, 1),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 11, 2),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100, 10),
        ([10, 1, 9, 2, 8, 3], 50, 3),  # unsorted input
        ([15, 20, 35, 40, 50], 30, 20),  # the Wikipedia example
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
    ],
)
def test_percentile(values, q, expected):
    assert percentile(values, q) == expected


VALUES = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=300)


@PROPERTY
@given(values=VALUES, q=st.sampled_from([0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 100]))
def test_percentile_matches_nearest_rank_at_the_quantiles_we_report(values, q):
    assert percentile(values, q) == nearest_rank(values, q)


@PROPERTY
@given(values=VALUES, q=st.integers(0, 100))
@example(values=[float(v) for v in range(1, 101)], q=7)
def test_percentile_matches_nearest_rank_for_any_whole_q(values, q):
    assert percentile(values, q) == nearest_rank(values, q)


@PROPERTY
@given(values=VALUES.filter(bool), q1=st.floats(0, 100), q2=st.floats(0, 100))
def test_percentile_is_a_member_and_monotone_in_q(values, q1, q2):
    low, high = sorted((q1, q2))
    assert percentile(values, low) in values
    assert min(values) <= percentile(values, low) <= percentile(values, high) <= max(values)


# --- the stats window of a pool's Ledger ----------------------------------------------------------------


def test_counts_ok_and_failed():
    s = Ledger()
    for status in ["ok", "ok", "failed", "ok", "failed"]:
        s.add(task_result(status=status, finished_at=1.0))
    figures = s.stats(now=2.0, window=60.0)
    assert (figures.completed, figures.failed, figures.window) == (3, 2, 60.0)


def test_empty_stats_are_zero():
    figures = Ledger().stats(now=100.0, window=60.0)
    assert (figures.completed, figures.failed, figures.throughput) == (0, 0, 0.0)
    assert (figures.latency_p50, figures.latency_p95, figures.wait_p95) == (0.0, 0.0, 0.0)


def test_window_drops_old_results_but_counts_stay_exact():
    s = Ledger()
    for finished in [10.0, 39.9, 40.0, 70.0, 100.0]:
        s.add(task_result(finished_at=finished, submitted_at=finished - 1))
    figures = s.stats(now=100.0, window=60.0)
    assert figures.throughput == round(3 / 60, 3)  # 40.0 (the window's edge), 70.0 and 100.0
    assert figures.completed == 5
    assert len(s.recent) == 5  # reading lets nothing go
    s.advance(100.0, agents=0, window=60.0)  # the periodic snapshot does
    assert len(s.recent) == 3
    assert s.stats(now=1000.0, window=60.0).throughput == 0.0
    assert s.stats(now=1000.0, window=60.0).completed == 5


def test_results_from_the_future_wait_for_their_time():
    """A result finished after ``now`` (clock skew between hosts) is kept but not yet counted."""
    s = Ledger()
    s.add(task_result(finished_at=50.0))
    s.add(task_result(finished_at=130.0))
    assert s.stats(now=100.0, window=60.0).throughput == round(1 / 60, 3)
    assert s.stats(now=130.0, window=60.0).throughput == round(1 / 60, 3)  # 50.0 has left, 130.0 has arrived


def test_latency_and_wait_percentiles():
    s = Ledger()
    for i in range(1, 21):  # latencies 1..20 s, waits 0.5..10 s
        s.add(task_result(submitted_at=100.0, started_at=100.0 + i / 2, finished_at=100.0 + i))
    figures = s.stats(now=130.0, window=60.0)
    assert (figures.latency_p50, figures.latency_p95, figures.wait_p95) == (10.0, 19.0, 9.5)


def test_clock_skew_never_gives_negative_latency():
    s = Ledger()
    s.add(task_result(submitted_at=50.0, started_at=40.0, finished_at=45.0))
    figures = s.stats(now=60.0, window=60.0)
    assert (figures.latency_p50, figures.wait_p95) == (0.0, 0.0)


@PROPERTY
@given(
    finished=st.lists(st.floats(0, 1000), max_size=50).map(sorted),
    now=st.floats(0, 1200),
    window=st.floats(1, 600),
)
def test_throughput_is_results_in_window_over_window(finished, now, window):
    s = Ledger()
    for at in finished:
        s.add(task_result(finished_at=at, status="ok" if int(at) % 3 else "failed"))
    figures = s.stats(now, window)
    in_window = [at for at in finished if now - window <= at <= now]
    assert figures.throughput == round(len(in_window) / window, 3)
    assert figures.completed + figures.failed == len(finished)


def test_window_drops_old_results_that_arrived_out_of_order():
    s = Ledger()
    s.add(task_result(finished_at=100.0, submitted_at=99.0))
    s.add(task_result(finished_at=10.0, submitted_at=0.0))  # from another agent, delivered late
    figures = s.stats(now=110.0, window=60.0)
    assert figures.throughput == round(1 / 60, 3)
    assert figures.latency_p95 == 1.0


def test_start_time_is_the_median_over_the_latest_agents_to_start():
    def timed(name: str, started_at: float, seconds: float) -> AgentRecord:
        return msgspec.structs.replace(record(name, started_at=started_at), start_seconds=seconds)

    old = [timed(f"old{i}", i, 9.0) for i in range(START_SAMPLE)]
    new = [timed(f"new{i}", 100 + i, 0.5) for i in range(START_SAMPLE // 2 + 1)]
    unmeasured = [record("restored", started_at=200)]  # registered before the registry saw it start
    assert start_time(old + new + unmeasured) == 0.5  # most of the latest are new ones
    assert start_time(old[:3]) == 9.0
    assert start_time(unmeasured) == 0.0
    assert start_time([]) == 0.0


# The host's pace of starting a pool's agents.


def agents_up(n: int, *, starting: int = 0, prefix: str = "a") -> list[AgentRecord]:
    up = [record(f"{prefix}{i}", state="ready") for i in range(n)]
    return up + [record(f"s{i}", state="starting") for i in range(starting)]


def test_the_pace_is_measured_only_while_many_agents_are_wanted() -> None:
    pace = SpawnPace()
    assert pace.observe(0.0, 5, agents_up(0, starting=5)) == 0.0
    assert pace.observe(1.0, 5, agents_up(5)) == 0.0  # 5 came up, but only 5 were wanted: the pool set the pace
    assert pace.observe(2.0, 205, agents_up(5, starting=50)) == 0.0  # 200 wanted from here
    assert pace.observe(3.0, 205, agents_up(55)) == 50.0
    assert pace.observe(3.5, 205, agents_up(55)) == 33.33  # none came up in this one: a batch is on its way
    assert pace.observe(4.0, 205, agents_up(145)) == 70.0  # 140 in 2 s
    assert pace.observe(4.5, 205, agents_up(205)) == 70.0  # all came up: the pool's demand set how many
    assert pace.observe(5.5, 205, agents_up(205)) == 70.0  # none wanted any more: nothing measured
    assert pace.observe(5.5 + MEMORY, 0, agents_up(0)) == 0.0  # forgotten after an hour
