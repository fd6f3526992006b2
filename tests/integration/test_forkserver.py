"""A pool's fork server, driven the way the actuator drives it: the starting window and stopping agents that
are still waiting for their turn."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from nats.aio.client import Client

from agentscaler.services.actuator.forkservers import ForkServerClient
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.cli.client import Client as AgentscalerClient
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared.bus.jetstream import ensure_task_queue
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.pools import PoolConfig
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio

POOL = PoolConfig(name="fs", heartbeat_interval=0.5, pull_timeout=1.0)


class Exits:
    """The exit codes the fork server reports, by agent id."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def __call__(self, agent_id: str, code: int) -> None:
        self.codes[agent_id] = code


async def test_the_window_moves_on_as_each_agent_reports_ready(nats_server: EmbeddedServer, nc: Client) -> None:
    """One agent starting at a time: each next one starts when the last reports ready. Were the reports lost,
    each would wait out the 10 s starting timeout instead."""
    await ensure_task_queue(nc.jetstream(), POOL)
    host = f"it-{uuid.uuid4().hex[:8]}"
    settings = ActuatorSettings(nats_url=nats_server.url, host=host, spawn_concurrency=1)
    exits = Exits()
    async with running(registry.run, RegistrySettings(nats_url=nats_server.url, host=host)):
        server = ForkServerClient(settings, POOL, exits)
        await server.ready()
        began = time.monotonic()
        pids = await server.spawn_many([f"fs-{host}-{i}" for i in range(4)], "")
        assert len(pids) == 4

        async def four_ready() -> bool:
            agents = (await AgentscalerClient(nc).agents(POOL.name)).agents
            return sum(a.state == "ready" for a in agents) == 4

        await eventually(four_ready, timeout=30, what="four registered agents")
        assert time.monotonic() - began < 8.0, "agents started on the timeout, not on their ready reports"
        server.retire()
        await eventually(lambda: _settled(exits, 4), timeout=30, what="four exits")
    assert sorted(exits.codes.values()) == [0, 0, 0, 0]


async def test_agents_waiting_for_their_turn_exit_0_at_once_when_the_server_stops() -> None:
    """No NATS server: the one agent let start waits for NATS and never reports ready, so the others wait for
    their turn. Stopping the fork server ends them all cleanly, without their ever connecting."""
    settings = ActuatorSettings(nats_url="nats://127.0.0.1:1", host="nowhere", spawn_concurrency=1)
    exits = Exits()
    server = ForkServerClient(settings, POOL, exits)
    await server.ready()
    pids = await server.spawn_many([f"fs-wait-{i}" for i in range(5)], "")
    assert len(pids) == 5
    await asyncio.sleep(0.5)  # time passes on purpose: no agent exits while it waits (for NATS or its turn)
    assert exits.codes == {}  # all alive: one waiting for NATS, four for their turn
    server.retire()
    await eventually(lambda: _settled(exits, 5), timeout=15, what="five exits")
    assert sorted(exits.codes.values()) == [0] * 5
    assert await asyncio.to_thread(server.proc.wait, 10) == 0


async def _settled(exits: Exits, n: int) -> bool:
    return len(exits.codes) >= n
