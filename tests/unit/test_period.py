"""The load's period from its arrival rates (``core/period.py``), and a profile whose slots tile any season."""

from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentscaler.services.policy.core.period import detect_period
from agentscaler.services.policy.core.profile import SLOT, Profile

DAY = 86400.0


def daily_steps(rng: random.Random, days: int = 7) -> list[float]:
    """Per-minute rates: 2/s at night, 10/s from 08:00 to 20:00, with noise."""
    return [(10.0 if 480 <= m % 1440 < 1200 else 2.0) + rng.gauss(0, 1) for m in range(days * 1440)]


@pytest.mark.parametrize(
    ("name", "rates", "found"),
    [
        ("a day of steps, a week long", daily_steps(random.Random(1)), DAY),
        ("an hour's sine", [5 + 3 * math.sin(2 * math.pi * m / 60) for m in range(6 * 60)], 3600.0),
        ("white noise", [random.Random(2).gauss(5, 1) for _ in range(10080)], None),
        ("a steady rate", [4.0] * 2000, None),
        ("a trend", [m * 0.01 + random.Random(3).gauss(0, 1) for m in range(2000)], None),
        ("one period only", daily_steps(random.Random(4), days=1), None),
    ],
)
def test_periods(name: str, rates: list[float], found: float | None) -> None:
    period = detect_period(rates, 60.0, 600.0, 7 * DAY)
    assert (period.seconds if period else None) == found, name


@settings(max_examples=25, deadline=None)
@given(
    minutes=st.integers(min_value=15, max_value=240),
    amplitude=st.floats(min_value=3.0, max_value=10.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
@example(minutes=147, amplitude=3.0, seed=0)  # the hump's highest point one lag early: 145.9 found
def test_a_planted_period_is_found_among_noise(minutes: int, amplitude: float, seed: int) -> None:
    """A square wave of ``minutes`` per period, noise of sd 1, ten periods recorded: found within a point and a
    half. Noise can make the lag beside the true one the highest of the correlation's hump (one point), and the
    parabola through it and its neighbours moves the estimate at most half a point either way."""
    rng = random.Random(seed)
    rates = [5 + (amplitude if (m % minutes) < minutes / 2 else 0) + rng.gauss(0, 1) for m in range(10 * minutes)]
    period = detect_period(rates, 60.0, 600.0, DAY)
    assert period is not None and abs(period.seconds - 60 * minutes) <= 1.5 * 60


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**16), n=st.integers(min_value=100, max_value=5000))
def test_white_noise_has_no_period(seed: int, n: int) -> None:
    rng = random.Random(seed)
    assert detect_period([rng.expovariate(0.2) for _ in range(n)], 60.0, 600.0, DAY) is None


def test_a_week_of_minutes_takes_well_under_a_second() -> None:
    rates = daily_steps(random.Random(5), days=7)
    started = time.perf_counter()
    detect_period(rates, 60.0, 600.0, 7 * DAY)
    assert time.perf_counter() - started < 2.0  # bounded: at most 4096 points whatever the length


@settings(max_examples=50, deadline=None)
@given(season=st.floats(min_value=600.0, max_value=8 * DAY), t=st.floats(min_value=0.0, max_value=1e9))
def test_slots_tile_any_season(season: float, t: float) -> None:
    """The slots divide the season exactly: a moment and the same moment a season later share a slot."""
    profile = Profile(season=season)
    assert math.isclose(profile.slots * profile.width, season)
    here, later = math.floor(t / profile.width), math.floor((t + season) / profile.width)
    assert later - here == profile.slots or abs(t / profile.width - round(t / profile.width)) < 1e-6


@pytest.mark.parametrize("season", [1000.0, 3650.0, 86500.0])
def test_a_season_not_a_multiple_of_the_slot_does_not_drift(season: float) -> None:
    """A peak at the same moment of every season is still predicted there after many seasons."""
    assert season % SLOT
    profile = Profile(season=season)
    width = profile.width
    peak = 3 * width  # slot 3 of each season
    seasons = 30
    step = width / 4
    for k in range(round(seasons * season / step)):
        t = (k + 0.5) * step  # mid-step: no sample on a slot boundary
        profile = profile.observe(t, 40 if peak <= t % season < peak + width else 5)
    last = seasons * season
    assert profile.predict(last + peak + 1) == 40
    assert profile.predict(last + peak + 5 * width) == 5
