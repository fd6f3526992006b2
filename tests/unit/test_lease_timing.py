"""The lease timing rules (shared/leasing.py), played on clocks the test moves: when a holder renews and stops
acting, when a standby may take over, and that the two never overlap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agentscaler.shared.leasing import LeaseTiming, Sighting, lapsed

TTL = 6.0
T = LeaseTiming(TTL)


def test_a_holder_renews_every_third_of_the_ttl_and_stops_a_quarter_before_it() -> None:
    assert T.renew_at(100.0) == 102.0
    assert T.lost_at(100.0) == 104.5
    assert T.held(100.0, 104.4) and not T.held(100.0, 104.5)


def test_the_holder_wakes_to_renew_then_retries_failed_renewals_until_it_must_stop() -> None:
    assert T.next_wake(100.0, 100.0) == 102.0  # on time
    assert T.next_wake(100.0, 102.2) == 103.2  # the renewal at 102 failed: retry a look later
    assert T.next_wake(100.0, 104.0) == 104.5  # no retry past the moment it must stop


def test_a_standby_looks_often_enough_to_take_over_within_ten_seconds() -> None:
    assert T.look_every == 1.0
    assert LeaseTiming(3.0).look_every == 0.5
    # The leader renews at 0 and dies; the standby saw that revision at most one look later, and takes over at
    # its first look at least a ttl after that.
    assert T.look_every + TTL + T.look_every < 10


def test_a_standby_takes_over_only_a_record_unchanged_for_its_ttl_on_its_own_clock() -> None:
    seen = Sighting()
    assert not seen.may_take(TTL, 1000.0)  # nothing seen: nothing to take over (an absent lease is created)
    seen.saw(7, 50.0)
    seen.saw(7, 53.0)  # the same revision again: still first seen at 50
    assert not seen.may_take(TTL, 55.9)
    assert seen.may_take(TTL, 56.0)
    seen.saw(8, 56.5)  # renewed after all: the wait starts again
    assert not seen.may_take(TTL, 62.0)
    assert seen.may_take(TTL, 62.5)


def test_a_standby_honours_the_holders_ttl_not_its_own() -> None:
    seen = Sighting()
    seen.saw(3, 0.0)
    assert not seen.may_take(20.0, 10.0)  # a holder that promised 20 s is not overtaken after the standby's 6
    assert seen.may_take(20.0, 20.0)


@given(
    renewal_start=st.floats(0, 1e6),
    write_delay=st.floats(0, 5),
    sight_delay=st.floats(0, 5),
    later_looks=st.lists(st.floats(0, 3), max_size=20),
    ttl=st.floats(1, 300),
)
def test_the_old_holder_has_stopped_a_margin_before_any_standby_may_act(
    renewal_start: float, write_delay: float, sight_delay: float, later_looks: list[float], ttl: float
) -> None:
    """One real-time axis: the holder starts its last successful renewal, the server writes it, a standby first
    sees it (then keeps looking, seeing the same revision). The holder acts only while ``held``; the standby
    acts from the first look where ``may_take``; the first ends a margin before the second begins."""
    timing = LeaseTiming(ttl)
    write = renewal_start + write_delay
    seen = Sighting()
    now = write + sight_delay
    seen.saw(42, now)
    for gap in later_looks:
        now += gap
        seen.saw(42, now)
        if seen.may_take(ttl, now):  # the standby acts from now on; the holder stopped a margin before
            assert timing.lost_at(renewal_start) <= now - timing.margin + 1e-9 * now


def test_status_calls_a_lease_lapsed_once_its_ttl_has_passed_without_renewal() -> None:
    assert not lapsed(renewed_at=100.0, ttl=TTL, now=106.0)
    assert lapsed(renewed_at=100.0, ttl=TTL, now=106.1)
