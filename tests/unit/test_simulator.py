"""The autoscaling simulator (services/policy/sim/simulate.py), its baselines and traces, on hand-made cases with
known answers."""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import traces
from baselines import StaticPeak, peak_need

from agentscaler.services.policy.sim.metrics import measure, minutes_over, p95, p95_exceeds
from agentscaler.services.policy.sim.simulate import PoolView, simulate
from agentscaler.services.policy.sim.workload import Workload
from agentscaler.shared.messages.decisions import Observation


@dataclass
class Scripted:
    """A policy whose count follows a schedule ``{from_second: count}``, recording what it observed."""

    schedule: dict[float, int]
    period: float = 1.0
    wakes_on_arrival: bool = False
    name: str = "scripted"
    seen: dict[float, Observation] = field(default_factory=dict)

    def decide(self, pool: PoolView, now: float) -> int:
        self.seen[now] = pool.observation()
        return self.schedule[max(t for t in self.schedule if t <= now)]


@dataclass
class OnBacklog:
    """One agent while there is a backlog, none otherwise."""

    period: float = 60.0
    wakes_on_arrival: bool = True
    name: str = "on-backlog"

    def decide(self, pool: PoolView, now: float) -> int:
        return 1 if pool.backlog() else 0


def workload(*tasks: tuple[float, float]) -> Workload:
    return Workload.from_tasks(list(tasks))


# The engine.


@pytest.mark.parametrize(("delay", "waits"), [(0.0, [0.0, 1.0, 2.0]), (1.0, [1.0, 2.0, 3.0])])
def test_one_agent_serves_tasks_in_arrival_order(delay: float, waits: list[float]) -> None:
    result = simulate(workload((0, 1), (0, 1), (0, 1)), StaticPeak(1), start_delay=delay)
    assert result.waits == waits
    assert result.unfinished == 0 and result.actions == 1


def test_the_host_starts_agents_at_its_spawn_rate() -> None:
    """Four agents asked for at once, started two a second, each ready a second after its start."""
    result = simulate(workload(*[(0, 10)] * 4), StaticPeak(4), start_delay=1.0, spawn_rate=2.0)
    assert result.waits == [1.0, 1.5, 2.0, 2.5]
    # agents removed before they start give their turns back
    policy = Scripted({0: 4, 0.5: 1, 1: 3}, period=0.5)
    result = simulate(workload(*[(1, 10)] * 3), policy, start_delay=0.0, spawn_rate=2.0)
    # Started at 0, 0.5, 1 and 1.5. At 0.5 the two started ones go (idle) and the last (1.5) is cancelled, so
    # one agent starts at 1; at 1 the two added start at 1.5 and 2, not at 2 and 2.5.
    assert result.waits == [0.0, 0.5, 1.0]


def test_agent_seconds_and_slack_count_starting_agents_as_idle() -> None:
    w = workload((0, 1), (0, 1), (0, 1))
    result = simulate(w, StaticPeak(1), start_delay=1.0)
    # One agent from 0 to the last finish at 4: 1 s starting, 3 s busy.
    assert result.agent_seconds == pytest.approx(4.0)
    assert result.busy_seconds == pytest.approx(3.0)
    assert measure(result, w, target_wait=5.0).slack == pytest.approx(0.25)


def test_scaling_to_zero_mid_run_drains_busy_agents_and_drops_no_task() -> None:
    policy = Scripted({0: 2, 2: 0, 10: 1})
    result = simulate(workload((0, 5), (0, 5), (0, 5), (0, 5)), policy, start_delay=1.0)
    # Two agents ready at 1 take tasks 0 and 1 (until 6); at 2 both are drained; one agent added at 10 (ready
    # at 11) runs tasks 2 and 3.
    assert result.waits == [1.0, 1.0, 11.0, 16.0]
    assert result.unfinished == 0
    at_3 = policy.seen[3.0]
    assert (at_3.agents, at_3.busy, at_3.in_flight, at_3.pending) == (0, 0, 2, 2)
    assert policy.seen[7.0].in_flight == 0  # the draining agents left when their tasks ended
    # 2 agents over [0, 2), 2 draining agents over [2, 6), 1 agent over [10, 21].
    assert result.agent_seconds == pytest.approx(2 * 2 + 2 * 4 + 11)
    assert result.busy_seconds == pytest.approx(20.0)
    assert result.actions == 3


def test_scale_down_removes_idle_agents_before_busy_ones() -> None:
    policy = Scripted({0: 3, 5: 1})
    result = simulate(workload((1, 10)), policy, start_delay=0.0)
    at_6 = policy.seen[6.0]
    assert (at_6.agents, at_6.busy, at_6.in_flight) == (1, 1, 1)  # the busy agent stayed, nothing drains
    assert result.agent_seconds == pytest.approx(3 * 5 + 1 * 6)


def test_scale_down_removes_starting_agents_before_draining_busy_ones() -> None:
    policy = Scripted({0: 1, 2: 3, 2.5: 1}, period=0.5)
    simulate(workload((0, 10)), policy, start_delay=1.0)
    at_3 = policy.seen[3.0]
    assert (at_3.agents, at_3.busy, at_3.in_flight) == (1, 1, 1)


def test_batches_between_calls_do_not_change_the_result() -> None:
    rng = random.Random(7)
    tasks = sorted((rng.uniform(0, 300), rng.uniform(0.5, 20)) for _ in range(400))
    w = Workload.from_tasks(tasks)
    once = simulate(w, StaticPeak(12), start_delay=0.0)
    every_second = simulate(w, Scripted({0: 12}), start_delay=0.0)
    assert every_second.waits == pytest.approx(once.waits)
    assert every_second.agent_seconds == pytest.approx(once.agent_seconds)


def test_fixed_count_matches_a_naive_fifo_queue() -> None:
    rng = random.Random(3)
    tasks = sorted((rng.uniform(0, 100), rng.uniform(0.5, 10)) for _ in range(200))
    free = [0.0] * 5
    expected = []
    for arrival, service in tasks:
        agent = min(range(5), key=free.__getitem__)
        start = max(arrival, free[agent])
        free[agent] = start + service
        expected.append(start - arrival)
    assert simulate(Workload.from_tasks(tasks), StaticPeak(5), start_delay=0.0).waits == pytest.approx(expected)


def test_a_waking_policy_is_called_when_a_task_arrives_at_an_empty_pool() -> None:
    w = workload((10.5, 2.0))
    assert simulate(w, OnBacklog(), start_delay=1.0).waits == [1.0]
    assert simulate(w, OnBacklog(wakes_on_arrival=False), start_delay=1.0).waits == [50.5]


def test_observation_windows() -> None:
    policy = Scripted({0: 1})
    simulate(workload((0, 2), (0, 2), (0, 2), (70, 1)), policy, start_delay=0.0)
    at_5 = policy.seen[5.0]
    # Finishes at 2, 4 and 6; waits 0, 2 and 4.
    assert at_5.arrival_rate == pytest.approx(0.3)
    assert (at_5.throughput, at_5.service_time) == (pytest.approx(0.2), pytest.approx(2.0))
    assert at_5.wait_p95 == 4.0
    assert (at_5.pending, at_5.in_flight, at_5.busy, at_5.agents) == (0, 1, 1, 1)
    at_69 = policy.seen[69.0]  # nothing arrived, started or finished within any window
    assert (at_69.arrival_rate, at_69.service_time, at_69.wait_p95, at_69.throughput) == (0.0, 0.0, 0.0, 0.0)
    assert (at_69.pending, at_69.in_flight, at_69.busy, at_69.agents) == (0, 0, 0, 1)


def test_max_agents_caps_every_policy() -> None:
    result = simulate(workload((0, 1), (0, 1), (0, 1)), StaticPeak(10), start_delay=0.0, max_agents=2)
    assert result.peak_agents == 2 and result.waits == [0.0, 0.0, 1.0]


# Metrics.


def test_p95_is_nearest_rank() -> None:
    assert p95([]) == 0.0
    assert p95([3.0]) == 3.0
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([0.0] * 19 + [7.0]) == 0.0  # the 20th value is above the 95th percentile rank (19)
    assert p95([0.0] * 18 + [7.0, 9.0]) == 7.0


@pytest.mark.parametrize("values", [[0.0] * 19 + [7.0], [0.0] * 18 + [7.0, 9.0], [6.0], [5.0, 5.0], []])
def test_p95_exceeds_agrees_with_p95(values: list[float]) -> None:
    assert p95_exceeds(values, 5.0) == (p95(values) > 5.0)


def test_minutes_over_groups_tasks_by_arrival_minute() -> None:
    w = workload((1, 1), (2, 1), (59.9, 1), (60, 1), (150, 1))
    waits = [0.0, 0.0, 9.0, 9.0, 1.0]  # minute 0: p95 9 (3rd of 3); minute 1: 9; minute 2: 1
    assert w.minutes == [(0, 3), (3, 4), (4, 5)]
    assert minutes_over(waits, w, target=5.0) == 2
    assert minutes_over(waits, w, target=9.0) == 0


# Baselines.


def test_peak_need_counts_tasks_running_at_once() -> None:
    assert peak_need([0, 0.5, 1, 5], [2, 2, 2, 1]) == 3
    assert peak_need([0, 1, 2], [1, 1, 1]) == 1  # a task ending as the next arrives frees its agent
    assert peak_need([], []) == 0


# Traces.


GENERATORS: dict[str, Callable[[int], list[tuple[float, float]]]] = {
    "steady": lambda seed: traces.steady(seed, scale=0.2),
    "diurnal": lambda seed: traces.diurnal(seed, scale=0.02),
    "spiky": lambda seed: traces.spiky(seed, scale=0.05),
    "periodic": lambda seed: traces.periodic(seed, scale=0.02, days=2),
    "short-period": lambda seed: traces.short_period(seed, scale=0.05, hours=1.0),
    "weekly": lambda seed: traces.weekly(seed, scale=0.05, days=7, day=600.0),
    "heavy-tail": lambda seed: traces.heavy_tail(seed, scale=0.1, hours=0.5),
    "bursts": lambda seed: traces.bursts(seed, scale=0.05, hours=0.5),
    "double-seasonal": lambda seed: traces.double_seasonal(seed, scale=0.05, hours=2.0),
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_are_deterministic_per_seed_and_sorted(kind: str) -> None:
    tasks = GENERATORS[kind](1)
    assert tasks == GENERATORS[kind](1)
    assert tasks != GENERATORS[kind](2)
    assert tasks and tasks == sorted(tasks)
    assert all(t >= 0 and traces.MIN_SERVICE <= s <= traces.MAX_SERVICE for t, s in tasks)


def test_every_shipped_kind_has_a_generator() -> None:
    assert set(traces.GENERATORS) == set(GENERATORS)
    with pytest.raises(ValueError, match="unknown trace kind"):
        traces.generate("monthly")


def test_a_written_trace_reads_back_the_same(tmp_path: Path) -> None:
    tasks = traces.steady(seed=5, scale=0.05)
    traces.write_trace(tmp_path / "t.jsonl", tasks)
    assert traces.read_trace(tmp_path / "t.jsonl") == tasks


def test_read_trace_sorts_by_arrival_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"t": 5, "service_s": 1}\n\n{"t": 2.5, "service_s": 3}\n')
    assert traces.read_trace(path) == [(2.5, 3.0), (5.0, 1.0)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{t: 1}", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"t": 1}', "missing key 'service_s'"),
        ('{"service_s": 1}', "missing key 't'"),
        ('{"t": -1, "service_s": 1}', ">= 0"),
        ('{"t": 1, "service_s": "9"}', "not a number"),
        ('{"t": true, "service_s": 1}', "not a number"),
        ('{"t": 1, "service_s": NaN}', "finite"),
    ],
)
def test_read_trace_names_the_malformed_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"t": 0, "service_s": 1}) + "\n\n" + line + "\n")
    with pytest.raises(traces.TraceError, match=f"bad.jsonl:3: .*{message}"):
        traces.read_trace(path)


def test_shipped_traces_stay_within_the_stated_bounds() -> None:
    tasks = traces.spiky(seed=1)
    w = Workload.from_tasks(tasks)
    assert peak_need(w.arrivals, w.services) < 1000
    assert math.isclose(w.work, sum(s for _, s in tasks))
