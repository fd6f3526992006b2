"""What the policy records of auto pools (demand samples) and reads back to judge its prediction by."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from agentscaler.shared import subjects
from agentscaler.shared.bus.events import publish
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.codec import BadMessage, decode
from agentscaler.shared.messages.decisions import DemandSample, Observation

from .core.auto import AutoDecision

log = structlog.get_logger()


@dataclass
class _Interval:
    started: float
    submitted: int
    """The pool's arrival count when the interval began."""
    demand: int = 0
    steady_total: float = 0.0
    decisions: int = 0
    service_total: float = 0.0
    service_samples: int = 0
    counted: int = -1
    """The pool's arrival count at the last decision (-1: as at the start)."""
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    """(seconds into the interval, tasks arrived since the previous entry) at each decision that saw some."""


class DemandRecorder:
    """Keeps each auto pool's demand over ``interval`` seconds and publishes it as a sample: the peak, so
    that a short peak between two samples is still recorded, and the mean of the arrivals' part, which the
    load profile learns."""

    def __init__(self, nc: Client, interval: float) -> None:
        self.nc = nc
        self.interval = interval
        self.pools: dict[str, _Interval] = {}

    def begin(self, pool: str, now: float, submitted: int) -> None:
        """The pool is watched from ``now``, its running count of arrivals at ``submitted``: the first
        interval counts from here, so the task that wakes the pool is recorded too."""
        self.pools[pool] = _Interval(started=now, submitted=submitted)

    async def note(
        self, pool: str, decision: AutoDecision, obs: Observation | None, now: float, submitted: int
    ) -> None:
        """Note a decision, ``submitted`` being the pool's running count of arrivals."""
        if obs is None:
            return
        current = self.pools.setdefault(pool, _Interval(started=now, submitted=submitted))
        fresh = submitted - (current.submitted if current.counted < 0 else current.counted)
        if fresh > 0:
            current.arrivals.append((round(now - current.started, 3), fresh))
        current.counted = submitted
        current.demand = max(current.demand, decision.demand)
        current.steady_total += decision.steady
        current.decisions += 1
        if obs.service_time > 0:
            current.service_total += obs.service_time
            current.service_samples += 1
        if now - current.started < self.interval:
            return
        sample = DemandSample(
            pool=pool,
            at=now,
            demand=current.demand,
            agents=obs.agents,
            desired=decision.desired,
            pending=obs.pending,
            in_flight=obs.in_flight,
            arrival_rate=obs.arrival_rate,
            service_time=obs.service_time,
            steady=current.steady_total / current.decisions,
            interval=round(now - current.started, 3),
            arrived=max(submitted - current.submitted, 0),
            service_mean=current.service_total / current.service_samples if current.service_samples else None,
            arrivals=current.arrivals,
            start_time=obs.start_time,
        )
        await publish(self.nc, subjects.history_subject(pool), sample, traced=False)
        self.pools[pool] = _Interval(started=now, submitted=submitted)

    def forget(self, pool: str) -> None:
        self.pools.pop(pool, None)


async def read_samples(js: JetStreamContext, pool: str, since: float) -> list[DemandSample]:
    """The pool's recorded demand samples since ``since`` (epoch seconds), malformed ones skipped."""
    samples = []
    for msg in await read_history(js, subjects.history_subject(pool), since):
        try:
            samples.append(decode(DemandSample, msg.data))
        except BadMessage as exc:
            log.warning("skipping a malformed history sample", pool=pool, error=str(exc))
    return samples
