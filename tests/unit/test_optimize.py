"""The optimize search (``services/policy/sim/search.py``), the rebuilding of a recorded load
(``workload.py``) and a trial's figures (``trial.py``): tables, properties and small simulated runs. No I/O."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.policy.sim.metrics import minutes_over
from agentscaler.services.policy.sim.search import (
    FRONT,
    MIN_GAIN,
    MIN_SAMPLES,
    MIN_TASKS,
    Search,
    better,
    changes,
    shortfall,
    variants,
)
from agentscaler.services.policy.sim.trial import Setup, run_trial
from agentscaler.services.policy.sim.workload import NoRecord, Workload, rebuild
from agentscaler.shared.messages.decisions import DemandSample
from agentscaler.shared.messages.optimize import Trial
from agentscaler.shared.messages.pools import AutoConfig

from .builders import PROPERTY


def sample(at: float, arrived: int | None, service: float | None = 8.0, interval: float | None = 30.0) -> DemandSample:
    return DemandSample(
        pool="p", at=at, demand=0, agents=0, desired=0, pending=0, in_flight=0, arrival_rate=0.0,
        service_time=0.0, interval=interval, arrived=arrived, service_mean=service,
    )  # fmt: skip


def trial(config: AutoConfig | None = None, *, agent_seconds: float = 1000.0, minutes_over: int = 0,
          cost_per_hour: float = 1.0, p95_wait: float = 1.0, peak: int = 10, unfinished: int = 0) -> Trial:  # fmt: skip
    return Trial(
        config=config or AutoConfig(), agent_seconds=agent_seconds, cost=cost_per_hour, cost_per_hour=cost_per_hour,
        p95_wait=p95_wait, minutes_over=minutes_over, minutes=60, actions=10, peak_agents=peak, unfinished=unfinished,
    )  # fmt: skip


# Rebuilding the recorded load.


def test_rebuild_puts_each_samples_arrivals_in_its_interval_with_its_mean_service() -> None:
    samples = [sample(1030.0, 3, 2.0), sample(1060.0, 0, None), sample(1090.0, 5, None), sample(1120.0, 4, 10.0)]
    recorded = rebuild(samples, random.Random(1))
    w = recorded.workload
    assert recorded.origin == 1000.0 and recorded.span == 120.0 and recorded.samples == 4 and recorded.skipped == 0
    assert len(w) == 12 and w.arrivals == sorted(w.arrivals)
    per_interval = [sum(1 for a in w.arrivals if lo <= a < lo + 30) for lo in (0, 30, 60, 90)]
    assert per_interval == [3, 0, 5, 4]
    assert all(s > 0 for s in w.services)


def test_rebuild_keeps_a_burst_where_the_samples_arrival_marks_put_it() -> None:
    """A sample that says when its tasks came (at each decision) has them there, not spread over its interval;
    marks that do not add up to its count are not trusted."""
    burst = msgspec.structs.replace(sample(30.0, 110), arrivals=[(4.0, 5), (6.5, 100), (30.0, 5)])
    w = rebuild([burst], random.Random(2)).workload
    assert sum(1 for a in w.arrivals if 4.0 <= a < 6.5) == 100
    assert sum(1 for a in w.arrivals if a < 4.0) == 5 and sum(1 for a in w.arrivals if a >= 6.5) == 5
    wrong = msgspec.structs.replace(burst, arrivals=[(6.5, 100)])
    spread = rebuild([wrong], random.Random(2)).workload
    assert len(spread) == 110 and sum(1 for a in spread.arrivals if 4.0 <= a < 6.5) < 50


def test_rebuild_carries_the_latest_known_service_mean_forward() -> None:
    """A sample without a mean (no task finished in it) takes the one before it; the first ones the first known."""
    samples = [sample(30.0, 4000, None), sample(60.0, 4000, 2.0), sample(90.0, 4000, None), sample(120.0, 4000, 20.0)]
    w = rebuild(samples, random.Random(3)).workload
    means = [sum(s for a, s in zip(w.arrivals, w.services, strict=True) if lo <= a < lo + 30) / 4000
             for lo in (0, 30, 60, 90)]  # fmt: skip
    for got, want in zip(means, [2.0, 2.0, 2.0, 20.0], strict=True):
        assert got == pytest.approx(want, rel=0.06)  # exponential draws around the mean


def test_rebuild_is_the_same_for_the_same_seed_and_skips_samples_without_arrivals() -> None:
    samples = [sample(30.0, None), sample(60.0, 10, interval=None), sample(90.0, 7), sample(120.0, 9)]
    a, b = rebuild(samples, random.Random(7)), rebuild(samples, random.Random(7))
    assert a.workload == b.workload and a.skipped == 2 and a.samples == 2 and len(a.workload) == 16
    assert a.origin == 60.0
    assert rebuild(samples, random.Random(8)).workload != a.workload


@pytest.mark.parametrize(
    ("samples", "words"),
    [
        ([], "no demand sample records its arrivals"),
        ([sample(30.0, None)], "no demand sample records its arrivals"),
        ([sample(30.0, 5, None), sample(60.0, 5, None)], "service times are unknown"),
    ],
)
def test_rebuild_refuses_what_records_no_load(samples: list[DemandSample], words: str) -> None:
    with pytest.raises(NoRecord, match=words):
        rebuild(samples, random.Random(1))


@PROPERTY
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(0.5, 120.0)), min_size=1, max_size=30))
def test_rebuilt_load_has_every_recorded_task_inside_the_samples_span(counts: list[tuple[int, float]]) -> None:
    samples = [sample(30.0 * (i + 1), n, 5.0, interval=iv) for i, (n, iv) in enumerate(counts)]
    samples = [s for s in samples if s.interval is not None and s.interval <= 30.0] or [sample(30.0, 1, 5.0)]
    recorded = rebuild(samples, random.Random(0))
    w = recorded.workload
    assert len(w) == sum(s.arrived or 0 for s in samples)
    assert w.arrivals == sorted(w.arrivals)
    assert all(0.0 <= a <= recorded.span for a in w.arrivals)


@pytest.mark.parametrize(
    ("counts", "enough"),
    [([10] * 20, True), ([10] * 19 + [20], True), ([9] * 20, False), ([100] * 19, False), ([300], False)],
)
def test_too_little_history_says_what_it_has_and_what_it_needs(counts: list[int], enough: bool) -> None:
    recorded = rebuild([sample(30.0 * (i + 1), n) for i, n in enumerate(counts)], random.Random(1))
    words = shortfall(recorded)
    if enough:
        assert words is None
    else:
        assert words is not None
        assert f"it has {sum(counts)} tasks in {len(counts)} demand samples" in words
        assert f"needs at least {MIN_TASKS} tasks and {MIN_SAMPLES} samples" in words


# The search's moves and order.


def test_variants_try_multiples_of_the_current_settings_and_fixed_choices() -> None:
    current = AutoConfig(scale_down_window=20.0, tolerance=0.15, min_agents=3)
    base = trial(current, peak=40)
    windows = [c.scale_down_window for c in variants("scale_down_window", current, current, base)]
    assert windows == [5.0, 10.0, 20.0, 40.0, 80.0]
    assert [c.tolerance for c in variants("tolerance", current, current, base)] == [0.0, 0.05, 0.1, 0.2, 0.3, 0.15]
    assert [c.min_agents for c in variants("min_agents", current, current, base)] == [0, 1, 2, 3]
    caps = [c.max_agents for c in variants("max_agents", current, current, base)]
    assert caps == [None, 36, 30, 20, 10]
    # A variant moves one setting of the best so far, not of the current settings.
    best = msgspec.structs.replace(current, tolerance=0.3)
    assert all(c.tolerance == 0.3 for c in variants("scale_down_window", current, best, base))


def test_a_cap_below_the_floor_is_not_tried() -> None:
    current = AutoConfig(min_agents=2)
    caps = [c.max_agents for c in variants("max_agents", current, current, trial(current, peak=2))]
    assert caps == [None, 2]


def test_changes_name_each_setting_that_differs() -> None:
    other = AutoConfig(scale_down_window=2.5, max_agents=33, predict=False)
    assert changes(AutoConfig(), other) == [
        "max_agents pool max -> 33", "scale_down_window 3 -> 2.5", "predict True -> False",
    ]  # fmt: skip
    assert changes(AutoConfig(), AutoConfig()) == []


CUR = AutoConfig()
BASE = trial(CUR, agent_seconds=1000.0, minutes_over=2)


@pytest.mark.parametrize(
    ("a", "b", "budget", "wins"),
    [
        # Fewer agent-seconds by more than MIN_GAIN wins; by less, it does not.
        (trial(AutoConfig(tolerance=0.2), agent_seconds=900), BASE, None, True),
        (trial(AutoConfig(tolerance=0.2), agent_seconds=1000 * (1 - MIN_GAIN / 2)), BASE, None, False),
        # Minutes over up to the current settings' count are no worse; beyond it they are.
        (trial(AutoConfig(tolerance=0.2), agent_seconds=900, minutes_over=2), BASE, None, True),
        (trial(AutoConfig(tolerance=0.2), agent_seconds=500, minutes_over=3), BASE, None, False),
        (trial(AutoConfig(tolerance=0.2), agent_seconds=2000, minutes_over=0), trial(CUR, minutes_over=4), None, True),
        # Unstarted tasks lose to any that finish.
        (trial(AutoConfig(tolerance=0.2), agent_seconds=10, unfinished=1), BASE, None, False),
        # Over budget loses to within it, however good otherwise.
        (trial(AutoConfig(tolerance=0.2), agent_seconds=500, cost_per_hour=3.0), BASE, 2.0, False),
        (
            trial(AutoConfig(tolerance=0.2), agent_seconds=5000, minutes_over=9, cost_per_hour=1.5),
            trial(CUR, cost_per_hour=2.5),
            2.0,
            True,
        ),
        # Another target wait is the operator's call: recommended only when it alone fits the budget.
        (trial(AutoConfig(target_wait=7.5), agent_seconds=500), BASE, None, False),
        (trial(AutoConfig(target_wait=7.5), cost_per_hour=1.5), trial(CUR, cost_per_hour=2.5), 2.0, True),
        # Within MIN_GAIN, the one with fewer changes wins.
        (trial(CUR, agent_seconds=1001), trial(AutoConfig(tolerance=0.2), agent_seconds=1000), None, True),
    ],
)
def test_better_orders_budget_then_the_target_then_minutes_over_then_agent_seconds(
    a: Trial, b: Trial, budget: float | None, wins: bool
) -> None:
    assert better(a, b, BASE, CUR, budget) is wins


def run_search(
    current: AutoConfig, figures: Callable[[AutoConfig], Trial], budget: float | None = None
) -> tuple[Search, list[list[AutoConfig]]]:
    """Drive a search with ``figures`` in place of simulation; returns it and the batches it asked for."""
    search = Search(current, Setup(target_wait=current.target_wait, max_agents=100, start_delay=1.0, span=3600.0,
                                   budget=budget))  # fmt: skip
    batches = []
    while batch := search.next_batch():
        batches.append(batch)
        search.record([figures(c) for c in batch])
    return search, batches


def bowl(c: AutoConfig) -> Trial:
    """Made-up figures: cheapest at a scale-down window of 0.75 s and tolerance 0.2; waits grow as it gets
    cheaper; a target wait above 5 s costs minutes over target."""
    cost = 1000 + 40 * abs(math.log2(c.scale_down_window / 0.75)) + 500 * abs(c.tolerance - 0.2)
    return trial(c, agent_seconds=cost, minutes_over=int(c.target_wait > 5.0), p95_wait=10_000 / cost,
                 cost_per_hour=cost / 1000, peak=20)  # fmt: skip


def test_the_search_starts_with_the_current_settings_and_finds_the_best_of_its_grid() -> None:
    search, batches = run_search(AutoConfig(), bowl)
    assert batches[0] == [AutoConfig()]
    best = search.recommended()
    assert best is not None and (best.config.scale_down_window, best.config.tolerance) == (0.75, 0.2)
    assert best.config.target_wait == 5.0  # the target is the operator's
    assert changes(AutoConfig(), best.config) == ["scale_down_window 3 -> 0.75", "tolerance 0.1 -> 0.2"]
    tried = [msgspec.json.encode(c) for batch in batches for c in batch]
    assert len(tried) == len(set(tried)) == len(search.trials)  # nothing simulated twice
    assert "fewer agent-seconds, minutes over target 0 -> 0" in search.note()


def test_the_search_keeps_settings_that_are_already_the_best() -> None:
    best = AutoConfig(scale_down_window=0.75, tolerance=0.2)
    search, _ = run_search(best, bowl)
    assert search.recommended() is not None and search.recommended().config == best  # type: ignore[union-attr]
    assert search.note().startswith("the current settings are the best found")


def test_a_budget_is_never_exceeded_and_an_impossible_one_recommends_nothing() -> None:
    search, _ = run_search(AutoConfig(), bowl, budget=1.01)
    best = search.recommended()
    assert best is not None and best.cost_per_hour <= 1.01
    search, _ = run_search(AutoConfig(), bowl, budget=0.5)
    assert search.recommended() is None
    assert search.note().startswith("no configuration found fits the budget of 0.5/h: the cheapest costs 1.00/h")


def test_the_front_is_the_trade_off_cheapest_first() -> None:
    search, _ = run_search(AutoConfig(), bowl)
    front = search.front()
    assert 1 < len(front) <= FRONT
    assert [t.agent_seconds for t in front] == sorted(t.agent_seconds for t in front)
    assert all(a.p95_wait > b.p95_wait for a, b in itertools.pairwise(front))
    for t in search.trials.values():  # every trial is matched or beaten on both by a point of the front
        assert any(f.agent_seconds <= t.agent_seconds and f.p95_wait <= t.p95_wait for f in front)


# Real trials: the simulator with decide_auto.


def hourly_load(seed: int = 1) -> Workload:
    """An hour of 2 tasks/s with 8 s lognormal tasks, and a burst of 200 tasks at 30 min."""
    rng = random.Random(seed)
    arrivals, t = [], 0.0
    while t < 3600:
        t += rng.expovariate(2.0)
        arrivals.append(t)
    arrivals += [1800 + rng.random() * 5 for _ in range(200)]
    return Workload.from_tasks([(a, rng.lognormvariate(math.log(8), 0.7)) for a in arrivals])


def test_a_trial_prices_its_run_and_averages_its_draws() -> None:
    # 30 agents at most: the burst waits, 4 minutes over target in one draw and 5 in the other.
    setup = Setup(target_wait=5.0, max_agents=30, start_delay=1.0, span=3600.0, per_agent_hour=0.5, per_task=0.01)
    loads = [hourly_load(1), hourly_load(2)]
    one = [run_trial([w], AutoConfig(), setup) for w in loads]
    both = run_trial(loads, AutoConfig(), setup)
    assert [t.minutes_over for t in one] == [4, 5] and both.minutes_over == 4.5
    assert both.p95_wait == max(t.p95_wait for t in one)
    assert both.agent_seconds == pytest.approx(sum(t.agent_seconds for t in one) / 2, abs=0.01)
    w = loads[0]
    assert one[0].cost == pytest.approx(one[0].agent_seconds / 3600 * 0.5 + len(w) * 0.01, rel=1e-6)
    assert one[0].cost_per_hour == pytest.approx(one[0].cost)  # the span is an hour
    assert one[0].unfinished == 0 and one[0].peak_agents > 0


def test_minutes_can_be_shorter_for_a_load_played_faster() -> None:
    w = Workload.from_tasks([(1.0, 1.0), (7.0, 1.0), (13.0, 1.0), (70.0, 1.0)])
    waits = [9.0, 0.0, 9.0, 0.0]
    assert minutes_over(waits, w, 5.0) == 1  # one 60 s minute holding tasks 0-2
    assert minutes_over(waits, w, 5.0, minute=6.0) == 2  # windows [0, 6) and [12, 18) are over


def test_the_recommended_settings_are_no_worse_on_the_load_they_were_tuned_to() -> None:
    setup = Setup(target_wait=5.0, max_agents=400, start_delay=1.0, span=3600.0)
    loads = [hourly_load(1)]
    search = Search(AutoConfig(), setup, rounds=1)
    while batch := search.next_batch():
        search.record([run_trial(loads, c, setup) for c in batch])
    base, best = search.baseline, search.recommended()
    assert base is not None and best is not None
    assert best.minutes_over <= base.minutes_over and best.unfinished == 0
    assert best.agent_seconds <= base.agent_seconds


def test_rebuild_reads_the_agents_start_time_from_the_samples() -> None:
    samples = [msgspec.structs.replace(sample(30.0 * (i + 1), 5), start_time=t) for i, t in enumerate([0, 2, 4, 9])]
    assert rebuild(samples, random.Random(1)).start_time == 4.0  # the median of those known
    assert rebuild([sample(30.0, 5)], random.Random(1)).start_time == 0.0
