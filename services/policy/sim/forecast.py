"""Whether an auto pool's load profile predicts: the verdict that sets ``Profile.active``.

Prediction helps only where the load repeats and where a floor ahead of the repeat saves more waiting than the
agents it keeps cost. So, every ``ASSESS_EVERY`` seconds (and at least a period apart once one is found), the
policy takes its last ``HISTORY`` seasons of recorded demand samples and:

1. looks for the load's period in their arrival rates (``core/period.py``), between ``SHORTEST`` and the pool's
   ``season`` setting (the longest it looks for);
2. rebuilds the last whole periods of the record as tasks (as ``optimize`` does, ``workload.py``), at most
   ``JUDGE_SPAN`` seconds of them, and simulates the auto policy on them twice: with the profile learned from the
   record before them, and without prediction;
3. lets the forecast predict when it had fewer minutes over the target wait at no more than ``MAX_EXTRA`` more
   agent-seconds, or as few minutes over target and fewer agent-seconds.

The live service (``autopilot.py``) judges the samples it recorded in the history; a simulated run
(``trial.py``'s ``AutoPolicy``) records its own the same way (``Recording``) and judges them with the same code.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import msgspec

from agentscaler.shared.messages.decisions import DemandSample, Observation
from agentscaler.shared.messages.pools import AutoConfig

from ..core.period import detect_period
from ..core.profile import Profile
from .metrics import Metrics
from .workload import NoRecord, Workload, rebuild

HISTORY = 2.5
"""Seasons of recorded samples judged: two whole periods of the longest looked for fit, with room to spare."""
SHORTEST = 600.0
"""The shortest period looked for (seconds)."""
ASSESS_EVERY = 6 * 3600.0
"""Seconds between two verdicts at least (a period at least, once one is found)."""
JUDGE_SPAN = 6 * 3600.0
"""Seconds of recorded load the forecast is judged on at most (whole periods, one at least)."""
MAX_EXTRA = 0.05
"""The most extra agent-seconds a forecast may cost for fewer minutes over target."""
MIN_GAIN = 0.005
"""The least share of agent-seconds a forecast must save when it is no better on waits."""
MIN_TASKS = 200
"""Tasks the judged load needs at least for its figures to mean anything."""
SEED = 1
"""Seed of the rebuilt load: the same record gives the same verdict."""

Run = Callable[[Workload, AutoConfig, Profile, float], Metrics]
"""Simulates the auto policy with ``config`` on a workload from the given profile, the policy's clock offset by
the epoch second the workload starts (``trial.Judge``)."""


@dataclass(frozen=True)
class Verdict:
    active: bool
    why: str
    period: float | None = None
    """The detected period (seconds), None when none was found or none was looked for."""


OFF = Verdict(False, "off by setting")


def at_once(samples: Sequence[DemandSample], config: AutoConfig) -> Verdict | None:
    """The verdict when it takes no search and no simulation, else None: prediction off by setting, or a
    history too short to hold two of the shortest periods looked for. (The live service then spares itself
    the worker process that judging takes.) ``assess`` gives the same verdict in these cases."""
    if not config.predict:
        return OFF
    usable = _usable(samples)
    if len(usable) < 2:
        return Verdict(False, "inactive: too little history to look for a period")
    rates, step = rate_series(usable)
    span = len(rates) * step
    if span < 2 * SHORTEST:
        return Verdict(False, f"inactive: no period in the {_span(span)} of history")
    return None


def assess(samples: Sequence[DemandSample], config: AutoConfig, run: Run) -> Verdict:
    """Whether the profile should predict for ``config``'s pool, judged on its recorded ``samples``."""
    quick = at_once(samples, config)
    if quick is not None:
        return quick
    usable = _usable(samples)
    rates, step = rate_series(usable)
    span = len(rates) * step
    found = detect_period(rates, step, SHORTEST, config.season)
    if found is None:
        return Verdict(False, f"inactive: no period in the {_span(span)} of history")
    period = found.seconds
    judged_span = period * max(1, math.floor(min(JUDGE_SPAN, span - period) / period))
    end = usable[-1].at
    before = [s for s in usable if s.at <= end - judged_span]
    judged = [s for s in usable if s.at > end - judged_span]
    try:
        recorded = rebuild(judged, Seeded(SEED))
    except NoRecord as exc:
        return Verdict(False, f"inactive: period {_span(period)} detected, but {exc}", period)
    if len(recorded.workload) < MIN_TASKS:
        return Verdict(False, f"inactive: period {_span(period)} detected, but too little load to judge", period)
    learned = replace(learn(before, period), active=True)
    on = run(recorded.workload, config, learned, recorded.origin)
    off = run(recorded.workload, msgspec.structs.replace(config, predict=False), Profile(), recorded.origin)
    extra = on.agent_seconds / off.agent_seconds - 1 if off.agent_seconds > 0 else 0.0
    saved = off.minutes_over - on.minutes_over
    figures = (
        f"on the recorded {_span(judged_span)}: {on.minutes_over} vs {off.minutes_over} minutes over target, "
        f"{extra:+.1%} agent-seconds"
    )
    if (saved > 0 and extra <= MAX_EXTRA) or (saved >= 0 and extra < -MIN_GAIN):
        return Verdict(True, f"active: period {_span(period)} detected, the forecast beats reactive {figures}", period)
    return Verdict(
        False, f"inactive: period {_span(period)} detected, the forecast does not beat reactive {figures}", period
    )


def adopt(profile: Profile, verdict: Verdict, samples: Sequence[DemandSample]) -> Profile:
    """The profile to decide with after ``verdict``: relearned from ``samples`` when the period changed."""
    if verdict.period is not None and verdict.period != profile.season:
        profile = learn(samples, verdict.period)
    return replace(profile, active=verdict.active, why=verdict.why)


def next_assessment(now: float, verdict: Verdict) -> float:
    """When to judge again: ``ASSESS_EVERY`` on, or a period on when prediction is active."""
    return now + max(ASSESS_EVERY, (verdict.period or 0.0) if verdict.active else 0.0)


def learn(samples: Sequence[DemandSample], season: float) -> Profile:
    """A load profile of ``season`` seconds learned from ``samples`` (the arrivals' part of their demand)."""
    profile = Profile(season=season)
    for sample in sorted(samples, key=lambda s: s.at):
        profile = profile.observe(sample.at, sample.demand if sample.steady is None else sample.steady)
    return profile


def rate_series(samples: Sequence[DemandSample]) -> tuple[list[float], float]:
    """The arrival rate the samples record, one per median interval from the first sample's start (0 where none
    covers the time, e.g. the pool in manual mode), and that interval."""
    step = statistics.median(s.interval or 0.0 for s in samples) or 1.0
    origin = samples[0].at - (samples[0].interval or 0.0)
    counts = [0.0] * max(1, math.ceil((samples[-1].at - origin) / step))
    for s in samples:
        middle = s.at - (s.interval or 0.0) / 2 - origin
        counts[min(len(counts) - 1, max(0, int(middle / step)))] += s.arrived or 0
    return [c / step for c in counts], step


def _usable(samples: Sequence[DemandSample]) -> list[DemandSample]:
    """The samples that record arrivals over an interval, in time order."""
    return sorted((s for s in samples if s.interval and s.arrived is not None), key=lambda s: s.at)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


class Seeded:
    """Uniform draws in [0, 1) from a 64-bit linear congruential generator: a rebuilt load that is the same for
    the same record (the simulator takes no randomness from the OS)."""

    def __init__(self, seed: int) -> None:
        self.state = seed & (2**64 - 1)

    def random(self) -> float:
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        return (self.state >> 11) / 2**53


@dataclass
class Recording:
    """A simulated pool's demand samples, kept as the live service records them (``history.DemandRecorder``):
        every ``interval`` seconds, the tasks that arrived (here: the observed arrival rate over time), the mean of
        the arrivals' part of the demand and the mean service time. The last ``keep`` seconds are kept (dropped in
    batches, so keeping costs little)."""

    interval: float = 30.0
    keep: float = HISTORY * 86400.0
    samples: list[DemandSample] = field(default_factory=list)
    _started: float | None = None
    _last: float = 0.0
    _arrived: float = 0.0
    _steady: float = 0.0
    _decisions: int = 0
    _service: list[float] = field(default_factory=list)

    def note(self, now: float, obs: Observation, steady: int) -> None:
        if self._started is None:
            self._started = self._last = now
        self._arrived += obs.arrival_rate * (now - self._last)
        self._last = now
        self._steady += steady
        self._decisions += 1
        if obs.service_time > 0:
            self._service.append(obs.service_time)
        if now - self._started < self.interval:
            return
        arrived = round(self._arrived)
        self.samples.append(
            DemandSample(
                pool="",
                at=now,
                demand=steady,
                agents=obs.agents,
                desired=0,
                pending=obs.pending,
                in_flight=obs.in_flight,
                arrival_rate=obs.arrival_rate,
                service_time=obs.service_time,
                steady=self._steady / self._decisions,
                interval=now - self._started,
                arrived=arrived,
                service_mean=math.fsum(self._service) / len(self._service) if self._service else None,
                start_time=obs.start_time,
            )
        )
        self._started, self._arrived = now, self._arrived - arrived
        self._steady, self._decisions, self._service = 0.0, 0, []
        if self.samples[0].at < now - 1.25 * self.keep:
            self.samples = [s for s in self.samples if s.at >= now - self.keep]
