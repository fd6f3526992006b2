"""The faithful HPA and KEDA baselines (bench/baselines.py), rule by rule, on tables of hand-computed cases."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from baselines import Hpa, Keda, StaticPeak

from agentscaler.services.policy.sim.simulate import simulate
from agentscaler.services.policy.sim.workload import Workload


@pytest.mark.parametrize(
    ("current", "backlog", "target", "expected"),
    [
        (10, 10, 1.0, 10),
        (20, 21, 1.0, 20),  # 5% over: within the 10% tolerance
        (20, 19, 1.0, 20),  # 5% under: within the tolerance
        (10, 12, 1.0, 12),
        (10, 5, 1.0, 5),
        (10, 0, 1.0, 0),
        (5, 30, 2.0, 15),  # AverageValue 2 tasks per agent: ceil(30 / 2)
        (5, 7, 2.0, 4),  # ceil(3.5)
        (4, 2000, 1.0, 2000),  # the raw recommendation: limits and bounds come after
    ],
)
def test_hpa_recommendation_is_backlog_over_target_outside_the_tolerance(
    current: int, backlog: int, target: float, expected: int
) -> None:
    assert Hpa(max_agents=1000, target=target).recommend(current, backlog) == expected


@pytest.mark.parametrize(("current", "limit"), [(1, 5), (3, 7), (4, 8), (5, 10), (100, 200)])
def test_hpa_scale_up_limit_is_the_larger_of_double_and_four_more(current: int, limit: int) -> None:
    assert Hpa.scale_up_limit(current) == limit


def test_hpa_rate_limits_scale_up_and_holds_scale_down_for_the_300_s_window() -> None:
    hpa = Hpa(max_agents=1000)
    # (now, current replicas, backlog) -> replicas
    table = [
        (0.0, 1, 50, 5),  # recommends 50; 15 s may take 1 to max(2, 1 + 4)
        (15.0, 5, 50, 10),
        (30.0, 10, 50, 20),
        (45.0, 20, 50, 40),
        (60.0, 40, 50, 50),
        (75.0, 50, 10, 50),  # recommends 10; 50 was recommended within 300 s
        (360.0, 50, 10, 10),  # the window is (60, 360]: 60's 50 has left it
        (375.0, 10, 0, 10),  # recommends 0, but 360 recommended 10
        (675.0, 10, 0, 1),  # only 675's 0 is left in the window: down at once (100% per 15 s), to minReplicas
        (690.0, 1, 1, 1),
    ]
    assert [hpa.step(now, current, backlog) for now, current, backlog, _ in table] == [row[3] for row in table]


def test_hpa_keeps_its_count_within_the_tolerance_and_under_its_cap() -> None:
    assert Hpa(max_agents=1000).step(0.0, 20, 21) == 20
    assert Hpa(max_agents=6).step(0.0, 4, 100) == 6


def test_hpa_cannot_scale_from_zero() -> None:
    assert Hpa(max_agents=1000).step(30.0, 0, 100) == 0


def test_hpa_standalone_starts_at_min_replicas_and_never_goes_below() -> None:
    tasks = Workload.from_tasks([(100.0, 2.0), (2000.0, 2.0)])
    result = simulate(tasks, Hpa(max_agents=10), start_delay=0.0)
    assert result.peak_agents == 1
    assert result.agent_seconds == pytest.approx(result.end)  # one agent from 0 to the end, none more


def test_keda_activates_at_a_poll_hands_off_to_the_hpa_and_deactivates_after_the_cooldown() -> None:
    keda = Keda(max_agents=1000)
    # (now, current replicas, backlog) -> replicas, called every 15 s as the simulator does (polls every 30 s)
    table = [
        (0.0, 0, 0, 0),  # poll: inactive
        (15.0, 0, 7, 0),  # no poll; the HPA does nothing at 0 replicas
        (30.0, 0, 7, 5),  # poll: active, 0 -> 1; the HPA recommends 7, limited to 1 + 4
        (45.0, 5, 7, 7),
        (60.0, 7, 0, 7),  # inactive for 30 s; the HPA holds 7 for its window
        (90.0, 7, 0, 7),
        (300.0, 7, 0, 7),  # 270 s since the last active poll (30): within the cooldown
        (330.0, 7, 0, 0),  # 300 s: deactivated, to zero
        (345.0, 0, 9, 0),  # no poll: waits for the next one
        (360.0, 0, 9, 5),
    ]
    assert [keda.step(now, current, backlog) for now, current, backlog, _ in table] == [row[3] for row in table]


def test_keda_activation_needs_a_backlog_above_the_threshold() -> None:
    keda = Keda(max_agents=1000, activation=5.0)
    assert [keda.step(0.0, 0, 5), keda.step(30.0, 0, 6)] == [0, 5]


def test_keda_keeps_one_replica_while_active_once_the_hpa_window_has_passed() -> None:
    keda = Keda(max_agents=1000, cooldown=1000.0)
    # the HPA's window lets 2 go at 315; the cooldown (1000 s) keeps the deployment active: minReplicas 1
    table = [(0.0, 0, 2, 2), (15.0, 2, 0, 2), (315.0, 2, 0, 1), (1000.0, 1, 0, 0)]
    assert [keda.step(now, current, backlog) for now, current, backlog, _ in table] == [row[3] for row in table]


def test_static_peak_is_asked_once() -> None:
    result = simulate(Workload.from_tasks([(0.0, 1.0), (5.0, 1.0)]), StaticPeak(3), start_delay=0.0)
    assert (result.actions, result.peak_agents) == (1, 3)
