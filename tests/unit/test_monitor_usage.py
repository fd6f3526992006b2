"""A pool's usage over the last day in its ledger, integrated from snapshot counts, and its cost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.monitor.cost import pool_cost
from agentscaler.services.monitor.ledger import DAY, HOUR, Ledger
from agentscaler.shared.messages.pools import PoolConfig

from .builders import PROPERTY, task_result

T0 = 1_000_040.0  # 20 s into a minute
W = 60.0  # the stats window (the raw results kept), beside the point here


def test_counts_hold_until_the_next_observation_and_split_over_minutes() -> None:
    usage = Ledger()
    usage.advance(T0, 4, W)
    usage.advance(T0 + 70, 2, W)  # 4 agents for 70 s: 40 s in the first minute, 30 s in the next
    usage.advance(T0 + 100, 0, W)  # 2 agents for 30 s
    minute = int(T0 // 60)
    per_minute = {m: usage.minutes.total(m, m + 1)[1] for m in range(minute - 2, minute + 4)}
    assert {m: v for m, v in per_minute.items() if v} == {minute: 160.0, minute + 1: 120.0 + 60.0}
    assert usage.used(T0 + 100, HOUR) == (340.0, 0)
    assert usage.used(T0 + 100, 61) == (180.0, 0)  # the current minute only
    assert usage.covered(T0 + 100) == 100.0


def test_tasks_count_in_the_minute_they_finished_and_old_minutes_are_forgotten() -> None:
    usage = Ledger()
    usage.advance(T0, 1, W)
    usage.add(task_result(finished_at=T0 + 1))
    usage.add(task_result(finished_at=T0 + 2))
    usage.advance(T0 + 2, 1, W)
    assert usage.used(T0 + 2, HOUR) == (2.0, 2)
    usage.advance(T0 + DAY + 120, 1, W)  # a day later: the first minutes are gone
    seconds, tasks = usage.used(T0 + DAY + 120, DAY)
    assert tasks == 0 and seconds < DAY + 120
    assert usage.covered(T0 + DAY + 120) == DAY


@PROPERTY
@given(st.lists(st.tuples(st.floats(0.01, 500), st.integers(0, 1000)), min_size=1, max_size=50))
def test_agent_seconds_are_the_integral_of_the_counts(steps: list[tuple[float, int]]) -> None:
    usage, now, count, expected = Ledger(), T0, 0, 0.0
    usage.advance(now, 0, W)
    for gap, n in steps:
        expected += count * gap
        now += gap
        usage.advance(now, n, W)
        count = n
    assert usage.used(now, DAY)[0] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_cost_at_the_pools_prices() -> None:
    usage = Ledger()
    usage.advance(T0, 10, W)
    usage.advance(T0 + 360, 10, W)  # 3600 agent-seconds: one agent-hour
    for i in range(100):
        usage.add(task_result(finished_at=T0 + i))
    config = PoolConfig(name="p", cost_per_agent_hour=0.4, cost_per_task=0.002)
    cost = pool_cost(config, usage, agents=10, throughput=0.5, now=T0 + 360)
    assert cost is not None
    assert cost.burn_rate == pytest.approx(10 * 0.4 + 0.5 * 3600 * 0.002)
    assert cost.last_hour == cost.last_day == pytest.approx(0.4 + 100 * 0.002)
    assert cost.covered == 360.0
    assert pool_cost(PoolConfig(name="p"), usage, 10, 0.5, T0 + 360) is None  # not priced
