"""The monitor's one recorder of finished tasks, the pool's ledger: its bounds, one throughput for every
figure, and reads that change nothing (only the periodic snapshot moves the books on)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.monitor.arrivals import Arrivals
from agentscaler.services.monitor.ledger import AHEAD, DAY_MINUTES, HOUR, KEEP, RECENT, Ledger, throughput
from agentscaler.services.monitor.pace import SpawnPace
from agentscaler.services.monitor.ring import Ring

from .builders import PROPERTY, record, task_result

T = 100_000.0  # a whole minute


# --- bounds ---------------------------------------------------------------------------------------------


def test_a_ring_keeps_its_latest_units_in_fixed_memory() -> None:
    ring = Ring(10, 2)
    for unit in range(1000):
        ring.add(unit, (1.0, 0.5))
    assert (len(ring.units), len(ring.sums)) == (10, 20)
    assert ring.total(0) == [10.0, 5.0]  # units 990..999
    ring.add(995, (1.0, 0.0))
    ring.add(985, (1.0, 0.0))  # its slot holds 995: older than the ring reaches, dropped
    assert ring.total(990, 1000) == [11.0, 5.0]
    assert ring.total(980, 990) == [0.0, 0.0]


def test_the_per_second_figures_reach_keep_seconds_back_and_no_further() -> None:
    ledger = Ledger()
    ledger.add(task_result(finished_at=T))
    assert ledger.window(T, T + 1, now=T + KEEP).tasks == 1
    assert ledger.window(T, T + 1, now=T + KEEP + 1).tasks == 0  # no longer read
    ledger.add(task_result(finished_at=T + KEEP + AHEAD))  # takes the slot of T
    ledger.add(task_result(finished_at=T))  # a result that late is not kept
    assert ledger.window(T, T + 1, now=T + 1).tasks == 0
    assert len(ledger.seconds.units) == KEEP + AHEAD and len(ledger.minutes.units) == DAY_MINUTES + AHEAD


def test_the_raw_window_is_bounded_and_the_throughput_stays_exact_beyond_it() -> None:
    """More results in the stats window than ``RECENT``: the percentiles are over the latest ``RECENT``, and
    the throughput counts every result, from the per-second figures."""
    ledger, count = Ledger(), RECENT + 600
    for k in range(count):  # from T - 50 to T - 8: 600 results of 1 s, then 10,000 of 2 s
        at = T - 50 + k * 0.004
        ledger.add(task_result(submitted_at=at - (1 if k < 600 else 2), finished_at=at))
    figures = ledger.stats(T, 60.0)
    assert len(ledger.recent) == RECENT
    assert figures.throughput == round(count / 60, 3)
    assert (figures.latency_p50, figures.latency_p95, figures.completed) == (2.0, 2.0, count)


def test_the_raw_window_keeps_only_the_stats_window_after_a_periodic_snapshot() -> None:
    ledger = Ledger()
    for at in (T - 100, T - 61, T - 60, T - 1):
        ledger.add(task_result(finished_at=at))
    ledger.stats(T, 60.0)
    assert len(ledger.recent) == 4
    ledger.advance(T, agents=0, window=60.0)
    assert [r[0] for r in ledger.recent] == [T - 60, T - 1]


# --- one throughput -------------------------------------------------------------------------------------


def test_throughput_is_tasks_over_the_seconds_of_the_window() -> None:
    assert (throughput(120, 60.0), throughput(0, 60.0), throughput(5, 0.0)) == (2.0, 0.0, 0.0)


def test_the_stats_window_and_an_impact_window_agree_on_the_same_seconds() -> None:
    ledger = Ledger()
    for second in range(int(T) - 60, int(T)):
        for _ in range(3):
            ledger.add(task_result(submitted_at=second, finished_at=second + 0.5))
    stats = ledger.stats(T, 60.0)
    window = ledger.window(T - 60, T, now=T)
    assert stats.throughput == window.throughput == throughput(180, 60.0) == 3.0


# --- reads change nothing -------------------------------------------------------------------------------

EVENTS = st.lists(
    st.tuples(st.booleans(), st.floats(0, 5000), st.integers(0, 30), st.none() | st.floats(0, 5000)), max_size=60
)


@PROPERTY
@given(events=EVENTS)
def test_reading_a_ledger_changes_nothing(events: list[tuple[bool, float, int, float | None]]) -> None:
    """Two ledgers get the same results and periodic snapshots; one is also read at any time between. They
    stay equal, so every figure read later is the same."""
    read, quiet = Ledger(), Ledger()
    for is_result, at, n, look in events:
        for ledger in (read, quiet):
            if is_result:
                ledger.add(task_result(submitted_at=at - n, started_at=at - n / 2, finished_at=at))
            else:
                ledger.advance(at, n, 60.0)
        if look is not None:
            read.stats(look, 60.0)
            read.window(look - 30, look, look)
            read.used(look, HOUR)
            read.covered(look)
    assert read == quiet


def test_the_arrival_rate_moves_its_baseline_only_when_advanced() -> None:
    arrivals = Arrivals()
    assert arrivals.advance(10, T) == 0.0  # the first look: the baseline
    assert arrivals.rate(40, T + 10) == 3.0  # a status view
    assert arrivals.rate(70, T + 20) == 3.0
    assert arrivals.advance(70, T + 20) == 3.0  # the next periodic snapshot, as if no view had been taken
    assert arrivals.advance(0, T + 30) == 0.0  # the count not known: the baseline stays
    assert arrivals.advance(100, T + 40) == 1.5
    assert arrivals.advance(5, T + 50) == 0.0  # the stream was recreated
    assert arrivals.advance(15, T + 60) == 1.0


def test_reading_the_spawn_pace_changes_nothing() -> None:
    read, quiet = SpawnPace(), SpawnPace()
    up = [record(f"a{i}", state="ready") for i in range(60)]
    steps = [(T, 200, up[:0]), (T + 1, 200, up[:20]), (T + 2, 200, up[:60])]
    paces = []
    for now, desired, agents in steps:
        assert read.rate(now + 0.5) == read.rate(now + 0.5)
        paces.append((read.observe(now, desired, agents), quiet.observe(now, desired, agents)))
    assert paces == [(0.0, 0.0), (20.0, 20.0), (30.0, 30.0)]
    assert read == quiet and read.rate(T + 2) == 30.0
