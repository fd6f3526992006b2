"""The actuator against a real nats-server, starting real agent processes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, put_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.agents import AgentEvent, Exited, Registered, Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from tests.e2e.harness import agent_processes
from tests.services import agent_events, next_event, running

pytestmark = pytest.mark.asyncio

POOL = PoolConfig(name="act", heartbeat_interval=0.5, pull_timeout=1.0, drain_timeout=20)


async def test_converges_to_desired_and_drains_cleanly(nats_server: EmbeddedServer, nc: Client) -> None:
    host = f"it-{uuid.uuid4().hex[:8]}"
    js = nc.jetstream()
    await ensure_task_queue(js, POOL)
    pools = await bucket(js, subjects.POOLS_BUCKET)
    desired = await bucket(js, subjects.DESIRED_BUCKET)
    await put_struct(pools, POOL.name, POOL)
    await pools.put("garbage", b"{not a pool")  # a bad entry is skipped, not fatal
    await desired.put("garbage", b"[]")
    events = await agent_events(nc)
    settings = ActuatorSettings(nats_url=nats_server.url, host=host, reconcile_interval=0.1)
    async with (
        running(registry.run, RegistrySettings(nats_url=nats_server.url, host=host)),
        running(actuator.run, settings),
    ):
        await put_struct(desired, POOL.name, DesiredState(pool=POOL.name, desired=2))
        spawned = [await next_event(events, Spawned) for _ in range(2)]
        assert {s.pool for s in spawned} == {"act"} and len({s.agent_id for s in spawned}) == 2
        assert {p.pid for p in agent_processes(host)} == {s.pid for s in spawned}
        registered = [await next_event(events, Registered) for _ in range(2)]
        assert {r.agent.agent_id for r in registered} == {s.agent_id for s in spawned}

        await put_struct(desired, POOL.name, DesiredState(pool=POOL.name, desired=0))
        exited = [await next_event(events, Exited) for _ in range(2)]
        assert all(e.code == 0 and e.drained for e in exited)
        assert agent_processes(host) == []


async def pool_and_events(nc: Client) -> tuple[str, JetStreamContext, asyncio.Queue[AgentEvent]]:
    """A fresh host name, the test pool configured in KV with its task queue, and a feed of agent events."""
    js = nc.jetstream()
    await ensure_task_queue(js, POOL)
    await put_struct(await bucket(js, subjects.POOLS_BUCKET), POOL.name, POOL)
    return f"it-{uuid.uuid4().hex[:8]}", js, await agent_events(nc)


async def test_a_crashed_agent_is_replaced(nats_server: EmbeddedServer, nc: Client) -> None:
    host, js, events = await pool_and_events(nc)
    settings = ActuatorSettings(nats_url=nats_server.url, host=host, reconcile_interval=0.1, min_uptime=0.1)
    async with (
        running(registry.run, RegistrySettings(nats_url=nats_server.url, host=host)),
        running(actuator.run, settings),
    ):
        await put_struct(await bucket(js, subjects.DESIRED_BUCKET), POOL.name, DesiredState(pool=POOL.name, desired=1))
        first = await next_event(events, Spawned)
        await asyncio.sleep(0.3)
        [proc] = agent_processes(host)
        proc.kill()
        exited = await next_event(events, Exited)
        assert exited.agent_id == first.agent_id and exited.code == -9 and not exited.drained
        second = await next_event(events, Spawned)
        assert second.agent_id != first.agent_id


async def test_draining_an_agent_that_is_still_starting_is_clean(nats_server: EmbeddedServer, nc: Client) -> None:
    host, js, events = await pool_and_events(nc)
    settings = ActuatorSettings(nats_url=nats_server.url, host=host, reconcile_interval=0.1)
    desired = await bucket(js, subjects.DESIRED_BUCKET)
    async with running(actuator.run, settings):
        await put_struct(desired, POOL.name, DesiredState(pool=POOL.name, desired=3))
        [await next_event(events, Spawned) for _ in range(3)]
        await asyncio.sleep(0.2)  # mid-start: importing, connecting
        await put_struct(desired, POOL.name, DesiredState(pool=POOL.name, desired=0))
        exited = [await next_event(events, Exited) for _ in range(3)]
        # Each exits because it was asked to (0 once it could drain; SIGTERM if it had not even reached Python).
        assert all(e.drained and e.code in (0, -15) for e in exited), exited
        assert agent_processes(host) == []
