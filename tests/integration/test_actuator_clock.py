"""The actuator's timing rules on a clock the test moves: a crashing pool's restart backoff and a draining
agent's deadline, one reconcile pass at a time and without sleeping. The processes are stand-ins (no agent is
started or signalled); the events travel over the test's real nats-server."""

from __future__ import annotations

import signal
import uuid
from dataclasses import dataclass, field

import pytest
from nats.aio.client import Client

from agentscaler.services.actuator.processes import AgentProcess
from agentscaler.services.actuator.service import Actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.agents import Exited, Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from tests.services import agent_events, next_event

pytestmark = pytest.mark.asyncio


class FakeClock:
    """Both clocks stand still until the test moves them."""

    def __init__(self, now: float = 1000.0) -> None:
        self.wall = now
        self.mono = 0.0

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@dataclass
class StandIn(AgentProcess):
    """An agent process that is not there: its signals are recorded, its exit is set by the test."""

    signals: list[int] = field(default_factory=list)

    def _signal(self, sig: signal.Signals) -> None:
        self.signals.append(sig)


class StandInActuator(Actuator):
    """Starts stand-ins instead of agent processes, and notes when."""

    def __init__(self, settings: ActuatorSettings, nc: Client, clock: FakeClock) -> None:
        super().__init__(settings, nc, clock)
        self.started: list[StandIn] = []

    async def _start_agents(
        self, config: PoolConfig, agent_ids: list[str], traceparent: str, now: float
    ) -> list[AgentProcess]:
        procs = [StandIn(agent_id=a, pool=config.name, pid=0, started_at=now) for a in agent_ids]
        self.started.extend(procs)
        return list(procs)


def actuator(nats_server: EmbeddedServer, nc: Client, clock: FakeClock, pool: PoolConfig) -> StandInActuator:
    settings = ActuatorSettings(
        nats_url=nats_server.url, host=f"it-{uuid.uuid4().hex[:8]}", cgroups="off", min_uptime=10, max_backoff=30
    )
    act = StandInActuator(settings, nc, clock)
    act.pools[pool.name] = pool
    return act


async def test_a_crashing_pool_restarts_after_its_backoff_on_the_actuators_clock(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    pool = PoolConfig(name="clk", spawn="exec")
    clock = FakeClock()
    act = actuator(nats_server, nc, clock, pool)
    act.desired[pool.name] = DesiredState(pool=pool.name, desired=1)
    events = await agent_events(nc)

    await act._reconcile()
    assert [p.started_at for p in act.started] == [1000.0]
    assert (await next_event(events, Spawned, timeout=5)).at == 1000.0

    act.started[-1].returncode = 1  # exits after 1 s: sooner than min_uptime, a crash
    clock.advance(1.0)
    await act._reconcile()
    exited = await next_event(events, Exited, timeout=5)
    assert (exited.code, exited.at) == (1, 1001.0)
    assert act.not_before[pool.name] == 1001.5  # the first crash waits 0.5 s
    assert len(act.started) == 1

    clock.advance(0.25)
    await act._reconcile()
    assert len(act.started) == 1  # still backing off

    clock.advance(0.25)
    await act._reconcile()
    assert [p.started_at for p in act.started] == [1000.0, 1001.5]

    act.started[-1].returncode = 1  # the second crash in a row waits twice as long
    await act._reconcile()
    assert act.not_before[pool.name] == 1002.5
    clock.advance(0.75)
    await act._reconcile()
    assert len(act.started) == 2
    clock.advance(0.25)
    await act._reconcile()
    assert len(act.started) == 3


async def test_a_draining_agent_is_killed_at_its_deadline_on_the_actuators_clock(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    pool = PoolConfig(name="clk", spawn="exec", drain_timeout=20)
    clock = FakeClock()
    act = actuator(nats_server, nc, clock, pool)
    agent = StandIn(agent_id="clk-1", pool=pool.name, pid=0, started_at=900.0)
    act.procs[agent.agent_id] = agent
    act.desired[pool.name] = DesiredState(pool=pool.name, desired=0)

    await act._reconcile()  # one agent too many: drained (no registry answers: the newest goes first)
    assert agent.signals == [signal.SIGTERM]
    assert agent.drain_deadline == 1020.0

    clock.advance(20.0)
    await act._reconcile()
    assert agent.signals == [signal.SIGTERM]  # at the deadline, not past it: still its own to finish

    clock.advance(0.01)
    await act._reconcile()
    assert agent.signals == [signal.SIGTERM, signal.SIGKILL]
