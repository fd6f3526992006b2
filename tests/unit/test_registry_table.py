"""The registry's agent table: pure bookkeeping fed messages and the time."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agentscaler.services.registry.table import AgentTable
from agentscaler.shared.messages.agents import Deregistered, Lost, Registered

from .builders import PROPERTY, deregister, exited, heartbeat, record, register, spawned

LOST_AFTER = 15.0
START_TIMEOUT = 60.0
TTL = 120.0


def table() -> AgentTable:
    return AgentTable(lost_after=LOST_AFTER, start_timeout=START_TIMEOUT, tombstone_ttl=TTL)


# --- lifecycle ------------------------------------------------------------------------------------------


def test_spawned_agent_is_starting_and_emits_nothing():
    t = table()
    assert t.spawned(spawned("a1", pool="p", host="h", at=5.0), now=6.0) == []
    rec = t.agents["a1"]
    assert (rec.state, rec.pool, rec.host, rec.started_at, rec.last_seen) == ("starting", "p", "h", 5.0, 6.0)


def test_a_registration_for_another_pool_or_host_than_the_agent_was_started_for_is_misnamed():
    t = table()
    assert t.misnamed(register("a1", pool="p", host="h")) is None  # not started here: nothing to hold it to
    t.spawned(spawned("a1", pool="p", host="h"), now=1.0)
    assert t.misnamed(register("a1", pool="p", host="h")) is None
    assert "started for pool 'p'" in (t.misnamed(register("a1", pool="other", host="h")) or "")
    assert "on host 'h'" in (t.misnamed(register("a1", pool="p", host="elsewhere")) or "")


def test_spawned_does_not_overwrite_a_registered_agent():
    """The Spawned event may arrive after the agent's own Register: the registration stands."""
    t = table()
    t.register(register("a1"), now=1.0)
    assert t.spawned(spawned("a1", at=0.5), now=2.0) == []
    assert t.agents["a1"].state == "ready"


def test_register_makes_agent_ready_and_emits_registered():
    t = table()
    t.spawned(spawned("a1", at=0.0), now=0.0)
    events = t.register(register("a1", pool="p", host="h", started_at=0.5), now=1.0)
    assert len(events) == 1
    assert isinstance(events[0], Registered)
    rec = events[0].agent
    assert (rec.agent_id, rec.state, rec.started_at, rec.last_seen, rec.traceparent) == ("a1", "ready", 0.5, 1.0, "tp")
    assert t.agents["a1"] == rec


def test_registering_measures_how_long_the_agent_took_to_start():
    t = table()
    t.spawned(spawned("a1", at=10.0), now=10.0)
    t.spawned(spawned("a2", at=10.0), now=10.0)
    [ev] = t.register(register("a1"), now=12.5)
    assert ev.agent.start_seconds == 2.5
    [ev] = t.heartbeat(heartbeat("a2"), now=13.0)  # its register request was lost: the beat registers it
    assert ev.agent.start_seconds == 3.0
    t.register(register("a1"), now=20.0)  # registering again (e.g. after a registry restart) keeps it
    assert t.agents["a1"].start_seconds == 2.5
    [ev] = t.register(register("a3"), now=1.0)  # never seen starting: not measured
    assert ev.agent.start_seconds == 0.0
    # an agent that timed its own start says so: a burst's wait for its turn to start does not count
    t.spawned(spawned("a4", at=10.0), now=10.0)
    [ev] = t.register(msgspec.structs.replace(register("a4"), start_seconds=0.05), now=18.0)
    assert ev.agent.start_seconds == 0.05


def test_heartbeat_updates_state_and_counters_without_events():
    t = table()
    t.register(register("a1"), now=1.0)
    events = t.heartbeat(heartbeat("a1", state="busy", completed=7, failed=2, busy_since=9.0, held=3), now=10.0)
    assert events == []
    rec = t.agents["a1"]
    assert (rec.state, rec.completed, rec.failed, rec.busy_since, rec.held, rec.last_seen) == (
        "busy",
        7,
        2,
        9.0,
        3,
        10.0,
    )
    assert rec.started_at == 0.0  # kept from the registration


@pytest.mark.parametrize("spawned_first", [False, True], ids=["unknown", "starting"])
def test_heartbeat_from_unregistered_agent_registers_it(spawned_first):
    """After a registry restart or a lost Register request, a heartbeat proves the agent is alive."""
    t = table()
    if spawned_first:
        t.spawned(spawned("a1", at=3.0), now=3.0)
    events = t.heartbeat(heartbeat("a1", state="busy", completed=4, busy_since=7.0), now=8.0)
    assert [type(e) for e in events] == [Registered]
    rec = events[0].agent
    assert (rec.state, rec.completed, rec.last_seen) == ("busy", 4, 8.0)
    assert rec.started_at == (3.0 if spawned_first else 8.0)
    assert t.agents["a1"] == rec


def test_deregister_emits_final_counters_and_removes_agent():
    t = table()
    t.register(register("a1"), now=1.0)
    t.heartbeat(heartbeat("a1", completed=3, failed=1), now=2.0)
    events = t.deregister(deregister("a1", completed=10, failed=2), now=5.0)
    assert [type(e) for e in events] == [Deregistered]
    final = events[0].agent
    assert (final.completed, final.failed, final.last_seen) == (10, 2, 5.0)
    assert "a1" not in t.agents
    assert t.departed == {"a1": 5.0}


def test_deregister_of_unknown_agent_leaves_a_tombstone_only():
    t = table()
    assert t.deregister(deregister("ghost"), now=5.0) == []
    assert t.agents == {}
    assert t.departed == {"ghost": 5.0}


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (1, "exited with code 1"),
        (137, "exited with code 137"),
        (-9, "killed by signal 9"),
        (-15, "killed by signal 15"),
    ],
)
def test_exited_without_deregister_is_lost_with_code_or_signal(code, words):
    t = table()
    t.register(register("a1"), now=1.0)
    events = t.exited(exited("a1", code=code), now=2.0)
    assert [type(e) for e in events] == [Lost]
    assert words in events[0].reason
    assert "without deregistering" in events[0].reason
    assert "a1" not in t.agents
    assert "a1" in t.departed


def test_a_clean_exit_before_the_goodbye_arrives_is_a_departure_not_a_loss():
    """The agent's Deregister and the actuator's Exited travel on different subjects: at a thousand agents
    leaving at once, the exit can be handled first. Exit code 0 means the agent shut down cleanly."""
    t = table()
    t.register(register("a1"), now=1.0)
    t.heartbeat(heartbeat("a1", completed=4), now=1.5)
    [event] = t.exited(exited("a1", code=0, drained=True), now=2.0)
    assert isinstance(event, Deregistered) and event.agent.completed == 4
    assert t.deregister(deregister("a1"), now=2.1) == []  # the goodbye, late: nothing more to say
    assert "a1" not in t.agents


def test_exited_after_deregister_emits_nothing():
    t = table()
    t.register(register("a1"), now=1.0)
    t.deregister(deregister("a1"), now=2.0)
    assert t.exited(exited("a1", code=0, drained=True), now=3.0) == []


# --- tombstones -----------------------------------------------------------------------------------------


def _depart(t: AgentTable, how: str, now: float) -> None:
    t.register(register("a1"), now=0.0)
    if how == "deregister":
        t.deregister(deregister("a1"), now=now)
    elif how == "exit":
        t.exited(exited("a1", code=1), now=now)
    else:  # lost: no heartbeat for longer than lost_after
        assert [type(e) for e in t.sweep(now)] == [Lost]


@pytest.mark.parametrize("how", ["deregister", "exit", "lost"])
def test_heartbeat_after_departure_is_ignored(how):
    t = table()
    _depart(t, how, now=20.0)
    assert t.heartbeat(heartbeat("a1"), now=21.0) == []
    assert "a1" not in t.agents


@pytest.mark.parametrize("how", ["deregister", "exit", "lost"])
def test_spawned_after_departure_is_ignored(how):
    t = table()
    _depart(t, how, now=20.0)
    assert t.spawned(spawned("a1", at=21.0), now=21.0) == []
    assert "a1" not in t.agents


def test_tombstone_expires_after_ttl():
    t = table()
    _depart(t, "deregister", now=20.0)
    t.sweep(20.0 + TTL)  # exactly at the ttl: still remembered
    assert "a1" in t.departed
    t.sweep(20.0 + TTL + 0.1)
    assert "a1" not in t.departed
    # The id is free again: a heartbeat now registers it.
    assert [type(e) for e in t.heartbeat(heartbeat("a1"), now=200.0)] == [Registered]


def test_register_clears_tombstone():
    """An explicit registration is stronger than a tombstone (the agent id came back on purpose)."""
    t = table()
    _depart(t, "deregister", now=20.0)
    assert [type(e) for e in t.register(register("a1"), now=21.0)] == [Registered]
    assert "a1" in t.agents
    assert "a1" not in t.departed


# --- sweep ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "started_at", "last_seen", "now", "lost", "reason"),
    [
        # Starting agents are judged by when they were spawned, not by heartbeats.
        ("starting", 0.0, 0.0, START_TIMEOUT, False, None),
        ("starting", 0.0, 0.0, START_TIMEOUT + 0.1, True, "did not register within 60s"),
        ("starting", 0.0, 100.0, START_TIMEOUT + 1, True, "did not register within 60s"),
        # Registered agents are judged by their last heartbeat.
        ("ready", 0.0, 100.0, 100.0 + LOST_AFTER, False, None),
        ("ready", 0.0, 100.0, 100.0 + LOST_AFTER + 0.5, True, "no heartbeat for 15.5s (limit 15s)"),
        ("busy", 0.0, 100.0, 130.0, True, "no heartbeat for 30.0s"),
        ("draining", 0.0, 100.0, 110.0, False, None),
        ("ready", 0.0, 0.0, START_TIMEOUT + 1, True, "no heartbeat"),
    ],
)
def test_sweep(state, started_at, last_seen, now, lost, reason):
    t = table()
    t.agents["a1"] = record("a1", state=state, started_at=started_at, last_seen=last_seen)
    events = t.sweep(now)
    if lost:
        assert [type(e) for e in events] == [Lost]
        assert events[0].agent.agent_id == "a1"
        assert reason in events[0].reason
        assert "a1" not in t.agents
        assert t.departed["a1"] == now
    else:
        assert events == []
        assert "a1" in t.agents


def test_sweep_keeps_healthy_agents_and_loses_only_the_silent():
    t = table()
    t.register(register("old"), now=0.0)
    t.register(register("fresh"), now=0.0)
    t.spawned(spawned("new", at=10.0), now=10.0)
    t.heartbeat(heartbeat("fresh"), now=10.0)
    events = t.sweep(20.0)
    assert [e.agent.agent_id for e in events] == ["old"]
    assert sorted(t.agents) == ["fresh", "new"]


# --- select and restore ---------------------------------------------------------------------------------


def test_select_filters_by_pool_and_host():
    t = table()
    for agent_id, pool, host in [("a", "p1", "h1"), ("b", "p1", "h2"), ("c", "p2", "h1"), ("d", "p2", "h2")]:
        t.register(register(agent_id, pool=pool, host=host), now=0.0)

    def ids(**kw: str) -> list[str]:
        return sorted(r.agent_id for r in t.select(**kw)[0])

    assert ids() == ["a", "b", "c", "d"]
    assert ids(pool="p1") == ["a", "b"]
    assert ids(host="h1") == ["a", "c"]
    assert ids(pool="p2", host="h2") == ["d"]
    assert ids(pool="nope") == []


def test_select_pages_by_id_so_every_agent_is_read_once():
    t = table()
    for n in range(7):
        t.register(register(f"a{n}", pool="p1" if n % 2 else "p2"), now=0.0)
    pages, after = [], ""
    while True:
        page, after = t.select(after=after, limit=3)
        pages.append([r.agent_id for r in page])
        if not after:
            break
    assert pages == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]]
    assert t.select(pool="p1", limit=3) == (t.select(pool="p1")[0], "")  # all of it fits: no page to follow
    page, after = t.select(pool="p2", limit=2)
    assert ([r.agent_id for r in page], after) == (["a0", "a2"], "a2")


def test_restore_resets_last_seen_so_agents_get_a_full_period():
    t = table()
    t.restore([record("a1", last_seen=5.0), record("a2", state="busy", last_seen=1.0)], now=1000.0)
    assert {r.agent_id: r.last_seen for r in t.select()[0]} == {"a1": 1000.0, "a2": 1000.0}
    assert t.agents["a2"].state == "busy"
    assert t.sweep(1000.0 + LOST_AFTER) == []


# --- properties -----------------------------------------------------------------------------------------

IDS = st.sampled_from(["a", "b", "c", "d"])
POOLS = st.sampled_from(["p", "q"])
STATES = st.sampled_from(["starting", "ready", "busy", "draining"])
STEP = st.floats(min_value=0.0, max_value=80.0, allow_nan=False)


class TableMachine(RuleBasedStateMachine):
    """Any sequence of messages and sweeps, with time only moving forward."""

    def __init__(self) -> None:
        super().__init__()
        self.t = AgentTable(lost_after=10.0, start_timeout=30.0, tombstone_ttl=60.0)
        self.now = 0.0

    def _tick(self, dt: float) -> float:
        self.now += dt
        return self.now

    def _check(self, events: list) -> None:
        for e in events:
            if isinstance(e, Lost | Deregistered):
                assert e.agent.agent_id not in self.t.agents
                assert self.t.departed[e.agent.agent_id] == self.now
            else:
                assert self.t.agents[e.agent.agent_id] == e.agent

    @rule(agent_id=IDS, pool=POOLS, dt=STEP)
    def spawned(self, agent_id, pool, dt):
        now = self._tick(dt)
        self._check(self.t.spawned(spawned(agent_id, pool=pool, at=now), now))

    @rule(agent_id=IDS, pool=POOLS, dt=STEP)
    def register(self, agent_id, pool, dt):
        now = self._tick(dt)
        events = self.t.register(register(agent_id, pool=pool, started_at=now), now)
        assert [type(e) for e in events] == [Registered]
        self._check(events)

    @rule(agent_id=IDS, state=STATES, done=st.integers(0, 50), dt=STEP)
    def heartbeat(self, agent_id, state, done, dt):
        now = self._tick(dt)
        was_departed = agent_id in self.t.departed
        events = self.t.heartbeat(heartbeat(agent_id, state=state, completed=done), now)
        if was_departed:
            assert events == []
            assert agent_id not in self.t.agents
        else:
            assert self.t.agents[agent_id].completed == done
        self._check(events)

    @rule(agent_id=IDS, dt=STEP)
    def deregister(self, agent_id, dt):
        now = self._tick(dt)
        self._check(self.t.deregister(deregister(agent_id), now))

    @rule(agent_id=IDS, code=st.integers(-15, 3), dt=STEP)
    def exited(self, agent_id, code, dt):
        now = self._tick(dt)
        self._check(self.t.exited(exited(agent_id, code=code), now))

    @precondition(lambda self: self.t.agents or self.t.departed)
    @rule(dt=STEP)
    def sweep(self, dt):
        now = self._tick(dt)
        events = self.t.sweep(now)
        assert all(isinstance(e, Lost) for e in events)
        self._check(events)
        for rec in self.t.agents.values():
            if rec.state == "starting":
                assert now - rec.started_at <= self.t.start_timeout
            else:
                assert now - rec.last_seen <= self.t.lost_after
        assert all(now - at <= self.t.tombstone_ttl for at in self.t.departed.values())

    @invariant()
    def departed_and_present_are_disjoint(self):
        assert not set(self.t.agents) & set(self.t.departed)

    @invariant()
    def records_are_keyed_by_their_id_and_never_from_the_future(self):
        for agent_id, rec in self.t.agents.items():
            assert rec.agent_id == agent_id
            assert rec.last_seen <= self.now


TableMachine.TestCase.settings = PROPERTY
test_table_state_machine = TableMachine.TestCase


@pytest.mark.parametrize(
    ("interval", "silent_for", "lost"),
    [
        (0.0, 9.9, False),  # unknown interval: the registry's own limit (10 s here)
        (0.0, 10.1, True),
        (15.0, 44.9, False),  # three missed beats of a 15 s agent
        (15.0, 45.1, True),
        (1.0, 9.9, False),  # never below the registry's limit
    ],
)
def test_lost_after_three_missed_beats_of_the_agents_own_interval(interval: float, silent_for: float, lost: bool):
    t = AgentTable(lost_after=10.0, start_timeout=60.0)
    t.register(msgspec.structs.replace(register(), interval=interval), now=0.0)
    events = t.sweep(now=silent_for)
    assert bool(events) == lost
    if lost:
        assert isinstance(events[0], Lost) and f"limit {max(10.0, 3 * interval):g}s" in events[0].reason
