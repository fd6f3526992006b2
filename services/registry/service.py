"""The registry service: the agent table behind NATS."""

from __future__ import annotations

import asyncio

import structlog
from nats.aio.client import Client
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.auth.actor import actor_of_subject, base_subject
from agentscaler.shared.bus.discovery import discoverable
from agentscaler.shared.bus.events import listen, publish
from agentscaler.shared.bus.jetstream import bucket
from agentscaler.shared.bus.lease import lead
from agentscaler.shared.bus.rpc import Refused, request_subject
from agentscaler.shared.clock import SYSTEM_CLOCK, Clock
from agentscaler.shared.codec import BadMessage, decode
from agentscaler.shared.messages.agents import (
    AGENTS_PAGE,
    Ack,
    AgentList,
    AgentRecord,
    AgentsQuery,
    Deregister,
    Deregistered,
    Exited,
    Heartbeat,
    Lost,
    Register,
    Registered,
    Spawned,
)
from agentscaler.shared.messages.summaries import summed
from agentscaler.shared.supervisor import wait_or_stop

from .persist import Persister
from .settings import RegistrySettings
from .table import AgentTable, Event

log = structlog.get_logger()


async def run(settings: RegistrySettings, stop: asyncio.Event, clock: Clock = SYSTEM_CLOCK) -> None:
    """Stand by until this instance holds the registry's lease, then serve (restoring the table from the agents
    bucket) until it is lost or ``stop``: any number of registries may run, one acts (``shared/bus/lease.py``)."""

    async def term(nc: Client, ended: asyncio.Event) -> None:
        await Registry(settings, nc, clock).run(ended)

    await lead("registry", settings, settings.lease_ttl, stop, term, clock)


class Registry:
    def __init__(self, settings: RegistrySettings, nc: Client, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.nc = nc
        self.clock = clock
        self.table = AgentTable(lost_after=settings.lost_after, start_timeout=settings.start_timeout)
        self.kv: KeyValue | None = None
        self.persist: Persister | None = None

    async def run(self, stop: asyncio.Event) -> None:
        self.kv = await bucket(self.nc.jetstream(), subjects.AGENTS_BUCKET)
        await self._restore()
        self.persist = Persister(self.kv)
        writer = asyncio.create_task(self.persist.run(stop))
        try:
            # Only the lease holder serves, so the queue group answers as a plain subscription would (micro
            # endpoints always have one).
            service = await discoverable(self.nc, "registry", self.settings.host, "the agent table")
            # Agents with a user of their own send as themselves (``.as.<agent id>``, all a secured server allows).
            for subject in (subjects.AGENT_REGISTER, subjects.as_actor(subjects.AGENT_REGISTER, "*")):
                await service.serve(subject, Register, Ack, self._on_register, queue="registry", context=_agent_ctx)
            for subject in (subjects.AGENT_DEREGISTER, subjects.as_actor(subjects.AGENT_DEREGISTER, "*")):
                await service.serve(subject, Deregister, Ack, self._on_deregister, queue="registry", context=_agent_ctx)
            await service.serve(subjects.REGISTRY_QUERY, AgentsQuery, AgentList, self._on_query, queue="registry")
            beats = subjects.heartbeat_subject("*")
            for subject in (beats, subjects.as_actor(beats, "*")):
                await listen(self.nc, subject, Heartbeat, self._on_heartbeat, traced=False)
            await listen(self.nc, subjects.agent_event_subject("spawned"), Spawned, self._on_spawned)
            await listen(self.nc, subjects.agent_event_subject("exited"), Exited, self._on_exited)
            log.info("registry ready", agents=len(self.table.agents))
            while not await wait_or_stop(stop, self.settings.sweep_interval):
                await self._emit(self.table.sweep(self.clock.now()))
        except asyncio.CancelledError:  # the lease was lost: what is not written stays unwritten
            writer.cancel()
            raise
        await writer

    async def _restore(self) -> None:
        assert self.kv is not None
        records: list[AgentRecord] = []
        for key in await _keys(self.kv):
            entry = await self.kv.get(key)
            if entry.value:
                try:
                    records.append(decode(AgentRecord, entry.value))
                except BadMessage as exc:
                    log.warning("skipping unreadable agent record", key=key, error=str(exc))
        self.table.restore(records, self.clock.now())

    async def _on_register(self, req: Register) -> Ack:
        _check_sender(req.agent_id, request_subject.get())
        if (why := self.table.misnamed(req)) is not None:
            raise Refused("refused", why)
        await self._emit(self.table.register(req, self.clock.now()))
        return Ack()

    async def _on_deregister(self, req: Deregister) -> Ack:
        _check_sender(req.agent_id, request_subject.get())
        await self._emit(self.table.deregister(req, self.clock.now()))
        return Ack()

    async def _on_query(self, req: AgentsQuery) -> AgentList:
        agents, after = self.table.select(req.pool, req.host, req.after, AGENTS_PAGE)
        return AgentList(agents=agents, next=after)

    async def _on_heartbeat(self, hb: Heartbeat, subject: str) -> None:
        if base_subject(subject) != subjects.heartbeat_subject(hb.pool):
            log.warning("dropped heartbeat naming another pool than its subject", subject=subject, pool=hb.pool)
            return
        sender = actor_of_subject(subject)
        if sender and sender != hb.agent_id:
            log.warning("dropped heartbeat naming another agent than its sender", sender=sender, agent=hb.agent_id)
            return
        await self._emit(self.table.heartbeat(hb, self.clock.now()))

    async def _on_spawned(self, ev: Spawned, _: str) -> None:
        await self._emit(self.table.spawned(ev, self.clock.now()))

    async def _on_exited(self, ev: Exited, _: str) -> None:
        await self._emit(self.table.exited(ev, self.clock.now()))

    async def _emit(self, events: list[Event]) -> None:
        assert self.persist is not None
        for event in map(summed, events):
            agent = event.agent
            with structlog.contextvars.bound_contextvars(agent=agent.agent_id, pool=agent.pool):
                if isinstance(event, Registered):
                    log.info("agent registered", host=agent.host, pid=agent.pid)
                    self.persist.put(agent)
                    await publish(self.nc, subjects.agent_event_subject("registered"), event)
                elif isinstance(event, Deregistered):
                    log.info("agent deregistered", completed=agent.completed)
                    self.persist.delete(agent.agent_id)
                    await publish(self.nc, subjects.agent_event_subject("deregistered"), event)
                elif isinstance(event, Lost):
                    log.warning("agent lost", reason=event.reason, host=agent.host, pid=agent.pid)
                    self.persist.delete(agent.agent_id)
                    await publish(self.nc, subjects.agent_event_subject("lost"), event)


def _check_sender(agent_id: str, subject: str) -> None:
    """Refuse a message about ``agent_id`` sent as another agent (its subject's ``.as.<agent id>``)."""
    sender = actor_of_subject(subject)
    if sender and sender != agent_id:
        raise Refused("refused", f"sent as agent {sender!r} but names agent {agent_id!r}: an agent speaks for itself")


def _agent_ctx(req: Register | Deregister) -> dict[str, str]:
    return {"agent": req.agent_id, "pool": req.pool}


async def _keys(kv: KeyValue) -> list[str]:
    from nats.js.errors import NoKeysError

    try:
        return await kv.keys()
    except NoKeysError:
        return []
