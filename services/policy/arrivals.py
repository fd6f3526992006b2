"""Task submissions to auto pools, counted as they arrive: a pool at zero wakes on its first task, and a
burst is decided on within a fraction of a second, without waiting for the next monitor snapshot."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from agentscaler.shared import subjects
from agentscaler.shared.clock import SYSTEM_CLOCK, Clock

BUCKET = 0.1
"""Seconds of arrivals counted together: a snapshot taken at ``at`` already counts the arrivals before it."""


class Arrivals:
    """One core NATS subscription per auto pool on its task subject (the messages JetStream stores are
    seen as they are published). ``on_arrival(pool)`` runs for each; it must be cheap."""

    def __init__(self, nc: Client, on_arrival: Callable[[str], None], clock: Clock = SYSTEM_CLOCK) -> None:
        self.nc = nc
        self.clock = clock
        self.on_arrival = on_arrival
        self.subs: dict[str, Subscription] = {}
        self.counts: dict[str, deque[list[int]]] = {}
        """Per pool, [bucket, arrivals] for the buckets since the last snapshot, oldest first."""
        self.totals: dict[str, int] = {}
        """Per pool, the arrivals in its buckets: read on every arrival, so kept, not summed."""
        self.submitted: dict[str, int] = {}
        """Per pool, every arrival since it was first watched: what the demand samples record."""

    async def watch(self, pool: str) -> None:
        if pool in self.subs:
            return
        counts: deque[list[int]] = deque()
        self.counts[pool] = counts
        self.totals[pool] = 0
        self.submitted.setdefault(pool, 0)

        async def on_msg(_: Msg) -> None:
            bucket = math.floor(self.clock.now() / BUCKET)
            if counts and counts[-1][0] == bucket:
                counts[-1][1] += 1
            else:
                counts.append([bucket, 1])
            self.totals[pool] += 1
            self.submitted[pool] += 1
            self.on_arrival(pool)

        self.subs[pool] = await self.nc.subscribe(subjects.task_subject(pool), cb=on_msg)

    async def unwatch(self, pool: str) -> None:
        sub = self.subs.pop(pool, None)
        self.counts.pop(pool, None)
        self.totals.pop(pool, None)
        if sub is not None:
            await sub.unsubscribe()

    def since_snapshot(self, pool: str) -> int:
        """Tasks submitted to ``pool`` that the latest snapshot (see :meth:`snapshot_taken`) did not count."""
        return self.totals.get(pool, 0)

    def snapshot_taken(self, pool: str, at: float) -> None:
        """A snapshot taken at ``at`` counts the tasks queued until then: forget those arrivals (a snapshot
        read after a burst that followed it must not hide the burst)."""
        counts = self.counts.get(pool)
        while counts and (counts[0][0] + 1) * BUCKET <= at:
            self.totals[pool] -= counts.popleft()[1]
