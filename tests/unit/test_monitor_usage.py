"""A pool's usage over the last day, integrated from snapshot counts, and its cost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.monitor.usage import DAY, HOUR, PoolUsage, pool_cost
from agentscaler.shared.messages.pools import PoolConfig

from .builders import PROPERTY

T0 = 1_000_040.0  # 20 s into a minute


def test_counts_hold_until_the_next_observation_and_split_over_minutes() -> None:
    usage = PoolUsage()
    usage.observe(T0, 4)
    usage.observe(T0 + 70, 2)  # 4 agents for 70 s: 40 s in the first minute, 30 s in the next
    usage.observe(T0 + 100, 0)  # 2 agents for 30 s
    minute = int(T0 // 60)
    assert usage.agent_seconds == {minute: 160.0, minute + 1: 120.0 + 60.0}
    assert usage.used(T0 + 100, HOUR) == (340.0, 0)
    assert usage.covered(T0 + 100) == 100.0


def test_tasks_count_in_the_minute_they_finished_and_old_minutes_are_forgotten() -> None:
    usage = PoolUsage()
    usage.observe(T0, 1)
    usage.finished(T0 + 1)
    usage.finished(T0 + 2)
    usage.observe(T0 + 2, 1)
    assert usage.used(T0 + 2, HOUR) == (2.0, 2)
    usage.observe(T0 + DAY + 120, 1)  # a day later: the first minutes are gone
    seconds, tasks = usage.used(T0 + DAY + 120, DAY)
    assert tasks == 0 and seconds < DAY + 120
    assert usage.covered(T0 + DAY + 120) == DAY


@PROPERTY
@given(st.lists(st.tuples(st.floats(0.01, 500), st.integers(0, 1000)), min_size=1, max_size=50))
def test_agent_seconds_are_the_integral_of_the_counts(steps: list[tuple[float, int]]) -> None:
    usage, now, count, expected = PoolUsage(), T0, 0, 0.0
    usage.observe(now, 0)
    for gap, n in steps:
        expected += count * gap
        now += gap
        usage.observe(now, n)
        count = n
    assert usage.used(now, DAY)[0] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_cost_at_the_pools_prices() -> None:
    usage = PoolUsage()
    usage.observe(T0, 10)
    usage.observe(T0 + 360, 10)  # 3600 agent-seconds: one agent-hour
    for i in range(100):
        usage.finished(T0 + i)
    config = PoolConfig(name="p", cost_per_agent_hour=0.4, cost_per_task=0.002)
    cost = pool_cost(config, usage, agents=10, throughput=0.5, now=T0 + 360)
    assert cost is not None
    assert cost.burn_rate == pytest.approx(10 * 0.4 + 0.5 * 3600 * 0.002)
    assert cost.last_hour == cost.last_day == pytest.approx(0.4 + 100 * 0.002)
    assert cost.covered == 360.0
    assert pool_cost(PoolConfig(name="p"), usage, 10, 0.5, T0 + 360) is None  # not priced
