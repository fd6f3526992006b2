"""Where a pool's agents go: the live actuators that run it (their entries in ``agentscaler-hosts``, mirrored
here) and the operators' holds on hosts (``agentscaler-cordons``), each host with the room its monitor last
reported and the pool's idle agents there, handed to the pure placement (``core/placement.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.allowlist import host_matches, runs_pool
from agentscaler.shared.bus.jetstream import bucket, mirror, put_struct
from agentscaler.shared.clock import Clock
from agentscaler.shared.messages.hosts import ActuatorInfo, Cordon
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import PoolSnapshot, Snapshot

from .core.placement import Candidate, place
from .settings import PolicySettings


class Placer:
    def __init__(self, settings: PolicySettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.actuators: dict[str, ActuatorInfo] = {}
        self.cordons: dict[str, Cordon] = {}
        self.moved_at: dict[str, float] = {}
        """Pool -> when its agents were last moved between hosts to even them out."""
        self._watches: list[asyncio.Task[None]] = []
        self._cordons: KeyValue | None = None

    async def start(self, js: JetStreamContext) -> None:
        """Follow the hosts and cordons buckets. A change needs no wake-up: hosts coming and going are placed
        again at the pools' next decision, which every snapshot prompts (a hold is placed at once by its
        command)."""
        hosts, cordons = await bucket(js, subjects.HOSTS_BUCKET), await bucket(js, subjects.CORDONS_BUCKET)
        self._cordons = cordons
        self._watches = [
            asyncio.create_task(mirror(hosts, ActuatorInfo, self.actuators, _unchanged)),
            asyncio.create_task(mirror(cordons, Cordon, self.cordons, _unchanged)),
        ]

    def stop(self) -> None:
        for watch in self._watches:
            watch.cancel()

    async def hold(self, cordon: Cordon) -> None:
        """Cordon or drain a host (in force here at once; the bucket tells everyone else)."""
        assert self._cordons is not None
        await put_struct(self._cordons, cordon.host, cordon)
        self.cordons[cordon.host] = cordon

    async def release(self, host: str) -> bool:
        """Lift the hold on ``host``; whether there was one."""
        assert self._cordons is not None
        held = self.cordons.pop(host, None) is not None
        await self._cordons.delete(host)
        return held

    def live(self) -> list[ActuatorInfo]:
        now = self.clock.now()
        return sorted((info for info in self.actuators.values() if info.live(now)), key=lambda i: i.host)

    def candidates(
        self, config: PoolConfig, snapshots: Mapping[str, Snapshot], pool: PoolSnapshot | None = None
    ) -> list[Candidate]:
        """The hosts that may run the pool now: a live actuator that runs it and has no problem with it, on a
        host its ``hosts`` patterns match, not drained (a cordoned one keeps what it has). When every such host
        has a problem with the pool (a handler it cannot load), those hosts: they try with backoff, as one host
        alone does, and a fix on the host (the module installed) is picked up without a new ``pool set``."""
        now = self.clock.now()
        found = []
        hosts = [info for info in self.live() if self._may_run(info, config)]
        fine = [info for info in hosts if config.name not in info.problems]
        for info in fine or hosts:
            cordon = self.cordons.get(info.host)
            if cordon is not None and cordon.drain:
                continue
            snapshot = snapshots.get(info.host)
            fresh = snapshot is not None and now - snapshot.at <= self.settings.snapshot_max_age
            room = snapshot.host.room if fresh and snapshot is not None and snapshot.host.room_bound else None
            idle = pool.idle.get(info.host, 0) if pool is not None else 0
            found.append(Candidate(info.host, room, cordoned=cordon is not None, idle=idle))
        return found

    def shares(
        self,
        config: PoolConfig,
        state: DesiredState,
        snapshots: Mapping[str, Snapshot],
        pool: PoolSnapshot | None = None,
        rebalance: bool = True,
    ) -> dict[str, int]:
        """``state.desired`` split across the hosts that may run the pool, from its current shares, moving at
        most ``rebalance_step`` agents between hosts once every ``rebalance_interval`` seconds. Every other live
        actuator that runs the pool gets a share of 0, so that none of them runs all of it."""
        candidates = self.candidates(config, snapshots, pool)
        now = self.clock.now()
        due = rebalance and now - self.moved_at.get(config.name, float("-inf")) >= self.settings.rebalance_interval
        moves = self.settings.rebalance_step if due else 0
        shares = place(state.desired, candidates, state.hosts, config.placement, moves)
        if moves and shares != place(state.desired, candidates, state.hosts, config.placement):
            self.moved_at[config.name] = now
        held = {info.host: 0 for info in self.live() if runs_pool(info, config.name)}
        return held | shares  # {} only when no live actuator runs the pool: then each one that does runs all of it

    def _may_run(self, info: ActuatorInfo, config: PoolConfig) -> bool:
        return runs_pool(info, config.name) and host_matches(info, config.hosts)


def _unchanged() -> None:
    return None
