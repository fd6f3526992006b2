"""The monitor's converged tracker: one event per change of a pool's desired count."""

from __future__ import annotations

from agentscaler.services.monitor.converged import ConvergeTracker
from agentscaler.shared.messages.pool_events import converged, refused, stuck
from agentscaler.shared.messages.snapshots import AgentCounts


def counts(ready: int = 0, busy: int = 0, starting: int = 0, draining: int = 0) -> AgentCounts:
    return AgentCounts(ready=ready, busy=busy, starting=starting, draining=draining)


def test_a_change_converges_once() -> None:
    t = ConvergeTracker(stuck_after=120)
    assert t.observe("p", 0, counts(), 0.0) is None  # first seen at its count: nothing to report
    assert t.observe("p", 3, counts(starting=3), 1.0) is None
    assert t.observe("p", 3, counts(ready=2, starting=1), 2.0) is None
    assert t.observe("p", 3, counts(ready=2, busy=1), 4.5) == ("converged", 3.5)
    assert t.observe("p", 3, counts(ready=3), 6.0) is None  # once per change
    assert t.observe("p", 3, counts(ready=2), 7.0) is None  # an agent lost without a change: not this event


def test_draining_agents_are_not_converged() -> None:
    t = ConvergeTracker(stuck_after=120)
    t.observe("p", 3, counts(ready=3), 0.0)
    assert t.observe("p", 1, counts(ready=1, draining=2), 1.0) is None
    assert t.observe("p", 1, counts(busy=1), 2.0) == ("converged", 1.0)


def test_stuck_once_then_converged_when_it_gets_there() -> None:
    t = ConvergeTracker(stuck_after=10)
    t.observe("p", 0, counts(), 0.0)
    assert t.observe("p", 4, counts(starting=4), 1.0) is None
    assert t.observe("p", 4, counts(ready=2, starting=2), 10.9) is None
    assert t.observe("p", 4, counts(ready=2, starting=2), 11.0) == ("stuck", 10.0)
    assert t.observe("p", 4, counts(ready=2, starting=2), 50.0) is None
    assert t.observe("p", 4, counts(ready=4), 60.0) == ("converged", 59.0)


def test_a_new_change_starts_over_and_first_sight_away_from_the_count_is_a_change() -> None:
    t = ConvergeTracker(stuck_after=10)
    assert t.observe("p", 2, counts(starting=2), 0.0) is None
    assert t.observe("p", 5, counts(ready=2, starting=3), 8.0) is None  # changed again: the clock restarts
    assert t.observe("p", 5, counts(ready=2, starting=3), 17.0) is None
    assert t.observe("p", 5, counts(ready=5), 18.0) == ("converged", 10.0)
    t.forget_others(set())
    assert t.observe("p", 5, counts(ready=4), 19.0) is None  # forgotten, then first seen again


def test_events_say_it_in_one_line() -> None:
    assert converged("p", 5, 12.4, 0.0).summary == "pool p reached 5 agents in 12s"
    assert stuck("p", 5, counts(ready=2, starting=3), 120.0, 0.0).summary.startswith(
        "pool p has 2 of 5 agents after 120s (3 starting, 0 draining)"
    )
    event = refused("p", 9, "up 9 exceeds max_agents=4 of pool 'p'", "", 0.0)
    assert event.summary == "scale-up of pool p to 9 refused: up 9 exceeds max_agents=4 of pool 'p'"
