"""Simulated hosts and agents for ``fleet.py``: asyncio coroutines that speak the real protocol to the real
registry, policy and monitor, without a process per agent.

Each simulated host plays its actuator's part: it writes its ``ActuatorInfo`` entry in the hosts bucket (every
``announce_interval`` of the actuator's settings), follows the pool's desired state (its share in
``DesiredState.hosts``), starts and drains simulated agents to match (``spawned`` and ``exited`` events, at most
``spawn_concurrency`` starting at once, idle and newest agents drained first), and publishes a host snapshot every
monitor interval with a fixed capacity (room = capacity less its agents) and the pools of the real monitor's
latest snapshot, as a monitor of its own would.

Each simulated agent does what an agent does on the bus: it registers (a request on the register subject),
heartbeats every ``heartbeat_interval`` of its pool (and on busy/ready changes, at most once a second), holds one
pull request of ``pull_timeout`` on the pool's shared consumer, runs a task by sleeping ``payload["sleep"]``
seconds, counts its attempt in the attempts bucket, stores its result once in the results bucket and acks the
task when the store is confirmed, and on drain deregisters. The agents of a host share its NATS connection
(one per host, not one per agent), and each agent has its pull inbox, and one subscription a host takes its
agents' result confirmations.

    python bench/simfleet.py --url nats://127.0.0.1:4222 --hosts sim-00,sim-01 --pool fleet --monitor-host ctl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from waiting import eventually

from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.results import CREATE_ONLY
from agentscaler.services.agent.runtime import STATE_REPORT_EVERY
from agentscaler.services.agent.settings import DEFAULT_SPAWN_CONCURRENCY as SPAWN_CONCURRENCY
from agentscaler.shared import subjects
from agentscaler.shared.allowlist import EXAMPLE_ENV_KEYS, EXAMPLE_HANDLERS
from agentscaler.shared.bus.jetstream import bucket, mirror, put_struct
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.messages.agents import (
    Ack,
    AgentState,
    Deregister,
    Exited,
    Heartbeat,
    Register,
    Spawned,
)
from agentscaler.shared.messages.hosts import ActuatorInfo
from agentscaler.shared.messages.pools import POOL_DEFAULTS, DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import HostSnapshot, PoolSnapshot, Snapshot
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult

GIB = 1 << 30
HOSTINFO_EVERY = ActuatorSettings().announce_interval
"""Seconds between writes of a host's ``ActuatorInfo``, as its actuator's."""


@dataclass
class SimAgent:
    host: SimHost
    agent_id: str
    token: str
    config: PoolConfig
    started_at: float = field(default_factory=time.time)
    state: AgentState = "ready"
    busy_since: float = 0.0
    completed: int = 0
    last_beat: float = 0.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    waiter: asyncio.Future[Msg | None] | None = None
    owed: bool = False
    pending_beat: asyncio.Task[None] | None = None

    @property
    def nc(self) -> Client:
        return self.host.nc

    async def run(self) -> None:
        # Its own pull inbox, as a real agent's: a delivered task carries the stream's subject, not the inbox.
        sub = await self.nc.subscribe(f"{self.host.inbox}.p.{self.token}", cb=self._on_pull)
        async with self.host.starting:
            await self._register()
        beats = asyncio.create_task(self._heartbeats())
        try:
            while not self.stop.is_set():
                msg = await self._pull()
                if msg is not None:
                    await self._handle(msg)
        finally:
            self.state = "draining"
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
            beats.cancel()
            if self.pending_beat is not None:
                self.pending_beat.cancel()
            bye = Deregister(agent_id=self.agent_id, pool=self.config.name, completed=self.completed)
            with contextlib.suppress(nats.errors.Error):
                await self.nc.publish(subjects.AGENT_DEREGISTER, encode(bye))
            await self.host.exited(self)

    async def _register(self) -> None:
        reg = Register(
            agent_id=self.agent_id,
            pool=self.config.name,
            host=self.host.name,
            pid=self.host.pid,
            started_at=self.started_at,
            interval=self.config.heartbeat_interval,
            start_seconds=round(time.time() - self.started_at, 4),
        )
        try:
            reply = await self.nc.request(subjects.AGENT_REGISTER, encode(reg), timeout=5.0)
            decode(Ack, reply.data)
        except (nats.errors.Error, TimeoutError, BadMessage):
            self.host.register_failures += 1  # heartbeats register it, as for a real agent

    async def _pull(self) -> Msg | None:
        if not self.owed:
            body = b'{"batch":1,"expires":%d}' % int(self.config.pull_timeout * 1e9)
            await self.nc.publish(self.host.next_subject, body, reply=f"{self.host.inbox}.p.{self.token}")
            self.owed = True
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.config.pull_timeout + 2.0):
                return await self.waiter
        except TimeoutError:
            self.owed = False
            return None
        finally:
            self.waiter = None

    async def _on_pull(self, msg: Msg) -> None:
        self.delivered(msg)

    def delivered(self, msg: Msg) -> None:
        """A reply to this agent's pull request: a task, an idle heartbeat (ignored), or its end."""
        status = (msg.headers or {}).get("Status")
        if status == "100":
            return
        self.owed = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None if status else msg)
        elif not status:
            self.host.later(msg.nak())  # it came after the agent stopped waiting: hand it back

    def interrupt(self) -> None:
        self.stop.set()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def _handle(self, msg: Msg) -> None:
        try:
            task = decode(TaskEnvelope, msg.data)
        except BadMessage:
            await msg.ack()
            return
        started = self.busy_since = time.time()
        self.state = "busy"
        await self._state_changed()
        attempt = (msg.metadata.num_delivered or 1) if msg.reply else 1
        key = subjects.attempts_subject(self.config.name, task.id)
        await self.nc.publish(key, b"%d %s" % (attempt, self.agent_id.encode()), reply=f"{self.host.inbox}.a.0",
                              headers=CREATE_ONLY)  # fmt: skip
        sleep = task.payload.get("sleep", 0.0) if isinstance(task.payload, dict) else 0.0
        await asyncio.sleep(float(sleep))
        result = TaskResult(
            id=task.id,
            pool=self.config.name,
            status="ok",
            result={"slept": sleep},
            attempts=attempt,
            agent_id=self.agent_id,
            submitted_at=task.submitted_at,
            started_at=started,
            finished_at=time.time(),
        )
        self.busy_since, self.state = 0.0, "ready"
        await self.host.store(msg, subjects.result_subject(self.config.name, task.id), encode(result))
        self.completed += 1
        await self._state_changed()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            await self._beat()

    async def _state_changed(self) -> None:
        wait = self.last_beat + min(STATE_REPORT_EVERY, self.config.heartbeat_interval) - time.monotonic()
        if wait <= 0:
            await self._beat()
        elif self.pending_beat is None or self.pending_beat.done():
            self.pending_beat = asyncio.create_task(self._beat_after(wait))

    async def _beat_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._beat()

    async def _beat(self) -> None:
        self.last_beat = time.monotonic()
        hb = Heartbeat(
            agent_id=self.agent_id,
            pool=self.config.name,
            host=self.host.name,
            pid=self.host.pid,
            state=self.state,
            completed=self.completed,
            busy_since=self.busy_since,
            held=int(self.state == "busy"),
            sent_at=time.time(),
            interval=self.config.heartbeat_interval,
        )
        with contextlib.suppress(nats.errors.Error):
            await self.nc.publish(subjects.heartbeat_subject(self.config.name), encode(hb))


class SimHost:
    def __init__(self, nc: Client, name: str, pool: str, capacity: int, monitor_host: str, interval: float) -> None:
        self.nc = nc
        self.name = name
        self.pool = pool
        self.capacity = capacity
        self.monitor_host = monitor_host
        self.interval = interval
        self.pid = os.getpid()
        self.inbox = nc.new_inbox()
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{subjects.task_stream(pool)}.{subjects.TASK_CONSUMER}"
        self.pools: dict[str, PoolConfig] = {}
        self.desired: dict[str, DesiredState] = {}
        self.agents: dict[str, SimAgent] = {}
        self.storing: dict[str, Msg] = {}
        self.starting = asyncio.Semaphore(SPAWN_CONCURRENCY)
        self.wake = asyncio.Event()
        self.register_failures = 0
        self.monitor_pools: list[PoolSnapshot] = []
        self._token = secrets.token_hex(2)
        self._seq = 0
        self._background: set[asyncio.Task[object]] = set()

    def later(self, work: object) -> None:
        task = asyncio.ensure_future(work)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def run(self, stop: asyncio.Event) -> None:
        js = self.nc.jetstream()
        watchers = [
            asyncio.create_task(mirror(await bucket(js, subjects.POOLS_BUCKET), PoolConfig, self.pools, self.wake.set)),
            asyncio.create_task(
                mirror(await bucket(js, subjects.DESIRED_BUCKET), DesiredState, self.desired, self.wake.set)
            ),
        ]
        hosts = await bucket(js, subjects.HOSTS_BUCKET)
        await self.nc.subscribe(f"{self.inbox}.r.*", cb=self._on_reply)
        await self.nc.subscribe(f"{self.inbox}.a.*", cb=_ignore)
        await self.nc.subscribe(subjects.snapshot_subject(self.monitor_host), cb=self._on_monitor)
        written = snapped = 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now - written >= HOSTINFO_EVERY:
                    info = ActuatorInfo(host=self.name, handlers=[EXAMPLE_HANDLERS], env_keys=[EXAMPLE_ENV_KEYS],
                                        at=time.time(), interval=HOSTINFO_EVERY)  # fmt: skip
                    await put_struct(hosts, self.name, info)
                    written = now
                if now - snapped >= self.interval:
                    await self._snapshot()
                    snapped = now
                self._reconcile()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 0.5)
                self.wake.clear()
        finally:
            for task in watchers:
                task.cancel()
            for agent in list(self.agents.values()):
                agent.interrupt()
            with contextlib.suppress(TimeoutError):
                await eventually(lambda: not self.agents, timeout=10, interval=0.1, error=TimeoutError)
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await asyncio.wait_for(hosts.delete(self.name), 1.0)

    def _share(self) -> int:
        state = self.desired.get(self.pool)
        if state is None or self.pool not in self.pools:
            return 0
        return state.hosts.get(self.name, 0) if state.hosts else state.desired

    def _reconcile(self) -> None:
        """Start or drain agents to match this host's share (the actuator's reconcile, without processes)."""
        live = [a for a in self.agents.values() if not a.stop.is_set()]
        share = self._share()
        if share > len(live):
            config = self.pools[self.pool]
            now = time.time()
            for _ in range(share - len(live)):
                self._seq += 1
                agent_id = f"{self.pool}-{self.name}-{self._token}-{self._seq}"
                agent = SimAgent(self, agent_id, str(self._seq), config)
                self.agents[agent_id] = agent
                spawned = Spawned(agent_id=agent_id, pool=self.pool, host=self.name, pid=self.pid, at=now)
                self.later(self.nc.publish(subjects.agent_event_subject("spawned"), encode(spawned)))
                self.later(agent.run())
        elif share < len(live):
            live.sort(key=lambda a: (a.state == "busy", -a.started_at))  # idle first, newest first
            for agent in live[: len(live) - share]:
                agent.interrupt()

    async def exited(self, agent: SimAgent) -> None:
        self.agents.pop(agent.agent_id, None)
        event = Exited(agent_id=agent.agent_id, pool=self.pool, host=self.name, pid=self.pid, code=0, drained=True,
                       at=time.time())  # fmt: skip
        with contextlib.suppress(nats.errors.Error):
            await self.nc.publish(subjects.agent_event_subject("exited"), encode(event))

    async def store(self, task: Msg, subject: str, data: bytes) -> None:
        """Create the result; the task is acked when JetStream confirms it (``_on_reply``)."""
        self._seq += 1
        token = str(self._seq)
        self.storing[token] = task
        await self.nc.publish(subject, data, reply=f"{self.inbox}.r.{token}", headers=CREATE_ONLY)

    async def _on_reply(self, msg: Msg) -> None:
        kind, _, token = msg.subject[len(self.inbox) + 1 :].partition(".")
        if kind == "r":
            task = self.storing.pop(token, None)
            if task is not None:
                await task.ack()

    async def _on_monitor(self, msg: Msg) -> None:
        with contextlib.suppress(BadMessage):
            self.monitor_pools = decode(Snapshot, msg.data).pools

    async def _snapshot(self) -> None:
        agents = len(self.agents)
        room = max(self.capacity - agents, 0)
        host = HostSnapshot(
            host=self.name,
            cpu_count=8,
            cpu_percent=10.0,
            load1=0.5,
            memory_total=64 * GIB,
            memory_available=48 * GIB,
            memory_percent=25.0,
            disk_total=100 * GIB,
            disk_free=50 * GIB,
            disk_read_bps=0.0,
            disk_write_bps=0.0,
            agents=agents,
            agent_rss_avg=0,
            agent_memory_budget=int(POOL_DEFAULTS.agent_memory_mb * (1 << 20)),
            memory_reserve=GIB,
            agents_fit=room,
            room=room,
        )
        snapshot = Snapshot(at=time.time(), host=host, pools=self.monitor_pools)
        with contextlib.suppress(nats.errors.Error):
            await self.nc.publish(subjects.snapshot_subject(self.name), encode(snapshot))


async def _ignore(_: Msg) -> None:
    """Attempt counts are written without waiting for their answer here."""


async def main_async(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    connections = [await nats.connect(args.url, name=f"sim-{name}") for name in args.hosts.split(",")]
    hosts = [
        SimHost(nc, name, args.pool, args.capacity, args.monitor_host, args.interval)
        for nc, name in zip(connections, args.hosts.split(","), strict=True)
    ]
    await asyncio.gather(*(host.run(stop) for host in hosts))
    for nc in connections:
        await nc.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the NATS server")
    parser.add_argument("--hosts", required=True, help="names of the simulated hosts, comma-separated")
    parser.add_argument("--pool", required=True, help="the pool the hosts run")
    parser.add_argument("--monitor-host", required=True, help="host name of the real monitor (its pools are copied)")
    parser.add_argument("--capacity", type=int, default=1000, help="agents each host fits")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between host snapshots")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
