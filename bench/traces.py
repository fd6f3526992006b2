"""Workload traces for the autoscaling simulator: generators for the shipped kinds, and a JSON-lines reader.

A trace is a list of tasks ``(t, service_s)`` sorted by ``t``: the second (from the start) a task arrives and
the seconds an agent spends on it. On disk it is JSON lines, one task a line:
``{"t": 12.345, "service_s": 9.87}``.

    python bench/traces.py periodic --out periodic.jsonl --seed 1

The generators are seeded, so a kind and a seed always give the same trace. Their service times are lognormal
(a median of ~10 s, a long tail to minutes; Pareto for ``heavy-tail``), as for LLM agent work, and arrivals are
a Poisson process whose rate follows the kind's shape:

- ``steady``: a constant rate for an hour;
- ``diurnal``: a day with a smooth day/night rate (the night low, not zero) and a few bursts of hundreds of tasks
  within ~10 s at random times;
- ``spiky``: two hours of idle gaps (minutes with no task at all) broken by spikes of a few minutes;
- ``periodic``: a week of the same daily shape, the rate jumping from its night low to its day level within a
  minute at 08:00 every day: a predictor can learn the ramp over the first days and raise the floor ahead of it;
- ``short-period``: four hours of a 17.5-minute period (not a multiple of 5 minutes), the rate stepping from 1 to
  6 tasks/s for 5 minutes of each;
- ``weekly``: two weeks from a Monday, weekdays of ``periodic``'s office shape and quieter smooth weekends, each
  day compressed into an hour so that two weeks simulate quickly (a policy's calls, one a second, are what a
  simulation costs);
- ``heavy-tail``: two hours of a smoothly swinging rate with Pareto service times (shape 1.5, mean 10 s);
- ``bursts``: three hours of bursts of 100-2000 short tasks arriving within seconds, separated by quiet
  minutes (a trickle of tasks in between);
- ``double-seasonal``: twelve hours of a smooth 6-hour season times a smooth 1-hour one.

Rates keep the peak need (tasks running at once if each started on arrival) under 1000 agents and a trace under
~1.5 M tasks. ``PERIODIC`` names the kinds whose load repeats. ``scale`` multiplies every rate and burst (tests
use small ones).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Callable, Iterable
from pathlib import Path

Task = tuple[float, float]
"""One task: (arrival second from the start, service seconds)."""

Rate = Callable[[float], float]
"""Tasks per second at a second of the trace."""

HOUR = 3600.0
DAY = 86400.0
SHORT_PERIOD = 1050.0
"""The season of ``short-period``: 17.5 minutes."""
MIN_SERVICE = 0.5
MAX_SERVICE = 600.0


class TraceError(ValueError):
    """A trace file has a line that is not a task; the message names the file and the line number."""


def poisson_arrivals(rng: random.Random, rate: Rate, duration: float, step: float = 1.0) -> list[float]:
    """Arrival times of a Poisson process whose rate is ``rate`` (held for ``step`` seconds at each step's
    midpoint) over ``[0, duration)``. Unit-rate exponential gaps are mapped through the integrated rate, so a
    zero rate gives no arrival and a step in the rate is followed at once."""
    arrivals: list[float] = []
    need = rng.expovariate(1.0)
    for k in range(math.ceil(duration / step)):
        start = k * step
        r = rate(start + step / 2)
        mass = r * step
        used = 0.0
        while used + need <= mass:
            used += need
            arrivals.append(start + used / r)
            need = rng.expovariate(1.0)
        need -= mass - used
    return arrivals


def burst_arrivals(rng: random.Random, at: float, count: int, within: float) -> list[float]:
    """``count`` arrivals spread uniformly over ``within`` seconds from ``at``: a batch submitted at once."""
    return [at + rng.uniform(0.0, within) for _ in range(count)]


def with_services(rng: random.Random, arrivals: Iterable[float], median: float, sigma: float) -> list[Task]:
    """Tasks for ``arrivals`` with lognormal service times (``median`` s, log-sd ``sigma``, clipped to 0.5-600 s),
    rounded to milliseconds so that a written and re-read trace is the same, and sorted by arrival."""
    mu = math.log(median)
    tasks = [
        (round(t, 3), round(min(max(rng.lognormvariate(mu, sigma), MIN_SERVICE), MAX_SERVICE), 3))
        for t in sorted(arrivals)
    ]
    return sorted(tasks)


def steady(seed: int = 1, scale: float = 1.0) -> list[Task]:
    """An hour at a constant 4 tasks/s: ~14 k tasks needing ~40 agents."""
    rng = random.Random(seed)
    return with_services(rng, poisson_arrivals(rng, lambda _t: 4.0 * scale, HOUR), median=8.0, sigma=0.7)


def diurnal_rate(t: float, night: float, day: float) -> float:
    """A smooth day: lowest (``night``) at 03:00, highest (``day``) at 15:00."""
    phase = (1.0 - math.cos(2.0 * math.pi * (t - 3.0 * HOUR) / DAY)) / 2.0
    return night + (day - night) * phase**2


def diurnal(seed: int = 1, scale: float = 1.0) -> list[Task]:
    """A day from 0.5 tasks/s at night to 8 tasks/s in the afternoon (~300 k tasks), plus four bursts of 800
    tasks within 10 s between 07:00 and 21:00 (a batch job, a retry storm): ~80 agents at the daily peak, ~500
    for a burst."""
    rng = random.Random(seed)
    arrivals = poisson_arrivals(rng, lambda t: scale * diurnal_rate(t, night=0.5, day=8.0), DAY)
    for _ in range(4):
        arrivals += burst_arrivals(rng, rng.uniform(7 * HOUR, 21 * HOUR), round(800 * scale), within=10.0)
    return with_services(rng, arrivals, median=8.0, sigma=0.7)


def spiky_rate(rng: random.Random, duration: float) -> Rate:
    """Idle gaps of 3-15 minutes (rate 0) alternating with spikes of 2-5 minutes at 10-30 tasks/s that start
    and stop at once."""
    spikes: list[tuple[float, float, float]] = []
    t = 0.0
    while True:
        t += rng.uniform(180.0, 900.0)
        length = rng.uniform(120.0, 300.0)
        if t + length > duration:
            break
        spikes.append((t, t + length, rng.uniform(10.0, 30.0)))
        t += length

    def rate(at: float) -> float:
        return next((r for start, end, r in spikes if start <= at < end), 0.0)

    return rate


def spiky(seed: int = 1, scale: float = 1.0) -> list[Task]:
    """Two hours of minutes-long idle gaps and spikes (~30-50 k tasks, ~400 agents at the highest spike)."""
    rng = random.Random(seed)
    shape = spiky_rate(rng, 2 * HOUR)
    arrivals = poisson_arrivals(rng, lambda t: scale * shape(t), 2 * HOUR)
    return with_services(rng, arrivals, median=10.0, sigma=0.6)


def office_rate(hour: float, night: float, day: float) -> float:
    """The rate at ``hour`` of a working day: ``night`` until 08:00, up to ``day`` within the minute after
    08:00, a dip at lunch (12:30), down to ``night`` by a cosine between 18:00 and 20:00."""
    if hour < 8.0 or hour >= 20.0:
        return night
    if hour < 8.0 + 1.0 / 60.0:
        return night + (day - night) * (hour - 8.0) * 60.0
    if hour < 18.0:
        return day * (1.0 - 0.25 * math.exp(-(((hour - 12.5) / 0.5) ** 2)))
    return night + (day - night) * (1.0 + math.cos(math.pi * (hour - 18.0) / 2.0)) / 2.0


def periodic(seed: int = 1, scale: float = 1.0, days: int = 7) -> list[Task]:
    """``days`` days of the office shape: 0.3 tasks/s at night, ~4 tasks/s by day (each day's level within
    +-10%), ~170 k tasks a day needing ~45 agents by day and the jump from ~3 to ~45 agents at 08:00 sharp."""
    rng = random.Random(seed)
    levels = [4.0 * scale * rng.uniform(0.9, 1.1) for _ in range(days)]

    def rate(t: float) -> float:
        day = int(t // DAY)
        return office_rate((t - day * DAY) / HOUR, night=0.3 * scale, day=levels[day])

    return with_services(rng, poisson_arrivals(rng, rate, days * DAY), median=10.0, sigma=0.6)


def short_period_rate(t: float, low: float, high: float, period: float = SHORT_PERIOD) -> float:
    """``high`` for the first 5 minutes of each ``period`` (stepping up at once), ``low`` for the rest."""
    return high if t % period < 300.0 else low


def short_period(seed: int = 1, scale: float = 1.0, hours: float = 4.0) -> list[Task]:
    """``hours`` of a 17.5-minute period (not a multiple of 5 minutes): 1 task/s, stepping to 6 tasks/s for 5
    minutes (~35 k tasks in 4 h; ~10 agents busy on average, then ~60)."""
    rng = random.Random(seed)
    arrivals = poisson_arrivals(rng, lambda t: scale * short_period_rate(t, low=1.0, high=6.0), hours * HOUR)
    return with_services(rng, arrivals, median=8.0, sigma=0.6)


def weekly(seed: int = 1, scale: float = 1.0, days: int = 14, day: float = HOUR) -> list[Task]:
    """``days`` days from a Monday, each compressed into ``day`` seconds (an hour: a week lasts 7 hours, so that
    a simulation of two weeks stays short): weekdays of the office shape (0.3 tasks/s at night, 3 by day, up
    at 08:00 sharp), weekends a smooth day peaking at 0.8 tasks/s (~60 k tasks in two weeks; ~30 agents busy
    on average by weekday, ~8 at the weekend)."""
    rng = random.Random(seed)

    def rate(t: float) -> float:
        number, into = divmod(t, day)
        if number % 7 >= 5:
            return scale * diurnal_rate(into / day * DAY, night=0.3, day=0.8)
        return scale * office_rate(into / day * 24.0, night=0.3, day=3.0)

    return with_services(rng, poisson_arrivals(rng, rate, days * day), median=10.0, sigma=0.6)


def pareto_services(rng: random.Random, arrivals: Iterable[float], mean: float, alpha: float) -> list[Task]:
    """Tasks for ``arrivals`` with Pareto service times (shape ``alpha`` > 1, scaled to ``mean`` s; clipped to
    0.5-600 s), rounded to milliseconds, sorted by arrival."""
    least = mean * (alpha - 1.0) / alpha
    return sorted(
        (round(t, 3), round(min(max(least * rng.paretovariate(alpha), MIN_SERVICE), MAX_SERVICE), 3))
        for t in sorted(arrivals)
    )


def heavy_tail(seed: int = 1, scale: float = 1.0, hours: float = 2.0) -> list[Task]:
    """``hours`` of a rate swinging smoothly between 1 and 3 tasks/s over an hour, with Pareto service times
    (shape 1.5, mean 10 s: the median is ~4 s, one task in 100 takes over 70 s; ~14 k tasks in 2 h)."""
    rng = random.Random(seed)
    arrivals = poisson_arrivals(rng, lambda t: scale * (2.0 - math.cos(2.0 * math.pi * t / HOUR)), hours * HOUR)
    return pareto_services(rng, arrivals, mean=10.0, alpha=1.5)


def bursts(seed: int = 1, scale: float = 1.0, hours: float = 3.0) -> list[Task]:
    """``hours`` of bursts of 100-2000 tasks (submitted 150 a second, so within 1-13 s), separated by quiet gaps
    of 2-10 minutes with a trickle of 0.02 tasks/s; short tasks (median 4 s). ~30 k tasks in 3 h, up to ~700
    agents for the largest burst."""
    rng = random.Random(seed)
    duration = hours * HOUR
    arrivals = poisson_arrivals(rng, lambda _t: 0.02 * scale, duration)
    t = rng.uniform(60.0, 300.0)
    while t < duration:
        count = round(rng.randint(100, 2000) * scale)
        arrivals += burst_arrivals(rng, t, count, within=count / 150.0)
        t += rng.uniform(120.0, 600.0)
    return with_services(rng, arrivals, median=4.0, sigma=0.5)


def double_seasonal_rate(t: float, mean: float) -> float:
    """A smooth 6-hour season times a smooth 1-hour one: from ~0.3x to ~2.1x ``mean``."""
    slow = 1.0 - 0.5 * math.cos(2.0 * math.pi * t / (6.0 * HOUR))
    return mean * slow * (1.0 + 0.4 * math.sin(2.0 * math.pi * t / HOUR))


def double_seasonal(seed: int = 1, scale: float = 1.0, hours: float = 12.0) -> list[Task]:
    """``hours`` of :func:`double_seasonal_rate` around 3 tasks/s (~130 k tasks in 12 h, up to ~60 agents busy
    on average)."""
    rng = random.Random(seed)
    arrivals = poisson_arrivals(rng, lambda t: scale * double_seasonal_rate(t, mean=3.0), hours * HOUR)
    return with_services(rng, arrivals, median=8.0, sigma=0.7)


GENERATORS: dict[str, Callable[..., list[Task]]] = {
    "steady": steady,
    "diurnal": diurnal,
    "spiky": spiky,
    "periodic": periodic,
    "short-period": short_period,
    "weekly": weekly,
    "heavy-tail": heavy_tail,
    "bursts": bursts,
    "double-seasonal": double_seasonal,
}

PERIODIC = frozenset({"periodic", "short-period", "weekly", "double-seasonal"})
"""The kinds whose load repeats: the prediction goal applies to them."""


def generate(kind: str, seed: int = 1) -> list[Task]:
    """The shipped trace ``kind`` for ``seed``."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown trace kind {kind!r}; one of {', '.join(GENERATORS)}")
    return GENERATORS[kind](seed)


def write_trace(path: str | Path, tasks: Iterable[Task]) -> None:
    """Write ``tasks`` as JSON lines, one ``{"t": ..., "service_s": ...}`` a line."""
    with open(path, "w", encoding="utf-8") as out:
        for t, service in tasks:
            out.write(json.dumps({"t": t, "service_s": service}) + "\n")


def _number(task: dict[str, object], key: str, where: str) -> float:
    """``task[key]`` as a finite non-negative number, or a :class:`TraceError` saying what is wrong."""
    if key not in task:
        raise TraceError(f'{where}: missing key {key!r} (a task is {{"t": <s>, "service_s": <s>}})')
    value = task[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TraceError(f"{where}: {key!r} is {value!r}, not a number")
    if not math.isfinite(value) or value < 0:
        raise TraceError(f"{where}: {key!r} is {value!r}; it must be a finite number >= 0")
    return float(value)


def parse_task(line: str, where: str) -> Task:
    """One JSON line as a task; ``where`` (file:line) starts the message of the :class:`TraceError` if not."""
    try:
        task = json.loads(line)
    except json.JSONDecodeError as e:
        raise TraceError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(task, dict):
        raise TraceError(f"{where}: a task is a JSON object, not {type(task).__name__}")
    return _number(task, "t", where), _number(task, "service_s", where)


def read_trace(path: str | Path) -> list[Task]:
    """The tasks of a JSON-lines trace file, sorted by arrival (blank lines are skipped). A malformed line
    raises :class:`TraceError` naming the file and the line number."""
    tasks: list[Task] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                tasks.append(parse_task(line, f"{path}:{number}"))
    tasks.sort(key=lambda task: task[0])
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a generated workload trace as JSON lines.")
    parser.add_argument("kind", choices=sorted(GENERATORS))
    parser.add_argument("--out", required=True, type=Path, help="the JSON-lines file to write")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tasks = generate(args.kind, args.seed)
    write_trace(args.out, tasks)
    span = tasks[-1][0] if tasks else 0.0
    print(f"{args.kind} (seed {args.seed}): {len(tasks)} tasks over {span / HOUR:.1f} h written to {args.out}")


if __name__ == "__main__":
    main()
