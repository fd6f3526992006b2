"""The auto policy on bursts: idle agents that no expected task needs go once the window after the last scale-up
has passed, the service time is remembered across quiet gaps, and a light load's scale-up is no plateau."""

from __future__ import annotations

from agentscaler.services.policy.core.auto import AutoDecision, AutoState
from agentscaler.shared.messages.pools import AutoConfig

from .test_policy_auto import obs, run

CONFIG = AutoConfig(scale_down_window=10.0)
"""A window longer than the default, to tell the rule's release from the window's end."""


def served_burst(after_rate: float, start_time: float = 0.0) -> dict[float, AutoDecision]:
    """100 tasks of 10 s arrive at 10/s; the pool scales up to 100 at t=0, its arrival rate reads 10/s for 9 s
    (the arrivals rule recommends 100 over the window), then ``after_rate``, with 60 agents still busy: the
    decision at each t."""
    common = {"agents": 100, "in_flight": 100, "service_time": 10.0, "start_time": start_time}
    steps = [(0.0, obs(pending=100, arrival_rate=10.0, start_time=start_time))]
    steps += [(float(t), obs(busy=100, arrival_rate=10.0, **common)) for t in range(1, 10)]
    steps += [(float(t), obs(busy=60, arrival_rate=after_rate, **common)) for t in range(10, 40)]
    decisions, _ = run(steps, CONFIG, state=AutoState(rate=10.0, rate_at=-1.0))
    return {now: d for (now, _), d in zip(steps, decisions, strict=True)}


def test_a_served_burst_lets_its_idle_agents_go_once_the_window_after_the_scale_up_has_passed() -> None:
    decisions = served_burst(after_rate=0.0)
    assert decisions[0.0].desired == 100
    assert all(decisions[float(t)].desired == 100 for t in range(1, 10))  # no reversal inside the window
    down = decisions[CONFIG.scale_down_window]
    assert (down.desired, down.rule) == (60, "auto.scale_down")  # not the 100 the window recommended
    assert "no task is expected" in down.reason


def test_idle_agents_that_expected_tasks_would_take_stay() -> None:
    """At 2 tasks/s, 20 tasks are expected within the 10 s window: 60 busy + 20 stay."""
    assert served_burst(after_rate=2.0)[CONFIG.scale_down_window].desired == 80


def test_slow_agents_keep_the_window() -> None:
    """Agents taking longer to start than the target wait come too late for a task: the window holds (3 start
    times) whatever the rate says."""
    decisions = served_burst(after_rate=0.0, start_time=10.0)
    assert all(d.desired == 100 for now, d in decisions.items() if now < 39.0)  # t=9 recommended 100
    assert decisions[39.0].desired == 60


ONSET = {"pending": 50, "agents": 50, "busy": 50, "in_flight": 50, "throughput": 0.5, "service_time": 1.0}
"""Early in a batch: only its short tasks (1 s) have finished, far fewer than the 50 in flight account for."""


def test_early_in_a_batch_the_remembered_service_time_sizes_the_pool() -> None:
    [decision], state = run([(0.0, obs(**ONSET))], state=AutoState(desired=50, service=10.0))
    assert decision.desired == 100 and "10.00 s per task" in decision.reason  # 50 queued x 10 s, an agent each
    assert state.service == 10.0  # the short tasks do not teach it
    [unknown], _ = run([(0.0, obs(**ONSET))], state=AutoState(desired=50))
    assert unknown.desired == 50  # nothing remembered: 50 x 1 s start within the wait


def test_the_service_time_is_learned_from_finishes_and_kept_through_quiet_gaps() -> None:
    steady = obs(agents=40, busy=40, in_flight=40, throughput=4.0, service_time=10.0, arrival_rate=4.0)
    _, state = run([(0.0, steady)], state=AutoState(desired=40))
    assert state.service == 10.0
    _, state = run([(1.0, obs(service_time=0.0)), (600.0, obs(service_time=0.0))], state=state)
    assert state.service == 10.0  # no finish, no change
    faster = obs(agents=40, busy=20, in_flight=20, throughput=4.0, service_time=5.0, arrival_rate=4.0)
    _, state = run([(601.0, faster), (611.0, faster)], state=state)
    assert 5.0 < state.service < 10.0  # moves towards it by the 40 tasks finished in 10 s


def test_a_scale_up_under_a_light_load_is_no_plateau() -> None:
    """Throughput that did not rise while fewer tasks queued than agents were added says nothing of a limit."""
    queued = {"pending": 200, "service_time": 2.0, "throughput": 5.0, "arrival_rate": 5.0}
    [up], state = run([(0.0, obs(agents=10, busy=10, in_flight=10, **queued))], state=AutoState(desired=10))
    added = up.desired - 10
    light = obs(agents=up.desired, busy=up.desired, in_flight=up.desired, **(queued | {"pending": added - 1}))
    [later], state = run([(20.0, light)], state=state)
    assert later.limit != "plateau" and state.ceiling is None and state.probe is None


def test_throughput_from_agents_already_gone_does_not_make_a_plateau() -> None:
    """A pool just scaled down to 1 still sees the finishes of the agents that left (0.3 tasks/s of 12 s tasks
    is 4 agents' work): adding 2 agents as the morning queue starts must not be judged against 1 agent's."""
    ramp = {"service_time": 12.0, "arrival_rate": 1.8}
    [up], state = run(
        [(0.0, obs(agents=1, busy=1, in_flight=1, pending=5, throughput=0.3, **ramp))], state=AutoState(desired=1)
    )
    assert up.desired > 1 and state.probe is not None and state.probe.before >= 4
    later = obs(agents=up.desired, busy=up.desired, in_flight=up.desired, pending=5, throughput=0.4, **ramp)
    decisions, state = run([(40.0, later), (41.0, later)], state=state)
    assert all(d.limit != "plateau" for d in decisions) and state.ceiling is None
