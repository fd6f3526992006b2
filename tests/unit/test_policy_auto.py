"""The auto policy's pure core: a table per rule, the seasonal profile, and properties over random runs."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.policy.core.auto import (
    FLAP_ALLOWANCE,
    PLATEAU_HOLD,
    AutoDecision,
    AutoState,
    decide_auto,
)
from agentscaler.services.policy.core.demand import SLOW_START_MISS, demand
from agentscaler.services.policy.core.profile import SLOT, Profile
from agentscaler.services.policy.core.staffing import agents_for_wait
from agentscaler.shared.capacity import CPU_CEILING
from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.pools import AutoConfig

from .builders import PROPERTY

CONFIG = AutoConfig()


def obs(**fields: Any) -> Observation:
    values: dict[str, Any] = {
        "at": 0.0,
        "pending": 0,
        "in_flight": 0,
        "agents": 0,
        "busy": 0,
        "arrival_rate": 0.0,
        "service_time": 0.0,
        "wait_p95": 0.0,
        "throughput": 0.0,
    }
    values.update(fields)
    return Observation(**values)


def run(
    steps: list[tuple[float, Observation | None]],
    config: AutoConfig = CONFIG,
    max_agents: int = 1000,
    state: AutoState | None = None,
) -> tuple[list[AutoDecision], AutoState]:
    state = state or AutoState()
    decisions = []
    for now, o in steps:
        decision, state = decide_auto(o, config, max_agents, state, now, "p")
        decisions.append(decision)
    return decisions, state


# --- demand ---------------------------------------------------------------------------------------------

EIGHTEEN = {"service_time": 2.0, "agents": 18, "in_flight": 18, "busy": 18}


@pytest.mark.parametrize(
    ("fields", "rate", "agents", "signal"),
    [
        ({"pending": 1}, 0.0, 1, "backlog"),  # scale from zero: service time unknown, an agent per task
        ({"pending": 30, "in_flight": 4, "busy": 4}, 0.0, 34, "backlog"),
        (EIGHTEEN, 9.5, 19, "arrivals"),  # 9.5/s x 2 s busy
        (EIGHTEEN | {"pending": 40}, 9.5, 32, "backlog"),  # 40 x 2 s / 2.5 s
        (EIGHTEEN | {"pending": 5}, 9.5, 19, "arrivals"),  # the wait absorbs 5
        # 800 queued tasks of 10 s, all to start within 2.5 s: an agent each, not 3200 agents
        ({"service_time": 10.0, "agents": 100, "in_flight": 100, "busy": 100, "pending": 800}, 0.0, 900, "backlog"),
        # a small pool: its 4 agents free up 2.5 s apart, so a queued task gets an agent of its own
        ({"service_time": 10.0, "agents": 4, "in_flight": 4, "busy": 4, "pending": 1}, 0.3, 5, "backlog"),
        # a large one: 80 agents free up 0.125 s apart, and 10 queued tasks start within the wait
        ({"service_time": 10.0, "agents": 80, "in_flight": 80, "busy": 80, "pending": 10}, 7.8, 78, "arrivals"),
        ({"busy": 10, "pending": 2, "service_time": 0.1, "wait_p95": 15.0}, 0.0, 15, "wait"),  # at most 1.5x busy
    ],
)
def test_demand_table(fields: dict[str, Any], rate: float, agents: int, signal: str) -> None:
    need = demand(obs(**fields), CONFIG, rate)
    assert (need.agents, need.signal) == (agents, signal), need.reason


def test_slow_agents_are_staffed_for_the_wait() -> None:
    """Agents that take longer to start than the target wait cannot rescue a queued task: the pool keeps the
    agents with which a task rarely finds them all busy for that long (Erlang C)."""
    fifty = obs(service_time=10.0, agents=50, in_flight=50, busy=50)
    assert demand(fifty, CONFIG, 5.0, start=1.0).agents == 50
    slow = demand(fifty, CONFIG, 5.0, start=10.0)
    expected = agents_for_wait(50.0, 10.0, CONFIG.target_wait, SLOW_START_MISS)
    assert (slow.agents, slow.steady, slow.signal) == (expected, expected, "arrivals") and expected > 50
    assert "10.0 s to start" in slow.reason
    # a small pool's queued task gets no agent of its own: the agent would come later than a free one
    small = obs(service_time=10.0, agents=4, in_flight=4, busy=4, pending=1)
    assert demand(small, CONFIG, 0.3, start=1.0).agents == 5
    assert demand(small, CONFIG, 0.3, start=10.0).agents == agents_for_wait(3.0, 10.0, 5.0, SLOW_START_MISS)


def test_the_start_time_is_remembered_while_no_agent_starts() -> None:
    busy = obs(service_time=10.0, agents=50, in_flight=50, busy=50, arrival_rate=5.0)
    [_, later], state = run([(0.0, msgspec.structs.replace(busy, start_time=10.0)), (1.0, busy)])
    assert state.start_time == 10.0
    assert later.demand == agents_for_wait(50.0, 10.0, CONFIG.target_wait, SLOW_START_MISS)


# --- the rules ------------------------------------------------------------------------------------------


def test_the_first_task_wakes_a_pool_at_zero() -> None:
    [decision], state = run([(0.0, obs(pending=1))])
    assert (decision.desired, decision.rule) == (1, "auto.scale_from_zero")
    assert state.desired == 1


def test_a_burst_is_met_at_once_in_bounded_steps() -> None:
    config = msgspec.structs.replace(CONFIG, max_step_up=300)
    decisions, _ = run([(0.0, obs(pending=2000)), (1.0, obs(pending=2000, agents=300))], config, max_agents=500)
    assert [d.desired for d in decisions] == [300, 500]
    assert [d.limit for d in decisions] == ["step", "max"]


def test_small_changes_inside_the_tolerance_are_ignored() -> None:
    state = AutoState(desired=20)
    steady = {"arrival_rate": 10.4, "service_time": 2.0, "in_flight": 18, "busy": 18, "agents": 20}
    [decision], _ = run([(0.0, obs(**steady))], state=state)  # needs 21 (10.4/s x 2 s): +1 < 10% of 20
    assert (decision.desired, decision.rule) == (20, "auto.hold")


def test_scale_down_waits_out_the_window_and_keeps_busy_agents() -> None:
    state = AutoState(desired=50)
    quiet = obs(agents=50, busy=5, in_flight=5, service_time=2.0)
    steps = [(float(t), quiet) for t in range(0, 40, 5)]
    decisions, _ = run(steps, state=state)
    downs = [(t, d) for (t, _), d in zip(steps, decisions, strict=True) if d.changed]
    assert len(downs) == 1
    t, d = downs[0]
    assert t >= CONFIG.scale_down_window - 5  # the first recommendation at t=0 must have aged out
    assert d.desired == 5 and d.rule == "auto.scale_down" and "busy" in d.reason


def test_slow_agents_hold_a_lower_count_for_three_start_times() -> None:
    """A scale-down that noise proves wrong costs a start: with 10 s starts, 30 s of lower counts first."""
    quiet = obs(agents=50, busy=5, in_flight=5, service_time=2.0, start_time=10.0)
    steps = [(float(t), quiet) for t in range(0, 60, 5)]
    decisions, _ = run(steps, state=AutoState(desired=50))
    [t] = [t for (t, _), d in zip(steps, decisions, strict=True) if d.changed]
    assert t == 3 * 10.0 and "30 s" in decisions[steps.index((t, quiet))].reason


def test_down_to_zero_only_when_nothing_is_in_flight() -> None:
    state = AutoState(desired=3)
    busy = obs(agents=3, busy=1, in_flight=1, service_time=60.0)
    decisions, state = run([(float(t), busy) for t in range(0, 100, 10)], state=state)
    assert min(d.desired for d in decisions) == 1  # the busy agent stays until its task is done
    decisions, state = run([(float(t), obs(agents=1)) for t in range(100, 200, 10)], state=state)
    assert decisions[-1].desired == 0 and any(d.rule == "auto.scale_to_zero" for d in decisions)


def oscillate(cycles: int, config: AutoConfig = CONFIG, gap: float = 1.0) -> list[AutoDecision]:
    """A pool driven up by a burst, down once idle, and up again ``gap`` seconds after each scale-down:
    the scale-downs, in order."""
    burst, idle = obs(pending=20), obs()
    t, state, downs = 0.0, AutoState(), []
    for _ in range(cycles):
        [up], state = run([(t, burst)], config, state=state)
        assert up.desired == 20
        t += 1
        while True:
            [d], state = run([(t, idle)], config, state=state)
            t += 1
            if d.desired < 20:
                downs.append(d)
                break
        t += gap - 1
    return downs


def window_of(decision: AutoDecision) -> float:
    return float(decision.reason.split("last ")[1].split(" s")[0])


def test_oscillating_lengthens_the_scale_down_window() -> None:
    downs = oscillate(FLAP_ALLOWANCE + 4)
    windows = [window_of(d) for d in downs]
    # the first scale-up is no flap, the next FLAP_ALLOWANCE are allowed, each one beyond doubles the window
    w = CONFIG.scale_down_window
    assert windows == [w] * (FLAP_ALLOWANCE + 1) + [2 * w, 4 * w, 8 * w]
    assert "anti-flap" in downs[-1].reason and "anti-flap" not in downs[FLAP_ALLOWANCE].reason


def test_scaling_up_long_after_a_scale_down_is_no_flap() -> None:
    downs = oscillate(FLAP_ALLOWANCE + 4, gap=CONFIG.flap_window + 1)
    assert {window_of(d) for d in downs} == {CONFIG.scale_down_window}


def test_a_scale_up_a_doubled_window_would_not_have_spared_is_no_flap() -> None:
    """Tasks trickling in 20 s apart to a pool at zero: each wakes it, each scale-down is right (an idle agent
    held 20 s costs more than the start it saves), and a window twice as long would not have kept the agent
    anyway, so the window never grows."""
    downs = oscillate(FLAP_ALLOWANCE + 4, gap=2 * CONFIG.scale_down_window + 1)
    assert {window_of(d) for d in downs} == {CONFIG.scale_down_window}
    assert not any("anti-flap" in d.reason for d in downs)


def test_a_burst_served_does_not_hold_agents_on_its_rate() -> None:
    """800 tasks in 10 s lift the smoothed rate for a minute; once they are served, the rate of the last
    window sizes the pool."""
    state = AutoState(desired=400, rate=80.0, rate_at=0.0)
    after = obs(agents=400, busy=4, in_flight=4, arrival_rate=0.5, service_time=8.0)
    decisions, _ = run([(float(t), after) for t in range(1, 13)], state=state)
    assert decisions[-1].desired == 4 and any(d.rule == "auto.scale_down" for d in decisions)


def test_no_agents_added_while_the_cpu_is_saturated() -> None:
    state = AutoState(desired=10)
    [d], _ = run([(0.0, obs(agents=10, busy=10, in_flight=10, pending=100, cpu_percent=CPU_CEILING))], state=state)
    assert (d.desired, d.limit) == (10, "cpu") and "CPU" in d.reason


def test_a_pool_at_zero_gets_its_first_agent_even_on_a_saturated_host() -> None:
    [d], _ = run([(0.0, obs(pending=50, cpu_percent=100.0, iowait_percent=90.0))])
    assert (d.desired, d.limit) == (1, "cpu")


def test_no_agents_added_while_io_waits() -> None:
    state = AutoState(desired=10)
    [d], _ = run([(0.0, obs(agents=10, busy=10, in_flight=10, pending=100, iowait_percent=60.0))], state=state)
    assert (d.desired, d.limit) == (10, "io")


def test_never_more_than_the_host_fits() -> None:
    [d], _ = run([(0.0, obs(pending=500, agents_fit=120))])
    assert (d.desired, d.limit) == (120, "capacity")


@pytest.mark.parametrize("bound", ["memory", "CPU", "memory and CPU"])
def test_the_capacity_limit_names_what_bounds_the_hosts_room(bound: str) -> None:
    [d], _ = run([(0.0, obs(pending=500, agents_fit=7, room_bound=bound))], state=AutoState(desired=3))
    assert (d.desired, d.limit) == (10, "capacity")
    assert f"the hosts' room fits 7 more (bound by {bound})" in d.reason


@pytest.mark.parametrize(("bound", "desired"), [("memory", 0), ("CPU", 1)])
def test_an_empty_pool_gets_its_first_agent_when_cpu_not_memory_leaves_no_room(bound: str, desired: int) -> None:
    """A CPU bound is saturation, which limits how many, never whether; a full memory is a hard limit."""
    [d], _ = run([(0.0, obs(pending=50, agents_fit=0, room_bound=bound))])
    assert (d.desired, d.limit) == (desired, "capacity")


def test_a_scale_up_that_brings_no_throughput_caps_the_pool() -> None:
    """An upstream limit: 10 agents do 5 tasks/s, and so do 90."""
    limited = {"pending": 200, "service_time": 2.0, "throughput": 5.0, "arrival_rate": 5.0}
    [first], state = run([(0.0, obs(agents=10, busy=10, in_flight=10, **limited))], state=AutoState(desired=10))
    n = first.desired
    assert n > 10
    after = obs(agents=n, busy=n, in_flight=n, **(limited | {"pending": 400}))  # the queue grows still
    decisions, state = run([(20.0, after), (21.0, after)], state=state)
    decisions.insert(0, first)
    assert decisions[1].limit == "plateau" and "upstream" in decisions[1].reason
    assert decisions[2].desired == decisions[1].desired  # holds, says why
    assert state.ceiling is not None and state.ceiling.until == 20.0 + PLATEAU_HOLD


def test_a_small_step_in_a_small_pool_is_not_judged() -> None:
    """20 agents doing 2 tasks/s get 3 more: whether 20 or 23 tasks finish in the next 10 s is chance, and
    must not cap a pool whose queue is growing."""
    state = AutoState(desired=20)
    busy = {"pending": 3, "service_time": 10.0, "throughput": 2.0, "arrival_rate": 2.3}
    [up], state = run([(0.0, obs(agents=20, busy=20, in_flight=20, **busy))], state=state)
    assert up.desired == 23 and state.probe is not None
    later = obs(agents=up.desired, busy=up.desired, in_flight=up.desired, **(busy | {"pending": 12}))
    decisions, state = run([(40.0, later), (41.0, later)], state=state)
    assert all(d.limit != "plateau" for d in decisions) and state.ceiling is None
    assert decisions[-1].desired > up.desired


def test_a_scale_up_that_raises_throughput_is_not_a_plateau() -> None:
    state = AutoState(desired=10)
    first = obs(agents=10, busy=10, in_flight=10, pending=200, service_time=2.0, throughput=5.0)
    [up], state = run([(0.0, first)], state=state)
    later = msgspec.structs.replace(
        first, agents=up.desired, busy=up.desired, in_flight=up.desired, throughput=40.0, pending=400
    )
    decisions, state = run([(20.0, later)], state=state)
    decisions.insert(0, up)
    assert decisions[1].limit != "plateau" and state.ceiling is None


def test_the_pool_maximum_and_minimum_hold() -> None:
    config = msgspec.structs.replace(CONFIG, min_agents=2, max_agents=5)
    decisions, _ = run([(0.0, obs()), (1.0, obs(pending=100))], config, max_agents=50)
    assert [d.desired for d in decisions] == [2, 5]
    assert decisions[1].limit == "max"


def test_without_a_snapshot_the_count_holds() -> None:
    [d], _ = run([(0.0, None)], state=AutoState(desired=7))
    assert (d.desired, d.rule) == (7, "auto.no_data")


# --- prediction -----------------------------------------------------------------------------------------


def test_the_profile_predicts_only_after_a_season() -> None:
    season = 12 * SLOT
    profile = Profile(season=season)
    for t in range(0, int(season), 60):  # a peak of 40 in slot 3, 5 elsewhere
        profile = profile.observe(float(t), 40 if 3 * SLOT <= t < 4 * SLOT else 5)
    assert profile.predict(3 * SLOT + 10) == 0  # first season: learning only
    profile = profile.observe(season, 5)
    assert profile.predict(season + 3 * SLOT + 10) == 40
    assert profile.predict(season + 3 * SLOT - 60) == 40  # LEAD ahead of the slot
    assert profile.predict(season + 6 * SLOT) == 5


def test_the_profile_learns_a_slots_mean_not_its_peak() -> None:
    """One noisy moment of 50 in a slot of 5s: a floor at 50 would keep 45 agents idle all slot long."""
    season = 12 * SLOT
    profile = Profile(season=season)
    for t in range(0, int(season) + 1, 30):
        profile = profile.observe(float(t), 50 if t == 30 else 5)
    assert profile.predict(season + 10) == math.ceil((50 + 9 * 5) / 10)


def learned_peak(start_time: float, active: bool = True) -> tuple[AutoConfig, AutoState]:
    """A season of 12 slots with a peak of 18 tasks/s x 2 s in slot 3, from agents taking ``start_time`` s to
    start, then the pool at zero agents; the forecast judged ``active``."""
    config = msgspec.structs.replace(CONFIG, season=12 * SLOT)
    state = AutoState(profile=Profile(season=12 * SLOT, active=active))
    peak = obs(pending=0, in_flight=40, busy=40, agents=40, arrival_rate=18.0, service_time=2.0)
    for t in range(0, int(12 * SLOT) + 1, 30):
        in_peak = 3 * SLOT <= t < 4 * SLOT
        o = peak if in_peak else obs(agents=state.desired)
        _, state = decide_auto(msgspec.structs.replace(o, start_time=start_time), config, 1000, state, float(t))
    return config, replace(state, desired=0)


def test_prediction_raises_the_floor_and_says_so() -> None:
    """Agents that take 10 s to start come too late for the peak: the floor goes up ahead of it."""
    config, state = learned_peak(start_time=10.0)
    peak_demand = demand(
        obs(in_flight=40, busy=40, agents=40, arrival_rate=18.0, service_time=2.0), config, 18.0, start=10.0
    )
    assert peak_demand.steady > 36  # 18/s x 2 s, staffed for the target wait
    decision, _ = decide_auto(obs(), config, 1000, state, 12 * SLOT + 3 * SLOT - 60)
    assert decision.rule == "auto.scale_from_zero" and decision.predicted == peak_demand.steady
    assert "recurring" in decision.reason
    off = msgspec.structs.replace(config, predict=False)
    decision, _ = decide_auto(obs(), off, 1000, state, 12 * SLOT + 3 * SLOT - 60)
    assert decision.desired == 0


def test_no_floor_while_the_forecast_is_not_active() -> None:
    """The profile learns, but until the forecast is judged to beat reacting (``sim/forecast.py``) the count
    follows the load itself, without idle agents on a floor."""
    config, state = learned_peak(start_time=0.5, active=False)
    assert state.profile.predict(12 * SLOT + 3 * SLOT) == 36
    decision, _ = decide_auto(obs(start_time=0.5), config, 1000, state, 12 * SLOT + 3 * SLOT - 60)
    assert (decision.desired, decision.predicted) == (0, 0)


def test_the_floor_applies_to_fast_agents_too_when_active() -> None:
    """Prediction no longer hinges on slow starts: an active forecast raises the floor for any pool."""
    config, state = learned_peak(start_time=0.5)
    decision, _ = decide_auto(obs(start_time=0.5), config, 1000, state, 12 * SLOT + 3 * SLOT - 60)
    assert decision.predicted == 36


# --- properties -----------------------------------------------------------------------------------------

observations = st.builds(
    lambda pending, busy, extra, rate, service, wait, tp, cpu, fit, start: dict(
        pending=pending,
        in_flight=busy,
        busy=busy,
        agents=busy + extra,
        arrival_rate=rate,
        service_time=service,
        wait_p95=wait,
        throughput=tp,
        cpu_percent=cpu,
        agents_fit=fit,
        start_time=start,
    ),
    st.integers(0, 3000),
    st.integers(0, 400),
    st.integers(0, 100),
    st.floats(0, 500),
    st.sampled_from([0.0, 0.05, 1.0, 2.5, 30.0]),
    st.floats(0, 60),
    st.floats(0, 500),
    st.none() | st.floats(0, 100),
    st.none() | st.integers(0, 2000),
    st.sampled_from([0.0, 0.5, 10.0]),
)


@PROPERTY
@given(
    st.lists(st.tuples(st.floats(0.1, 20), observations), min_size=1, max_size=40),
    st.integers(0, 50),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_properties_over_random_runs(
    steps: list[tuple[float, dict[str, Any]]], low: int, high: int, pool_max: int
) -> None:
    config = msgspec.structs.replace(CONFIG, min_agents=low, max_agents=high, scale_down_window=30.0)
    bound = min(high, pool_max)
    state, now, last_up = AutoState(), 0.0, None
    for gap, fields in steps:
        now += gap
        fields["busy"] = fields["in_flight"] = min(fields["busy"], state.desired)  # busy agents are running ones
        o = obs(at=now, **fields)
        d, state = decide_auto(o, config, pool_max, state, now)
        assert d.desired == state.desired >= 0
        assert d.desired <= max(bound, d.previous)  # never above max (a lowered max is followed, not exceeded)
        if d.desired > d.previous:
            assert d.desired <= bound
            assert o.agents_fit is None or d.desired <= d.previous + o.agents_fit  # never above capacity
            assert d.desired - d.previous <= config.max_step_up
            last_up = now
        if d.desired < d.previous:
            assert d.desired >= min(o.busy, d.previous)  # no busy agent is scaled away
            assert d.desired >= min(low, bound)
            assert last_up is None or now - last_up >= config.scale_down_window  # no reversal inside the window
        if d.desired < d.previous or d.desired > d.previous or d.rule == "auto.hold":
            assert d.reason
