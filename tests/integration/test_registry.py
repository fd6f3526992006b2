"""The registry against a real nats-server."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client

from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.agents import list_agents
from agentscaler.shared.bus.jetstream import bucket
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.agents import (
    AGENTS_PAGE,
    Ack,
    AgentList,
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
from tests.conftest import eventually
from tests.services import agent_events, next_event, running

pytestmark = pytest.mark.asyncio


def settings(url: str) -> RegistrySettings:
    return RegistrySettings(nats_url=url, host="h1", lost_after=0.6, start_timeout=0.8, sweep_interval=0.05)


def reg(agent_id: str, pool: str = "p") -> Register:
    return Register(agent_id=agent_id, pool=pool, host="h1", pid=1234, started_at=time.time())


async def agents(nc: Client, pool: str | None = None) -> list[str]:
    reply = await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(pool=pool), AgentList)
    return sorted(a.agent_id for a in reply.agents)


async def test_register_heartbeat_query_deregister(nats_server: EmbeddedServer, nc: Client) -> None:
    seen = await agent_events(nc)
    async with running(registry.run, settings(nats_server.url)):
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("a1"), Ack), what="registry up")
        assert isinstance(await next_event(seen, Registered), Registered)
        await request(nc, subjects.AGENT_REGISTER, reg("b1", pool="q"), Ack)
        assert await agents(nc) == ["a1", "b1"]
        assert await agents(nc, "q") == ["b1"]

        hb = Heartbeat(agent_id="a1", pool="p", host="h1", pid=1234, state="busy", completed=7, busy_since=1.0)
        await nc.publish(subjects.heartbeat_subject("p"), encode(hb))

        async def busy() -> bool:
            reply = await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(pool="p"), AgentList)
            return reply.agents[0].state == "busy" and reply.agents[0].completed == 7

        await eventually(busy, what="heartbeat applied")
        await request(nc, subjects.AGENT_DEREGISTER, Deregister(agent_id="a1", pool="p", completed=9), Ack)
        gone = await next_event(seen, Deregistered)
        assert gone.agent.agent_id == "a1" and gone.agent.completed == 9
        assert await agents(nc) == ["b1"]


async def test_silent_agent_is_declared_lost(nats_server: EmbeddedServer, nc: Client) -> None:
    seen = await agent_events(nc)
    async with running(registry.run, settings(nats_server.url)):
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("quiet"), Ack), what="registry up")
        lost = await next_event(seen, Lost)
        assert lost.agent.agent_id == "quiet"
        assert "no heartbeat" in lost.reason
        assert await agents(nc) == []
        # A late heartbeat from the lost agent's old life does not resurrect it. A new agent's heartbeat, sent
        # after it on the same subject, is handled after it: once that agent is listed, the late one was seen.
        hb = Heartbeat(agent_id="quiet", pool="p", host="h1", pid=1, state="ready")
        await nc.publish(subjects.heartbeat_subject("p"), encode(hb))
        witness = Heartbeat(agent_id="witness", pool="p", host="h1", pid=2, state="ready")
        await nc.publish(subjects.heartbeat_subject("p"), encode(witness))

        async def witness_listed() -> list[str] | None:
            listed = await agents(nc)
            return listed if "witness" in listed else None

        assert await eventually(witness_listed, what="the later heartbeat handled") == ["witness"]


async def test_spawned_agent_that_never_registers_is_lost(nats_server: EmbeddedServer, nc: Client) -> None:
    seen = await agent_events(nc)
    async with running(registry.run, settings(nats_server.url)):
        await eventually(lambda: request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList), what="registry up")
        spawned = Spawned(agent_id="s1", pool="p", host="h1", pid=42, at=time.time())
        await nc.publish(subjects.agent_event_subject("spawned"), encode(spawned))

        async def starting() -> bool:
            reply = await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList)
            return [a.state for a in reply.agents] == ["starting"]

        await eventually(starting, what="starting agent listed")
        lost = await next_event(seen, Lost)
        assert "did not register" in lost.reason


async def test_exited_agent_is_lost_at_once(nats_server: EmbeddedServer, nc: Client) -> None:
    seen = await agent_events(nc)
    conf = RegistrySettings(nats_url=nats_server.url, host="h1", lost_after=60, sweep_interval=0.05)
    async with running(registry.run, conf):
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("x1"), Ack), what="registry up")
        exited = Exited(agent_id="x1", pool="p", host="h1", pid=1234, code=-9, drained=False, at=time.time())
        await nc.publish(subjects.agent_event_subject("exited"), encode(exited))
        lost = await next_event(seen, Lost)
        assert lost.reason == "process killed by signal 9 without deregistering"


async def test_agents_survive_a_registry_restart(nats_server: EmbeddedServer, nc: Client) -> None:
    conf = RegistrySettings(nats_url=nats_server.url, host="h1", lost_after=30, sweep_interval=0.05)
    async with running(registry.run, conf):
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("r1"), Ack), what="registry up")
    async with running(registry.run, conf):
        assert await eventually(lambda: agents(nc), what="restored agents") == ["r1"]


async def test_bad_input_gets_error_replies_and_the_registry_keeps_working(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    async with running(registry.run, settings(nats_server.url)):
        await eventually(lambda: request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList), what="registry up")
        for subject in (subjects.AGENT_REGISTER, subjects.AGENT_DEREGISTER, subjects.REGISTRY_QUERY):
            reply = await nc.request(subject, b"{not json", timeout=5)
            assert b'"type":"error"' in reply.data and b"bad_request" in reply.data and b"malformed JSON" in reply.data
        reply = await nc.request(subjects.AGENT_REGISTER, b'{"agent_id": 5}', timeout=5)
        assert b"invalid Register" in reply.data
        with pytest.raises(RequestFailed, match="invalid Register"):
            await request(nc, subjects.AGENT_REGISTER, {"agent_id": "x"}, Ack)
        await nc.publish(subjects.heartbeat_subject("p"), b"garbage")
        await nc.publish(subjects.agent_event_subject("spawned"), b'{"agent_id": []}')
        await request(nc, subjects.AGENT_REGISTER, reg("still-fine"), Ack)
        assert await agents(nc) == ["still-fine"]


async def test_registry_rides_out_a_nats_restart(nats_server: EmbeddedServer, nc: Client) -> None:
    conf = RegistrySettings(nats_url=nats_server.url, host="h1", lost_after=30, sweep_interval=0.05)
    async with running(registry.run, conf) as task:
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("n1"), Ack), what="registry up")
        nats_server.stop()
        await asyncio.sleep(0.5)  # time passes on purpose: without NATS for a while, the registry does not give up
        assert not task.done()
        nats_server.start()
        assert await eventually(lambda: agents(nc), timeout=30, what="registry answering again") == ["n1"]


async def test_state_changes_are_written_behind_to_kv(nats_server: EmbeddedServer, nc: Client) -> None:
    conf = RegistrySettings(nats_url=nats_server.url, host="h1", lost_after=30, sweep_interval=0.05)
    kv = await bucket(nc.jetstream(), subjects.AGENTS_BUCKET)
    async with running(registry.run, conf):
        await eventually(lambda: request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList), what="registry up")
        for i in range(300):  # a burst: answered at once, persisted in batches
            await request(nc, subjects.AGENT_REGISTER, reg(f"b{i}"), Ack)
        await eventually(lambda: _kv_count(kv, 300), what="300 records in KV")
        for i in range(0, 300, 2):
            await request(nc, subjects.AGENT_DEREGISTER, Deregister(agent_id=f"b{i}", pool="p"), Ack)
        await eventually(lambda: _kv_count(kv, 150), what="150 records left in KV")


async def _kv_count(kv, n: int) -> bool:  # type: ignore[no-untyped-def]
    from nats.js.errors import NoKeysError

    try:
        return len(await kv.keys()) == n
    except NoKeysError:
        return n == 0


async def test_a_fleet_larger_than_one_reply_is_read_page_by_page(nats_server: EmbeddedServer, nc: Client) -> None:
    """2,500 agents (~680 KB of records, several replies): every one read once, a pool's and a host's alike."""
    count = 2 * AGENTS_PAGE + 500
    patient = RegistrySettings(nats_url=nats_server.url, host="h1", lost_after=120.0)  # no heartbeats come here
    async with running(registry.run, patient):
        await eventually(lambda: request(nc, subjects.AGENT_REGISTER, reg("first"), Ack), what="registry up")
        for start in range(0, count, 250):
            batch = [reg(f"agent-{n:05d}", pool="big" if n % 2 else "p") for n in range(start, start + 250)]
            await asyncio.gather(*(request(nc, subjects.AGENT_REGISTER, r, Ack) for r in batch))
        everyone = await list_agents(nc)
        assert len(everyone) == count + 1 and len({a.agent_id for a in everyone}) == count + 1
        assert len(await list_agents(nc, pool="big")) == count // 2
        assert len(await list_agents(nc, host="h1")) == count + 1
        first = await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList)
        assert len(first.agents) == AGENTS_PAGE and first.next == first.agents[-1].agent_id
