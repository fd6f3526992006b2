"""Where a pool's agents go: the live actuators that run it (their entries in ``agentscaler-hosts``, mirrored
here), each with the room its monitor last reported, handed to the pure placement (``core/placement.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from nats.js import JetStreamContext

from agentscaler.shared import subjects
from agentscaler.shared.allowlist import runs_pool
from agentscaler.shared.bus.jetstream import bucket, mirror
from agentscaler.shared.clock import Clock
from agentscaler.shared.messages.hosts import ActuatorInfo
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot

from .core.placement import Candidate, place


class Placer:
    def __init__(self, clock: Clock, snapshot_max_age: float) -> None:
        self.clock = clock
        self.snapshot_max_age = snapshot_max_age
        self.actuators: dict[str, ActuatorInfo] = {}
        self._watch: asyncio.Task[None] | None = None

    async def start(self, js: JetStreamContext) -> None:
        """Follow the hosts bucket. A change needs no wake-up: hosts coming and going are placed again at the
        pools' next decision, which every snapshot prompts."""
        kv = await bucket(js, subjects.HOSTS_BUCKET)
        self._watch = asyncio.create_task(mirror(kv, ActuatorInfo, self.actuators, _unchanged))

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    def candidates(self, pool: str, snapshots: Mapping[str, Snapshot]) -> list[Candidate]:
        """The hosts that may run ``pool`` now: a live actuator that runs it and has no problem with it."""
        now = self.clock.now()
        found = []
        for info in self.actuators.values():
            if not info.live(now) or not runs_pool(info, pool) or pool in info.problems:
                continue
            snapshot = snapshots.get(info.host)
            fresh = snapshot is not None and now - snapshot.at <= self.snapshot_max_age and snapshot.host.room_bound
            found.append(Candidate(info.host, snapshot.host.room if fresh and snapshot is not None else None))
        return sorted(found, key=lambda c: c.host)

    def shares(self, config: PoolConfig, state: DesiredState, snapshots: Mapping[str, Snapshot]) -> dict[str, int]:
        """``state.desired`` split across the hosts that may run the pool, from its current shares."""
        return place(state.desired, self.candidates(config.name, snapshots), state.hosts, config.placement)


def _unchanged() -> None:
    return None
