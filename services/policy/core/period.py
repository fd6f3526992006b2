"""The period a load repeats with, found in its arrival-rate series by autocorrelation.

The series (one rate per ``step`` seconds) is averaged into at most ``MAX_POINTS`` points, so the work is bounded
whatever the history's length (a week of per-minute rates takes well under a second), and its autocorrelation is
computed with a fast Fourier transform. A lag is the period when the correlation there is a local peak, clearly
above what chance gives white noise of that length (``NOISE_SIGMAS`` standard errors, and at least
``MIN_CORRELATION``), after the correlation first fell by ``DIP`` below it: a trend or a slowly drifting rate
correlates with itself at every short lag and has no such dip. A peak is the highest point within a tenth of its
lag either side. The highest peak that passes may be a multiple of the period (its multiples peak about as high):
the shortest passing peak it is a multiple of, and that comes within ``HARMONIC`` of it, is the period. Two whole
periods must fit in the series. The peak's lag is refined by a parabola through it and its neighbours, and
snapped to an hour, a day or a week when within one point of it.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_POINTS = 4096
"""Points the series is averaged into at most."""
MIN_CORRELATION = 0.3
"""The least autocorrelation a period's lag must have."""
NOISE_SIGMAS = 4.0
"""Standard errors of white noise's autocorrelation (``1 / sqrt(pairs)``) a period's peak must clear."""
DIP = 0.2
"""How far the correlation must have fallen below the peak at some shorter lag."""
HARMONIC = 0.6
"""A shorter peak that the highest is a multiple of is the period when at least this share of it."""
CALENDAR = (3600.0, 86400.0, 604800.0)
"""Periods a detected one snaps to when within one point: an hour, a day, a week."""


@dataclass(frozen=True)
class Period:
    seconds: float
    correlation: float
    """The autocorrelation at the period's lag (1 for a load that repeats exactly)."""


def detect_period(rates: Sequence[float], step: float, shortest: float, longest: float) -> Period | None:
    """The period of ``rates`` (one per ``step`` seconds) between ``shortest`` and ``longest`` seconds, or None
    when the series has none (white noise, a steady or trending rate, or too short for two periods)."""
    values, width = _coarsen(rates, step)
    n = len(values)
    if n < 8:
        return None
    mean = math.fsum(values) / n
    deviations = [v - mean for v in values]
    variance = math.fsum(d * d for d in deviations) / n
    if variance <= 1e-12 * max(mean * mean, 1.0):
        return None
    acf = _autocorrelation(deviations, variance)
    low, high = max(2, math.ceil(shortest / width)), min(n // 2, math.floor(longest / width))
    peaks: list[int] = []
    lowest = acf[1]
    for k in range(2, high + 1):
        lowest = min(lowest, acf[k - 1])
        if k < low or k + 1 >= n or acf[k] < acf[k - 1] or acf[k] < acf[k + 1]:
            continue
        if acf[k] >= max(MIN_CORRELATION, NOISE_SIGMAS / math.sqrt(n - k)) and lowest <= acf[k] - DIP:
            reach = max(1, k // 10)  # the highest point of its hump: not a wiggle of the noise beside it
            if acf[k] >= max(acf[max(1, k - reach) : min(n, k + reach + 1)]):
                peaks.append(k)
    if not peaks:
        return None
    top = max(peaks, key=lambda k: acf[k])
    k = next(k for k in peaks if acf[k] >= HARMONIC * acf[top] and _divides(k, top))
    return Period(_snap(_refined(acf, k) * width, width), round(acf[k], 4))


def _divides(k: int, top: int) -> bool:
    """Whether lag ``top`` is ``k`` or a multiple of it (twice or more), give or take a point (or 2%): a
    wiggle of the noise just before the highest peak is not a shorter period."""
    return k == top or (round(top / k) >= 2 and abs(top - round(top / k) * k) <= max(1, 0.02 * top))


def _coarsen(rates: Sequence[float], step: float) -> tuple[list[float], float]:
    """``rates`` averaged in groups so that at most ``MAX_POINTS`` remain, and the seconds each covers."""
    group = max(1, math.ceil(len(rates) / MAX_POINTS))
    if group == 1:
        return list(rates), step
    points = [math.fsum(rates[i : i + group]) / group for i in range(0, len(rates) - group + 1, group)]
    return points, step * group


def _autocorrelation(deviations: list[float], variance: float) -> list[float]:
    """The autocorrelation of a zero-mean series at every lag, each lag's sum over the pairs it has."""
    n = len(deviations)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = _fft([complex(d) for d in deviations] + [0j] * (size - n), inverse=False)
    sums = _fft([complex(abs(f) ** 2) for f in spectrum], inverse=True)
    return [sums[k].real / size / (n - k) / variance for k in range(n)]


def _fft(a: list[complex], inverse: bool) -> list[complex]:
    """The discrete Fourier transform of ``a`` (length a power of two; unscaled), iterative radix 2."""
    n = len(a)
    a = list(a)
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    sign = 1 if inverse else -1
    length = 2
    while length <= n:
        half = length // 2
        twiddles = [cmath.exp(sign * 2j * math.pi * k / length) for k in range(half)]
        for start in range(0, n, length):
            for k in range(half):
                u, v = a[start + k], a[start + k + half] * twiddles[k]
                a[start + k], a[start + k + half] = u + v, u - v
        length <<= 1
    return a


def _refined(acf: list[float], k: int) -> float:
    """The lag of the peak at ``k``, between points: the vertex of the parabola through it and its neighbours."""
    left, middle, right = acf[k - 1], acf[k], acf[k + 1]
    curve = left - 2 * middle + right
    return k if curve >= 0 else k + 0.5 * (left - right) / curve


def _snap(seconds: float, width: float) -> float:
    """``seconds``, or the calendar period within one point of it."""
    near = min(CALENDAR, key=lambda c: abs(c - seconds))
    return near if abs(near - seconds) <= width else round(seconds, 1)
