"""Placement of a pool's desired count across hosts: tables for the rules, Hypothesis for what always holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.policy.core.placement import Candidate, place

A, B, C = "host-a", "host-b", "host-c"


@pytest.mark.parametrize(
    ("desired", "rooms", "current", "strategy", "expected"),
    [
        # spread: most room left first, evenly once rooms are alike
        (10, {A: 100, B: 100}, {}, "spread", {A: 5, B: 5}),
        (10, {A: 100, B: 10}, {}, "spread", {A: 10, B: 0}),
        (10, {A: 12, B: 10}, {}, "spread", {A: 6, B: 4}),
        (3, {A: None, B: None, C: None}, {}, "spread", {A: 1, B: 1, C: 1}),
        # pack: fill one host while it has room, then the next
        (10, {A: 100, B: 100}, {}, "pack", {A: 10, B: 0}),
        (10, {A: 6, B: 100}, {}, "pack", {A: 6, B: 4}),
        (10, {A: 100, B: 100}, {B: 2}, "pack", {A: 0, B: 10}),
        # shares stay: growing adds, shrinking takes away; nothing moves without need
        (12, {A: 100, B: 100}, {A: 5, B: 5}, "spread", {A: 6, B: 6}),
        (6, {A: 100, B: 100}, {A: 7, B: 3}, "spread", {A: 3, B: 3}),
        (8, {A: 100, B: 100}, {A: 7, B: 3}, "spread", {A: 5, B: 3}),
        (4, {A: 100, B: 100}, {A: 7, B: 3}, "pack", {A: 4, B: 0}),
        # a host gone: its share goes to the others
        (10, {A: 100}, {A: 5, B: 5}, "spread", {A: 10}),
        # no room anywhere: still placed, evenly
        (4, {A: 0, B: 0}, {}, "spread", {A: 2, B: 2}),
        # room known before room unknown
        (3, {A: 2, B: None}, {}, "spread", {A: 2, B: 1}),
        (0, {A: 100}, {A: 3}, "spread", {A: 0}),
    ],
)
def test_placement_table(
    desired: int, rooms: dict[str, int | None], current: dict[str, int], strategy: str, expected: dict[str, int]
) -> None:
    candidates = [Candidate(h, r) for h, r in rooms.items()]
    assert place(desired, candidates, current, strategy) == expected  # type: ignore[arg-type]


def test_no_host_known_places_nothing() -> None:
    assert place(5, [], {A: 5}) == {}


HOSTS = st.lists(
    st.tuples(st.sampled_from([A, B, C, "host-d"]), st.none() | st.integers(min_value=0, max_value=50)),
    min_size=1,
    max_size=4,
    unique_by=lambda t: t[0],
)


@given(
    desired=st.integers(min_value=0, max_value=200),
    hosts=HOSTS,
    current=st.dictionaries(st.sampled_from([A, B, C, "host-e"]), st.integers(min_value=0, max_value=60)),
    strategy=st.sampled_from(["spread", "pack"]),
)
def test_shares_sum_to_desired_on_candidates_only_and_move_nothing_needlessly(
    desired: int, hosts: list[tuple[str, int | None]], current: dict[str, int], strategy: str
) -> None:
    candidates = [Candidate(h, r) for h, r in hosts]
    shares = place(desired, candidates, current, strategy)  # type: ignore[arg-type]
    assert set(shares) == {h for h, _ in hosts}
    assert sum(shares.values()) == desired and all(n >= 0 for n in shares.values())
    kept = {h: current.get(h, 0) for h in shares}
    if desired >= sum(kept.values()):
        assert all(shares[h] >= kept[h] for h in shares)  # growing never takes from a host
    else:
        assert all(shares[h] <= kept[h] for h in shares)  # shrinking never adds to one


@given(desired=st.integers(min_value=0, max_value=200), n=st.integers(min_value=1, max_value=6))
def test_spread_on_alike_hosts_differs_by_at_most_one(desired: int, n: int) -> None:
    shares = place(desired, [Candidate(f"h{i}", 1000) for i in range(n)], {})
    assert max(shares.values()) - min(shares.values()) <= 1


@given(desired=st.integers(min_value=0, max_value=60), rooms=st.lists(st.integers(0, 30), min_size=1, max_size=4))
def test_pack_uses_no_host_while_the_fuller_ones_have_room(desired: int, rooms: list[int]) -> None:
    candidates = [Candidate(f"h{i}", r) for i, r in enumerate(rooms)]
    shares = place(desired, candidates, {}, "pack")
    if desired <= sum(rooms):
        assert all(shares[c.host] <= c.room for c in candidates if c.room is not None)
        used = [c for c in candidates if shares[c.host]]
        assert sum(1 for c in used if shares[c.host] < (c.room or 0)) <= 1  # at most one host partly filled


# Holds, idle agents first, rebalancing.


def test_a_cordoned_host_keeps_its_share_and_gets_no_more() -> None:
    candidates = [Candidate(A, 100, cordoned=True), Candidate(B, 100)]
    assert place(10, candidates, {A: 4, B: 2}) == {A: 4, B: 6}
    assert place(3, candidates, {A: 4, B: 2}) == {A: 2, B: 1}  # shrinking takes from it as from any


def test_only_cordoned_hosts_leave_the_rest_unplaced() -> None:
    assert place(10, [Candidate(A, 100, cordoned=True)], {A: 4}) == {A: 4}


@pytest.mark.parametrize(
    ("idle", "expected"),
    [
        ({}, {A: 4, B: 4}),  # none idle: from the host with the most
        ({B: 2}, {A: 6, B: 2}),  # idle ones first, wherever they are
        ({B: 1}, {A: 5, B: 3}),  # then the host with the most
        ({A: 1, B: 3}, {A: 5, B: 3}),
    ],
)
def test_shrinking_gives_back_idle_agents_first_from_any_host(idle: dict[str, int], expected: dict[str, int]) -> None:
    candidates = [Candidate(A, 100, idle=idle.get(A, 0)), Candidate(B, 100, idle=idle.get(B, 0))]
    assert place(8, candidates, {A: 6, B: 4}) == expected


@pytest.mark.parametrize(
    ("rooms", "current", "strategy", "moves", "expected"),
    [
        # a new host gets its part, a bounded number at a time
        ({A: 100, B: 120}, {A: 20}, "spread", 4, {A: 16, B: 4}),
        ({A: 100, B: 120}, {A: 12, B: 8}, "spread", 4, {A: 10, B: 10}),
        ({A: 100, B: 120}, {A: 20}, "spread", 0, {A: 20, B: 0}),
        # evened out as far as counts go: nothing moves for a difference of one
        ({A: 100, B: 100}, {A: 11, B: 10}, "spread", 5, {A: 11, B: 10}),
        # never toward less room (a small host keeps few, as spread placed them)
        ({A: 80, B: 10}, {A: 20}, "spread", 5, {A: 20, B: 0}),
        # never onto a full or cordoned host
        ({A: 100, B: 0}, {A: 20}, "spread", 5, {A: 20, B: 0}),
        # pack: from the emptiest host to the fullest with room, freeing hosts
        ({A: 100, B: 100}, {A: 8, B: 2}, "pack", 1, {A: 9, B: 1}),
        ({A: 100, B: 100}, {A: 8, B: 2}, "pack", 5, {A: 10, B: 0}),
        ({A: 1, B: 100}, {A: 8, B: 2}, "pack", 5, {A: 9, B: 1}),
    ],
)
def test_rebalancing_table(
    rooms: dict[str, int], current: dict[str, int], strategy: str, moves: int, expected: dict[str, int]
) -> None:
    candidates = [Candidate(h, r, idle=current.get(h, 0)) for h, r in rooms.items()]  # all idle: free to move
    assert place(sum(current.values()), candidates, current, strategy, moves) == expected  # type: ignore[arg-type]


def test_rebalancing_moves_idle_agents_only() -> None:
    current = {A: 20}
    assert place(20, [Candidate(A, 100, idle=3), Candidate(B, 120)], current, moves=10) == {A: 17, B: 3}
    assert place(20, [Candidate(A, 100, idle=0), Candidate(B, 120)], current, moves=10) == {A: 20, B: 0}


def test_rebalancing_skips_a_cordoned_host() -> None:
    candidates = [Candidate(A, 100, idle=20), Candidate(B, 100, cordoned=True)]
    assert place(20, candidates, {A: 20}, moves=5) == {A: 20, B: 0}


@given(
    desired=st.integers(min_value=0, max_value=200),
    hosts=HOSTS,
    current=st.dictionaries(st.sampled_from([A, B, C, "host-e"]), st.integers(min_value=0, max_value=60)),
    strategy=st.sampled_from(["spread", "pack"]),
    moves=st.integers(min_value=0, max_value=20),
    idle=st.integers(min_value=0, max_value=60),
)
def test_rebalancing_moves_at_most_its_bound_and_settles(
    desired: int, hosts: list[tuple[str, int | None]], current: dict[str, int], strategy: str, moves: int, idle: int
) -> None:
    candidates = [Candidate(h, r, idle=min(idle, current.get(h, 0))) for h, r in hosts]
    still = place(desired, candidates, current, strategy)  # type: ignore[arg-type]
    shares = place(desired, candidates, current, strategy, moves)  # type: ignore[arg-type]
    assert sum(shares.values()) == desired and all(n >= 0 for n in shares.values())
    assert sum(abs(shares[h] - still[h]) for h in shares) <= 2 * moves
    # Placing again from the result converges: with the moves spent until none is left, it no longer changes.
    for _ in range(desired + 1):
        settled = place(desired, candidates, shares, strategy, moves)  # type: ignore[arg-type]
        if settled == shares:
            break
        shares = settled
    assert place(desired, candidates, shares, strategy, moves) == shares  # type: ignore[arg-type]
