"""The oracle (services/policy/sim/oracle.py) and its lower bound, against a brute-force optimum on small traces;
and the simulator's ``next_call`` hook that lets a policy change its count at arbitrary times."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentscaler.services.policy.sim.oracle import Oracle
from agentscaler.services.policy.sim.oracle_bound import lower_bound
from agentscaler.services.policy.sim.simulate import PoolView, RunResult, simulate
from agentscaler.services.policy.sim.workload import Workload

Tasks = list[tuple[int, int]]


def level_cost(starts: list[int], services: list[int], delay: int) -> int:
    """The fewest agent-seconds of any count schedule under which the tasks start at ``starts``: the busy count
    split into levels, each costing its busy time, ``delay`` for its first on-period and ``min(gap, delay)`` for
    each gap between on-periods (see the oracle's module docstring)."""
    busy = [0] * max(s + p for s, p in zip(starts, services, strict=True))
    for start, service in zip(starts, services, strict=True):
        for t in range(start, start + service):
            busy[t] += 1
    total = 0
    for level in range(1, max(busy) + 1):
        on = [t for t, count in enumerate(busy) if count >= level]
        total += len(on) + delay + sum(min(b - a - 1, delay) for a, b in itertools.pairwise(on))
    return total


def brute_force(tasks: Tasks, wait: int, delay: int) -> int:
    """The fewest agent-seconds of any policy that starts every task by ``max(arrival + wait, delay)``: the least
    :func:`level_cost` over every FIFO order of integer starts. Every policy's run starts its tasks in arrival
    order within those bounds and provisions at least the level cost of its starts, so nothing does better.

    Integer starts suffice: for a fixed assignment of tasks to agents and choice of which gaps an agent idles
    through (costing the gap) or leaves in (costing ``delay``), the cost is linear in the starts, and the starts
    range over a polytope of difference constraints (``s_i - s_j >= c``, ``s_i >= c``) with integer ``c`` (the
    arrivals, services, wait and delay are integers); its matrix is totally unimodular, so a linear cost is least
    at an integer vertex, and the optimum is the least of these over the finitely many assignments and choices.
    """
    services = [p for _, p in tasks]
    best = math.inf

    def choose(starts: list[int]) -> None:
        nonlocal best
        if len(starts) == len(tasks):
            best = min(best, level_cost(starts, services, delay))
            return
        arrival = tasks[len(starts)][0]
        for start in range(max(arrival, delay, starts[-1] if starts else 0), max(arrival + wait, delay) + 1):
            choose([*starts, start])

    choose([])
    return int(best)


def run_oracle(tasks: Tasks, wait: int, delay: int) -> tuple[Oracle, RunResult]:
    workload = Workload.from_tasks([(float(a), float(p)) for a, p in tasks])
    oracle = Oracle(workload, target_wait=wait, start_delay=delay, max_agents=100)
    return oracle, simulate(workload, oracle, start_delay=delay, max_agents=100)


def check(tasks: Tasks, wait: int, delay: int) -> tuple[float, int]:
    """The oracle's agent-seconds and the optimum, having checked that it keeps every wait within the target,
    that the simulator's figures are its plan's, and that ``lower bound <= optimum <= oracle``."""
    oracle, result = run_oracle(tasks, wait, delay)
    best = brute_force(tasks, wait, delay)
    assert result.unfinished == 0
    for (arrival, _), waited in zip(tasks, result.waits, strict=True):
        assert waited <= max(wait, delay - arrival)
    assert result.agent_seconds == pytest.approx(oracle.plan.agent_seconds)
    assert oracle.lower_bound <= best + 1e-9
    assert best <= result.agent_seconds + 1e-9
    return result.agent_seconds, best


CASES: list[tuple[Tasks, int, int, int, int]] = [
    # (tasks as (arrival, service), target wait, start delay, optimum, oracle)
    ([(0, 3)], 0, 1, 4, 4),  # no agent before 1: the task waits for it
    ([(10, 1)] * 4, 3, 2, 6, 6),  # one agent takes the burst back to back, the last task waiting 3 s
    ([(0, 1), (20, 1)], 0, 2, 6, 6),  # far apart: the agent leaves and a fresh one starts
    ([(5, 1), (7, 1)], 0, 3, 6, 6),  # close: the agent idles 1 s rather than restart for 3
    ([(3, 2), (4, 2), (5, 2)], 1, 3, 12, 12),  # two agents: the second task waits 1 s for the first's
    ([(0, 4), (0, 4), (6, 4), (6, 4)], 2, 3, 22, 22),  # two agents, each idle 2 s: the lower bound is exact
    # A queue behind a busy agent: the agent added for it is ready when the queue began, and the queue replayed.
    ([(10, 1)] * 4, 1, 2, 8, 8),
    ([(0, 1), (3, 3), (4, 3), (5, 3)], 1, 3, 16, 16),
    # A known gap (one of 3 in the 300 traces below): the rules' choices of when agents start and leave miss
    # the best by 1 s.
    ([(0, 1), (4, 1), (7, 3), (7, 3)], 2, 2, 14, 15),
]


@pytest.mark.parametrize(("tasks", "wait", "delay", "optimum", "expected"), CASES)
def test_hand_made_cases(tasks: Tasks, wait: int, delay: int, optimum: int, expected: int) -> None:
    oracle_seconds, best = check(tasks, wait, delay)
    assert best == optimum
    assert oracle_seconds == pytest.approx(expected)


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.lists(st.tuples(st.integers(0, 8), st.integers(1, 4)), min_size=1, max_size=6),
    wait=st.integers(0, 3),
    delay=st.integers(0, 3),
)
def test_oracle_is_feasible_and_near_the_optimum(tasks: Tasks, wait: int, delay: int) -> None:
    oracle_seconds, best = check(sorted(tasks), wait, delay)
    assert oracle_seconds <= 1.2 * best + 1e-9


def test_oracle_is_optimal_on_most_small_traces() -> None:
    """Over 300 seeded random traces of up to 6 tasks, the oracle hits the optimum on at least 97% (measured:
    297 of 300; the rest within 1.08x)."""
    rng = random.Random(11)
    ratios = []
    for _ in range(300):
        tasks = sorted((rng.randint(0, 8), rng.randint(1, 4)) for _ in range(rng.randint(1, 6)))
        oracle_seconds, best = check(tasks, rng.randint(0, 3), rng.randint(0, 3))
        ratios.append(oracle_seconds / best)
    assert sum(r <= 1 + 1e-9 for r in ratios) >= 0.97 * len(ratios)
    assert max(ratios) <= 1.08


def test_lower_bound_counts_forced_overlap_and_start_delay() -> None:
    """Three 10 s tasks at 0 that must start by 2 run at once over [2, 10): three agents, each costing 2 s to
    start; the bound is exact."""
    workload = Workload.from_tasks([(0.0, 10.0)] * 3)
    assert lower_bound(workload, target_wait=2, start_delay=2) == pytest.approx(3 * 10 + 3 * 2)
    assert lower_bound(Workload([], []), target_wait=2, start_delay=2) == 0.0


@dataclass
class AtTimes:
    """A policy on a one-minute grid that also asks to be called at given times, recording its calls."""

    wanted: list[float]
    name: str = "at-times"
    period: float = 60.0
    wakes_on_arrival: bool = False
    calls: list[float] = field(default_factory=list)

    def decide(self, pool: PoolView, now: float) -> int:
        self.calls.append(now)
        return 1 if 2.5 <= now < 4.25 or now >= 19.5 else 0

    def next_call(self, now: float) -> float:
        return min((t for t in self.wanted if t > now), default=math.inf)


def test_a_policy_is_also_called_when_it_asks() -> None:
    """Off its one-minute grid, the policy is called when it asks (twice at 4.25 is once), and only then."""
    policy = AtTimes([2.5, 4.25, 4.25, 19.5])
    result = simulate(Workload.from_tasks([(3.0, 1.0), (20.0, 1.0)]), policy, start_delay=0.5)
    assert policy.calls == [0.0, 2.5, 4.25, 19.5]  # the run ends at 21, when the second task ends
    assert result.waits == [0.0, 0.0]
    assert result.agent_seconds == pytest.approx((4.25 - 2.5) + (21 - 19.5))
