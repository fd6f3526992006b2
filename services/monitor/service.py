"""The monitor service: builds a snapshot every interval, publishes it and answers status requests."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import suppress

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from agentscaler.shared import subjects
from agentscaler.shared.bus.agents import list_agents
from agentscaler.shared.bus.connection import run_connected
from agentscaler.shared.bus.discovery import discoverable
from agentscaler.shared.bus.events import listen, publish
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.bus.jetstream import bucket, mirror
from agentscaler.shared.bus.rpc import Refused
from agentscaler.shared.codec import BadMessage, decode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.leasing import lapsed
from agentscaler.shared.messages.agents import AgentRecord
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.hosts import ActuatorInfo, Cordon
from agentscaler.shared.messages.leases import LEASED_SERVICES, LeaseRecord
from agentscaler.shared.messages.optimize import Optimized
from agentscaler.shared.messages.pool_events import converged, stuck
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import (
    AgentCounts,
    HostSnapshot,
    PoolSnapshot,
    QueueStats,
    Snapshot,
    StatusQuery,
)
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.numbers import MIB
from agentscaler.shared.supervisor import wait_or_stop

from .arrivals import Arrivals
from .cluster import cluster_view
from .converged import ConvergeTracker
from .cost import pool_cost
from .host import HostBook, HostSampler
from .impact import Changes, impact
from .ledger import KEEP, Ledger
from .metrics import forget_host, ran_on, record_host, record_result
from .pace import SpawnPace, start_time
from .room import with_room
from .settings import MonitorSettings

log = structlog.get_logger()


async def run(settings: MonitorSettings, stop: asyncio.Event) -> None:
    await run_connected("monitor", settings, settings.host, stop, lambda nc: Monitor(settings, nc).run(stop))


class Monitor:
    def __init__(self, settings: MonitorSettings, nc: Client) -> None:
        self.settings = settings
        self.nc = nc
        self.js = nc.jetstream()
        self.host = HostSampler(settings.host, settings.disk_path, int(settings.memory_reserve_mb * MIB))
        self.hosts = HostBook(settings.host_max_age)
        """Every host's latest figures, for status replies."""
        self.pools: dict[str, PoolConfig] = {}
        self.desired: dict[str, DesiredState] = {}
        self.optimized: dict[str, Optimized] = {}
        self.paces: dict[str, SpawnPace] = {}
        """Each pool's latest optimize report."""
        self.ledgers: dict[str, Ledger] = {}
        """Each pool's finished tasks and agent-seconds (every result recorded once, in one place)."""
        self.arrivals: dict[str, Arrivals] = {}
        """Each pool's arrival baseline, moved by the periodic snapshot only."""
        self.changes: dict[str, Changes] = {}
        self.decisions: dict[str, DecisionEvent | None] = {}
        """Each pool's latest decision; None when the history has none."""
        self.latest: Snapshot | None = None
        self.converging = ConvergeTracker(settings.stuck_after)
        """Whether each pool reached its desired count since it last changed (pool events)."""
        self.actuators: dict[str, ActuatorInfo] = {}
        """Each host's actuator entry: its allow-lists and the problems of the pools it runs."""
        self.leases: dict[str, LeaseRecord] = {}
        """Each leased service's lease, as the leases bucket holds it."""
        self.cordons: dict[str, Cordon] = {}
        """The hosts an operator holds (``agentscaler host cordon|drain``)."""
        self.counting_since = time.time()
        """Results finished since count in ``agentscaler_tasks_total``; the older ones the results watch replays
        at start were counted by the monitor that ran then."""

    async def run(self, stop: asyncio.Event) -> None:
        mirrors = [
            asyncio.create_task(mirror(await bucket(self.js, subjects.POOLS_BUCKET), PoolConfig, self.pools, _noop)),
            asyncio.create_task(
                mirror(await bucket(self.js, subjects.DESIRED_BUCKET), DesiredState, self.desired, _noop)
            ),
            asyncio.create_task(
                mirror(await bucket(self.js, subjects.OPTIMIZE_BUCKET), Optimized, self.optimized, _noop)
            ),
            asyncio.create_task(
                mirror(await bucket(self.js, subjects.HOSTS_BUCKET), ActuatorInfo, self.actuators, _noop)
            ),
            asyncio.create_task(mirror(await bucket(self.js, subjects.LEASES_BUCKET), LeaseRecord, self.leases, _noop)),
            asyncio.create_task(mirror(await bucket(self.js, subjects.CORDONS_BUCKET), Cordon, self.cordons, _noop)),
        ]
        await bucket(self.js, subjects.RESULTS_BUCKET)
        results = await self.js.subscribe(
            subjects.RESULT_SUBJECTS,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=self._on_result,
        )
        await listen(self.nc, f"{subjects.DECISIONS}.>", DecisionEvent, self._on_decision, traced=False)
        await listen(self.nc, subjects.snapshot_subject("*"), Snapshot, self._on_snapshot, traced=False)
        try:
            await self._publish()  # before status is served: a status reply always has a snapshot to show
            service = await discoverable(self.nc, "monitor", self.settings.host, "snapshots and status")
            await service.serve(subjects.STATUS, StatusQuery, Snapshot, self._on_status, queue="monitor")
            log.info("monitor ready")
            while not await wait_or_stop(stop, self.settings.interval):
                try:
                    await self._publish()
                except (TimeoutError, nats.errors.Error, AgentscalerError) as exc:  # the bus is down a moment
                    log.warning("no snapshot this time; trying again", error=str(exc) or type(exc).__name__)
        finally:
            forget_host(self.settings.host)
            for task in mirrors:
                task.cancel()
            with suppress(Exception):
                await results.unsubscribe()

    async def _on_result(self, msg: Msg) -> None:
        if not msg.data:
            return
        try:
            result = decode(TaskResult, msg.data)
        except BadMessage as exc:
            log.warning("ignoring unreadable result", subject=msg.subject, error=str(exc))
            return
        self.ledgers.setdefault(result.pool, Ledger()).add(result)
        if result.finished_at >= self.counting_since and ran_on(result, self.settings.host):
            record_result(result, self.settings.host)

    async def _on_decision(self, event: DecisionEvent, _: str) -> None:
        known = self.decisions.get(event.pool)
        if known is None or event.at >= known.at:
            self.decisions[event.pool] = event
        self.changes.setdefault(event.pool, Changes()).heard(event)

    async def _on_snapshot(self, snapshot: Snapshot, _: str) -> None:
        self.hosts.heard(snapshot.host, time.monotonic())

    async def _last_decision(self, pool: str) -> DecisionEvent | None:
        """The pool's latest decision: heard since start, or else read back from the history stream (with the
        changes of count of the windows status reports on, for a monitor just started)."""
        if pool not in self.decisions:
            self.decisions[pool] = None
            try:
                recent = await read_history(self.js, subjects.decision_subject(pool), time.time() - KEEP, limit=500)
                if not recent:  # nothing lately: the last one ever, if any
                    recent = [await self.js.get_last_msg(subjects.HISTORY_STREAM, subjects.decision_subject(pool))]
            except (NotFoundError, nats.errors.Error, TimeoutError) as exc:
                log.debug("no recorded decision", pool=pool, error=str(exc))
                recent = []
            for msg in recent:
                with suppress(BadMessage):
                    await self._on_decision(decode(DecisionEvent, msg.data or b""), "")
        return self.decisions[pool]

    async def _on_status(self, query: StatusQuery) -> Snapshot:
        """The latest snapshot (of one pool, with ``query.pool``), with every host heard from lately."""
        snapshot = self.latest
        if snapshot is None:  # status is served from the first snapshot on
            raise Refused("starting", "the monitor has taken no snapshot yet")
        pools = snapshot.pools
        if query.pool is not None:
            if query.pool in self.pools and all(p.name != query.pool for p in pools):
                snapshot = await self.snapshot(time.time())  # a pool created since the last snapshot: a view
            pools = [p for p in snapshot.pools if p.name == query.pool]
            if not pools:
                known = ", ".join(sorted(self.pools)) or "none"
                raise Refused("unknown_pool", f"unknown pool {query.pool!r} (known: {known})")
        hosts = self.hosts.fresh(snapshot.host, time.monotonic())
        pools = [with_room(p, hosts) for p in pools]  # the room over the hosts the reply lists
        cluster = await cluster_view(self.nc, [p.name for p in pools], self.settings.replicas)
        return Snapshot(
            at=snapshot.at,
            host=snapshot.host,
            pools=pools,
            hosts=hosts,
            leaders=self._leaders(),
            cluster=cluster,
            cordons=dict(self.cordons),
        )

    def _leaders(self) -> dict[str, LeaseRecord | None]:
        """Who leads each leased service: its lease, unless absent or not renewed in time."""
        now = time.time()
        leases = {name: self.leases.get(name) for name in LEASED_SERVICES}
        return {
            name: r if r is not None and not lapsed(r.renewed_at, r.ttl, now) else None for name, r in leases.items()
        }

    async def _publish(self) -> None:
        """The periodic snapshot, the one that moves the books on: kept for status replies, and published."""
        self.latest = await self.snapshot(time.time(), advance=True)
        await publish(self.nc, subjects.snapshot_subject(self.settings.host), self.latest, traced=False)
        await self._pool_events(self.latest)

    async def _pool_events(self, snapshot: Snapshot) -> None:
        """Publish the pools that reached their desired count, or have not in time, since it changed. The agent
        counts are the whole fleet's (the registry's): of several monitors, the first host by name reports."""
        self.converging.forget_others({p.name for p in snapshot.pools})
        hosts = self.hosts.fresh(snapshot.host, time.monotonic())
        if hosts[0].host != self.settings.host:
            return
        for pool in snapshot.pools:
            seen = self.converging.observe(pool.name, pool.desired, pool.agents, snapshot.at)
            if seen is None:
                continue
            kind, seconds = seen
            if kind == "converged":
                event: object = converged(pool.name, pool.desired, seconds, snapshot.at)
            else:
                event = stuck(pool.name, pool.desired, pool.agents, seconds, snapshot.at)
            log.info("pool event", kind=kind, pool=pool.name, desired=pool.desired, seconds=round(seconds, 1))
            await publish(self.nc, subjects.pool_event_subject(kind, pool.name), event)

    async def snapshot(self, now: float, advance: bool = False) -> Snapshot:
        """The host's and every pool's figures at ``now``. Only the periodic snapshot (``advance``) samples the
        host and moves what runs from one snapshot to the next (arrival baselines, agent-seconds, spawn paces,
        raw windows); without it this is a read-only view, with the host as last sampled."""
        agents = await self._agents()
        host = self._sample_host(agents) if advance or self.latest is None else self.latest.host
        if advance:
            record_host(host, agents, self.pools)
        configs = sorted(self.pools.values(), key=lambda c: c.name)
        pools = [await self._pool(config, agents, now, advance) for config in configs]
        hosts = self.hosts.fresh(host, time.monotonic())
        return Snapshot(at=now, host=host, pools=[with_room(p, hosts) for p in pools])

    def _sample_host(self, agents: list[AgentRecord]) -> HostSnapshot:
        """This host's figures now (sampling moves the host's CPU, I/O and per-agent CPU baselines)."""
        default_memory = max((p.agent_memory_mb for p in self.pools.values()), default=16.0)
        return self.host.sample(
            [a.pid for a in agents if a.host == self.settings.host and a.state != "starting"], int(default_memory * MIB)
        )

    async def _pool(self, config: PoolConfig, agents: list[AgentRecord], now: float, advance: bool) -> PoolSnapshot:
        own = [a for a in agents if a.pool == config.name]
        counts = {"starting": 0, "ready": 0, "busy": 0, "draining": 0}
        for agent in own:
            counts[agent.state] += 1
        state = self.desired.get(config.name)
        queue = await self._queue(config.name)
        name, desired, provisioned = config.name, state.desired if state else 0, sum(counts.values())
        if advance:  # the periodic snapshot: the pool's books move on to now
            pace = self.paces.setdefault(name, SpawnPace()).observe(now, desired, own)
            arrival_rate = self.arrivals.setdefault(name, Arrivals()).advance(queue.submitted, now)
            ledger = self.ledgers.setdefault(name, Ledger())
            ledger.advance(now, provisioned, self.settings.stats_window)
        else:  # a view for a status reply: reads only
            pace = self.paces.get(name, SpawnPace()).rate(now)
            arrival_rate = self.arrivals.get(name, Arrivals()).rate(queue.submitted, now)
            ledger = self.ledgers.get(name) or Ledger()
        stats = ledger.stats(now, self.settings.stats_window, arrival_rate)
        last_decision = await self._last_decision(config.name)
        changes = self.changes.get(config.name, Changes()).recent
        window, settle, price = self.settings.impact_window, self.settings.impact_settle, config.cost_per_agent_hour
        return PoolSnapshot(
            name=config.name,
            mode=state.mode if state else "manual",
            desired=state.desired if state else 0,
            placement=dict(state.hosts) if state else {},
            idle=dict(Counter(a.host for a in own if a.state in ("ready", "starting"))),
            max_agents=config.max_agents,
            agents=AgentCounts(**counts),
            queue=queue,
            tasks=stats,
            start_time=start_time(own),
            spawn_rate=pace,
            auto=config.auto,
            last_decision=last_decision,
            cost=pool_cost(config, ledger, provisioned, stats.throughput, now),
            impacts=[impact(c, ledger, now, window, settle, price) for c in reversed(changes)],
            optimized=_without_front(self.optimized.get(config.name)),
            problems=[
                info.problems[name]
                for _, info in sorted(self.actuators.items())
                if name in info.problems and info.live(now)
            ],
        )

    async def _queue(self, pool: str) -> QueueStats:
        try:
            info = await self.js.consumer_info(subjects.task_stream(pool), subjects.TASK_CONSUMER, timeout=2.0)
        except (TimeoutError, nats.errors.Error) as exc:  # no stream yet, or none answering (a leader election)
            log.debug("no queue figures", pool=pool, error=str(exc) or type(exc).__name__)
            return QueueStats()
        pending = info.num_pending or 0
        return QueueStats(
            pending=pending,
            in_flight=info.num_ack_pending or 0,
            waiting_pulls=info.num_waiting or 0,
            submitted=(info.delivered.stream_seq if info.delivered else 0) + pending,
        )

    async def _agents(self) -> list[AgentRecord]:
        try:
            return await list_agents(self.nc)
        except AgentscalerError as exc:
            log.warning("registry unavailable; snapshot has no agent counts", error=str(exc))
            return []


def _without_front(report: Optimized | None) -> Optimized | None:
    """``report`` without its trade-off points: a snapshot goes out every interval, the points rarely matter."""
    return None if report is None else msgspec.structs.replace(report, front=[])


def _noop() -> None:
    return None
