"""Erlang C staffing, against the textbook formula summed directly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.policy.core.staffing import agents_for_wait

from .builders import PROPERTY


def erlang_c_miss(n: int, load: float, service: float, wait: float) -> float:
    """P(wait > ``wait``) in an M/M/n queue: C(n, a) = (a^n/n! * n/(n-a)) / (sum_{k<n} a^k/k! + that)."""
    if n <= load:
        return 1.0
    top = load**n / math.factorial(n) * n / (n - load)
    all_busy = top / (sum(load**k / math.factorial(k) for k in range(n)) + top)
    return all_busy * math.exp(-(n - load) * wait / service)


def test_a_textbook_case() -> None:
    # 10 erlangs on 12 agents: 44.9% of arrivals find every agent busy (Erlang C).
    assert erlang_c_miss(12, 10.0, 1.0, 0.0) == pytest.approx(0.4493, abs=1e-4)
    assert erlang_c_miss(11, 10.0, 1.0, 0.0) == pytest.approx(0.6821, abs=1e-4)
    # so half the tasks may find every agent busy with 12 agents, not with 11
    assert agents_for_wait(10.0, 1.0, 0.0, 0.5) == 12


@pytest.mark.parametrize(
    ("load", "service", "wait", "miss", "agents"),
    [
        (0.0, 10.0, 5.0, 0.05, 0),  # no load, no agents
        (0.5, 12.0, 5.0, 0.05, 3),
        (3.0, 12.0, 5.0, 0.05, 6),
        (10.0, 12.0, 5.0, 0.05, 14),
        (100.0, 12.0, 5.0, 0.05, 106),  # the headroom grows as the square root of the load
        (100.0, 12.0, 5.0, 0.02, 108),
        (1000.0, 12.0, 5.0, 0.05, 1007),
    ],
)
def test_agents_for_wait_table(load: float, service: float, wait: float, miss: float, agents: int) -> None:
    assert agents_for_wait(load, service, wait, miss) == agents


@PROPERTY
@given(
    st.floats(0.01, 60),
    st.floats(0.1, 60),
    st.floats(0, 30),
    st.sampled_from([0.01, 0.02, 0.05, 0.2]),
)
def test_the_fewest_agents_that_meet_the_wait(load: float, service: float, wait: float, miss: float) -> None:
    n = agents_for_wait(load, service, wait, miss)
    assert n > load
    assert erlang_c_miss(n, load, service, wait) <= miss * (1 + 1e-9)
    assert n - 1 <= load or erlang_c_miss(n - 1, load, service, wait) > miss * (1 - 1e-9)
    assert agents_for_wait(load * 1.5, service, wait, miss) >= n  # more load, never fewer agents
    assert agents_for_wait(load, service, wait + 1, miss) <= n  # a longer wait allowed, never more


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="service must be > 0"):
        agents_for_wait(1.0, 0.0, 5.0, 0.05)
    with pytest.raises(ValueError, match="miss within"):
        agents_for_wait(1.0, 1.0, 5.0, 1.0)
