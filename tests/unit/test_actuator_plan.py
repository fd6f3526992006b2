"""The actuator's pure reconcile decisions: what to spawn, which agents to drain, how long to back off."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.actuator.plan import ProcView, backoff, choose_victims, plan

from .builders import PROPERTY, proc


def procs_of(pool: str, n: int, *, draining: int = 0) -> list[ProcView]:
    return [proc(f"{pool}-{i}", pool=pool, draining=i < draining) for i in range(n)]


# --- plan -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "procs", "not_before", "batch", "spawn", "excess"),
    [
        pytest.param({"a": 3}, [], {}, 50, {"a": 3}, {}, id="spawn-missing"),
        pytest.param({"a": 100}, [], {}, 10, {"a": 10}, {}, id="spawn-up-to-batch"),
        pytest.param({"a": 5}, procs_of("a", 3), {}, 50, {"a": 2}, {}, id="spawn-the-difference"),
        pytest.param({"a": 3}, procs_of("a", 3), {}, 50, {}, {}, id="converged"),
        pytest.param({"a": 1}, procs_of("a", 3), {}, 50, {}, {"a": 2}, id="excess"),
        pytest.param({}, procs_of("a", 2), {}, 50, {}, {"a": 2}, id="pool-not-desired-is-all-excess"),
        pytest.param({"a": 0}, [], {}, 50, {}, {}, id="zero-is-nothing"),
        pytest.param({"a": 3}, [], {"a": 10.5}, 50, {}, {}, id="backing-off"),
        pytest.param({"a": 3}, [], {"a": 10.0}, 50, {"a": 3}, {}, id="backoff-ends-at-not-before"),
        pytest.param({"a": 3}, [], {"b": 99.0}, 50, {"a": 3}, {}, id="backoff-is-per-pool"),
        pytest.param({"a": 2}, procs_of("a", 3, draining=2), {}, 50, {"a": 1}, {}, id="draining-not-counted"),
        pytest.param({"a": 1}, procs_of("a", 3, draining=2), {}, 50, {}, {}, id="draining-not-excess"),
        pytest.param({"a": 0}, procs_of("a", 2, draining=2), {}, 50, {}, {}, id="all-draining"),
        pytest.param(
            {"a": 2, "b": 1},
            procs_of("a", 1) + procs_of("b", 3),
            {},
            50,
            {"a": 1},
            {"b": 2},
            id="pools-independent",
        ),
    ],
)
def test_plan(desired, procs, not_before, batch, spawn, excess):
    result = plan(desired, procs, now=10.0, not_before=not_before, spawn_batch=batch)
    assert result.spawn == spawn
    assert result.excess == excess


POOL_NAMES = st.sampled_from(["a", "b", "c"])
PROCS = st.lists(
    st.builds(
        proc,
        st.uuids().map(str),
        pool=POOL_NAMES,
        started_at=st.floats(0, 1000),
        draining=st.booleans(),
        state=st.sampled_from([None, "starting", "ready", "busy", "draining"]),
        busy_since=st.floats(0, 1000),
    ),
    max_size=30,
    unique_by=lambda p: p.agent_id,
)


@PROPERTY
@given(
    desired=st.dictionaries(POOL_NAMES, st.integers(0, 40)),
    procs=PROCS,
    not_before=st.dictionaries(POOL_NAMES, st.floats(0, 20)),
    batch=st.integers(1, 10),
    now=st.floats(0, 20),
)
def test_plan_never_overshoots(desired, procs, not_before, batch, now):
    result = plan(desired, procs, now=now, not_before=not_before, spawn_batch=batch)
    active = {pool: sum(1 for p in procs if p.pool == pool and not p.draining) for pool in "abc"}
    for pool, n in result.spawn.items():
        assert 0 < n <= batch
        assert n + active[pool] <= desired[pool]
        assert now >= not_before.get(pool, 0.0)
    for pool, n in result.excess.items():
        assert n == active[pool] - desired.get(pool, 0) > 0
    assert not set(result.spawn) & set(result.excess)
    for pool in "abc":
        want = desired.get(pool, 0)
        if want > active[pool] and now >= not_before.get(pool, 0.0):
            assert result.spawn[pool] == min(want - active[pool], batch)


# --- choose_victims -------------------------------------------------------------------------------------


def test_victims_rank_unknown_and_starting_then_ready_then_busy():
    procs = [
        proc("busy-short", state="busy", started_at=1.0, busy_since=90.0),
        proc("ready-old", state="ready", started_at=1.0),
        proc("busy-long", state="busy", started_at=5.0, busy_since=10.0),
        proc("unknown", state=None, started_at=2.0),
        proc("ready-new", state="ready", started_at=9.0),
        proc("starting", state="starting", started_at=3.0),
    ]
    assert choose_victims(procs, "p", 10) == [
        "starting",  # newest of the not-yet-working (3.0 > 2.0)
        "unknown",
        "ready-new",
        "ready-old",
        "busy-long",  # busy longest: closest to done
        "busy-short",
    ]


def test_busy_victims_with_the_fewest_tasks_held_go_first():
    procs = [
        proc("holds-3", state="busy", busy_since=1.0, held=3),
        proc("holds-1-new", state="busy", busy_since=50.0, held=1),
        proc("holds-2", state="busy", busy_since=2.0, held=2),
        proc("holds-1-old", state="busy", busy_since=10.0, held=1),
    ]
    assert choose_victims(procs, "p", 3) == ["holds-1-old", "holds-1-new", "holds-2"]


def test_victims_never_include_draining_agents_or_other_pools():
    procs = [
        proc("draining", state="starting", draining=True, started_at=100.0),
        proc("other-pool", pool="q", state="starting"),
        proc("keep", state="busy", busy_since=1.0),
    ]
    assert choose_victims(procs, "p", 3) == ["keep"]


def test_agents_draining_on_their_own_go_last():
    procs = [proc("self-draining", state="draining"), proc("busy", state="busy", busy_since=1.0)]
    assert choose_victims(procs, "p", 1) == ["busy"]


@pytest.mark.parametrize(("count", "expected"), [(0, []), (1, ["n3"]), (2, ["n3", "n2"]), (5, ["n3", "n2", "n1"])])
def test_victims_at_most_count_newest_first(count, expected):
    procs = [proc(f"n{i}", state="ready", started_at=float(i)) for i in (1, 2, 3)]
    assert choose_victims(procs, "p", count) == expected


@PROPERTY
@given(procs=PROCS, pool=POOL_NAMES, count=st.integers(0, 40))
def test_victims_properties(procs, pool, count):
    victims = choose_victims(procs, pool, count)
    by_id = {p.agent_id: p for p in procs}
    candidates = [p for p in procs if p.pool == pool and not p.draining]
    assert len(victims) == min(count, len(candidates))
    assert len(set(victims)) == len(victims)
    assert all(by_id[v].pool == pool and not by_id[v].draining for v in victims)
    # Nobody left behind ranks before somebody chosen.
    rank = {"starting": 0, None: 0, "ready": 1, "busy": 2, "draining": 3}
    spared = [p for p in candidates if p.agent_id not in victims]
    if victims and spared:
        assert max(rank[by_id[v].state] for v in victims) <= min(rank[p.state] for p in spared)


# --- backoff --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crashes", "cap", "expected"),
    [
        (-1, 30, 0.0),
        (0, 30, 0.0),
        (1, 30, 0.5),
        (2, 30, 1.0),
        (3, 30, 2.0),
        (6, 30, 16.0),
        (7, 30, 30.0),
        (50, 30, 30.0),
        (4, 3, 3.0),
        (1, 0.25, 0.25),
    ],
)
def test_backoff(crashes, cap, expected):
    assert backoff(crashes, cap) == expected


@PROPERTY
@given(crashes=st.integers(0, 200), cap=st.floats(0.01, 3600))
def test_backoff_grows_and_stays_capped(crashes, cap):
    # Crash counts past ~1000 are covered by test_backoff_survives_a_long_crash_loop.
    now, after = backoff(crashes, cap), backoff(crashes + 1, cap)
    assert 0.0 <= now <= after <= cap


@pytest.mark.parametrize("crashes", [1025, 10_000])
def test_backoff_survives_a_long_crash_loop(crashes):
    """A broken handler in a pool of 50 crash-loops 50 times per backoff: a night is plenty for 1025 crashes."""
    assert backoff(crashes, 30.0) == 30.0
