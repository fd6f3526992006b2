"""Limits a handler cannot escape, with real agents against a real nats-server: a task past its deadline fails
"timed out" (awaiting forever, swallowing cancellation or blocking the event loop), a handler past the
agent's memory limit fails "out of memory", and each time the agent exits to be replaced."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from nats.aio.client import Client
from structlog.testing import capture_logs

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.cgroups import detect
from agentscaler.services.actuator.deaths import OOM_KILLED, DeathRecords, death_reason
from agentscaler.services.actuator.processes import agent_environment
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.attempts import parse_attempt
from agentscaler.services.agent.deaths import gave_up
from agentscaler.services.agent.limits import BLOCKED_GRACE
from agentscaler.services.agent.main import EXIT_CONFIG, EXIT_RECYCLED
from agentscaler.services.cli.client import Client as AgentscalerClient
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct, put_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.agents import AgentEvent, Exited, Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.tasks import TaskResult
from tests.agents import exec_agent
from tests.conftest import eventually
from tests.services import agent_events, next_event, running

pytestmark = pytest.mark.asyncio

HANDLERS = "tests.limit_handlers"


def agent(
    server: EmbeddedServer, pool: PoolConfig, agent_id: str = ""
) -> AbstractContextManager[subprocess.Popen[str]]:
    """One agent started by exec with the pool's settings (as the actuator gives them), its output captured;
    stopped (SIGTERM) at the end of the block if still running."""
    agent_id = agent_id or f"lim-{uuid.uuid4().hex[:8]}"
    env = agent_environment(ActuatorSettings(nats_url=server.url), pool, agent_id, "")
    return exec_agent(env)


async def result_of(nc: Client, pool: str, task_id: str, timeout: float = 30) -> TaskResult:
    results = await bucket(nc.jetstream(), subjects.RESULTS_BUCKET)

    async def stored() -> TaskResult | None:
        found = await get_struct(results, subjects.result_key(pool, task_id), TaskResult)
        return None if found is None else found[0]

    return await eventually(stored, timeout=timeout, what=f"the result of task {task_id}")


async def one_task(server: EmbeddedServer, nc: Client, pool: PoolConfig) -> tuple[TaskResult, int, str]:
    """One task submitted to a fresh ``pool`` and run by one agent: its result, the agent's exit status and
    what the agent printed."""
    await ensure_task_queue(nc.jetstream(), pool)
    [task_id] = await AgentscalerClient(nc).submit(pool.name, [{}])
    with agent(server, pool) as proc:
        result = await result_of(nc, pool.name, task_id)
        code = await asyncio.to_thread(proc.wait, 30)
        output = proc.stdout.read() if proc.stdout else ""
    return result, code, output


async def settled(nc: Client, pool: str) -> tuple[int, int, int]:
    """(pending, ack pending, deliveries) of the pool's task consumer."""
    info = await nc.jetstream().consumer_info(subjects.task_stream(pool), subjects.TASK_CONSUMER)
    return info.num_pending, info.num_ack_pending, info.delivered.consumer_seq


@pytest.mark.parametrize("handler", ["hang", "stubborn", "block"])
async def test_a_handler_past_its_deadline_fails_timed_out_and_its_agent_exits(
    nats_server: EmbeddedServer, nc: Client, handler: str
) -> None:
    """Awaiting forever, swallowing the cancellation, or blocking the event loop with a sync sleep: the task
    fails "timed out after 1 s" at its first delivery, is not redelivered, and the agent exits to be replaced."""
    pool = PoolConfig(name=f"t-{handler}", handler=f"{HANDLERS}:{handler}", task_timeout=1.0, pull_timeout=1.0)
    result, code, output = await one_task(nats_server, nc, pool)
    assert (result.status, result.error, result.attempts) == ("failed", "timed out after 1 s", 1), output
    assert 1.0 <= result.finished_at - result.started_at < 1.0 + BLOCKED_GRACE + 3.0
    assert code == EXIT_RECYCLED, output[-3000:]
    assert "agent exits to be replaced" in output, output[-3000:]
    assert await settled(nc, pool.name) == (0, 0, 1)  # acked, never redelivered


async def test_a_handler_past_the_memory_limit_fails_out_of_memory_and_its_agent_exits(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    pool = PoolConfig(name="hog", handler=f"{HANDLERS}:hog", agent_memory_limit_mb=160, pull_timeout=1.0)
    result, code, output = await one_task(nats_server, nc, pool)
    assert (result.status, result.error, result.attempts) == ("failed", "out of memory (limit 160 MiB)", 1), output
    assert code == EXIT_RECYCLED, output[-3000:]
    assert await settled(nc, pool.name) == (0, 0, 1)


async def test_an_agent_whose_memory_limit_is_below_what_it_needs_to_start_exits_2_saying_so(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    pool = PoolConfig(name="tiny", agent_memory_limit_mb=8)
    await ensure_task_queue(nc.jetstream(), pool)
    with agent(nats_server, pool) as proc:
        code = await asyncio.to_thread(proc.wait, 30)
        output = proc.stdout.read() if proc.stdout else ""
    assert code == EXIT_CONFIG, output[-3000:]
    assert "agent_memory_limit_mb 8 is too low" in output and "agentscaler pool set" in output, output[-3000:]


async def stored_for_an_actuator(
    nats_server: EmbeddedServer, nc: Client, *pools: PoolConfig, handlers: list[str] | None = None
) -> tuple[asyncio.Queue[AgentEvent], ActuatorSettings]:
    """``pools`` stored as the policy stores them, their agents' lifecycle events followed from now on, and the
    settings of a quick actuator on a host of its own (running ``handlers`` besides its defaults, when given)."""
    js = nc.jetstream()
    for pool in pools:
        await ensure_task_queue(js, pool)
        await put_struct(await bucket(js, subjects.POOLS_BUCKET), pool.name, pool)
    events = await agent_events(nc)
    extra = {} if handlers is None else {"handlers": handlers}
    settings = ActuatorSettings(
        nats_url=nats_server.url, host=f"it-{uuid.uuid4().hex[:8]}", reconcile_interval=0.1, min_uptime=0.1, **extra
    )  # type: ignore[arg-type]
    return events, settings


async def test_the_actuator_replaces_an_agent_whose_task_timed_out_and_forked_agents_have_the_memory_limit(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    """Through the actuator, with forked agents: the hung task fails "timed out", its agent exits and a new
    one takes its place and runs the next task, under the pool's per-agent memory limit."""
    pool = PoolConfig(
        name="recycle",
        task_timeout=1.0,
        agent_memory_limit_mb=200,
        heartbeat_interval=0.5,
        pull_timeout=1.0,
        drain_timeout=20,
    )
    js = nc.jetstream()
    events, settings = await stored_for_an_actuator(nats_server, nc, pool)
    client = AgentscalerClient(nc)
    async with (
        running(registry.run, RegistrySettings(nats_url=nats_server.url, host=settings.host)),
        running(actuator.run, settings),
    ):
        await put_struct(await bucket(js, subjects.DESIRED_BUCKET), pool.name, DesiredState(pool=pool.name, desired=1))
        first = await next_event(events, Spawned)
        [hung] = await client.submit(pool.name, [{"sleep": 3600}])  # the example handler, awaiting an hour
        result = await result_of(nc, pool.name, hung)
        assert (result.status, result.error, result.agent_id) == ("failed", "timed out after 1 s", first.agent_id)
        exited = await next_event(events, Exited)
        assert (exited.agent_id, exited.code, exited.drained) == (first.agent_id, EXIT_RECYCLED, False)
        second = await next_event(events, Spawned)
        assert second.agent_id != first.agent_id
        [quick] = await client.submit(pool.name, [{"sleep": 0}])
        done = await result_of(nc, pool.name, quick)
        assert (done.status, done.agent_id) == ("ok", second.agent_id)
        await put_struct(await bucket(js, subjects.DESIRED_BUCKET), pool.name, DesiredState(pool=pool.name, desired=0))
        assert (await next_event(events, Exited)).agent_id == second.agent_id


async def test_forked_agents_run_under_the_per_agent_memory_limit_and_a_hog_fails_out_of_memory(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    """Forked agents inherit the fork server's preloaded heap: at the default limit an agent still has most of
    it free, and a hog in a forked agent fails "out of memory" like one started by exec."""
    desired = await bucket(nc.jetstream(), subjects.DESIRED_BUCKET)
    probe = PoolConfig(name="probe", handler=f"{HANDLERS}:limits", heartbeat_interval=0.5, pull_timeout=1.0)
    hog = PoolConfig(name="fhog", handler=f"{HANDLERS}:hog", agent_memory_limit_mb=200, pull_timeout=1.0)
    events, settings = await stored_for_an_actuator(nats_server, nc, probe, hog, handlers=[HANDLERS])
    client = AgentscalerClient(nc)
    async with running(actuator.run, settings):
        await put_struct(desired, probe.name, DesiredState(pool=probe.name, desired=1))
        [task_id] = await client.submit(probe.name, [{}])
        measured = await result_of(nc, probe.name, task_id)
        assert measured.status == "ok", measured.error
        assert measured.result["data_limit_mb"] == PoolConfig(name="x").agent_memory_limit_mb == 256
        assert measured.result["data_mb"] < 128, measured.result  # the preloaded heap leaves room to work

        await put_struct(desired, hog.name, DesiredState(pool=hog.name, desired=1))
        [task_id] = await client.submit(hog.name, [{}])
        result = await result_of(nc, hog.name, task_id)
        assert (result.status, result.error) == ("failed", "out of memory (limit 200 MiB)")
        exited = await next_event(events, Exited)
        assert (exited.pool, exited.code) == (hog.name, EXIT_RECYCLED)
        for pool in (probe, hog):
            await put_struct(desired, pool.name, DesiredState(pool=pool.name, desired=0))


async def test_an_agent_killed_by_the_kernels_oom_killer_is_reported_as_such(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    """Memory the per-agent limit does not count (shared memory) fills the pool's cgroup: the kernel kills the
    agent, and the actuator says why it died."""
    if detect("auto")[0] is None:
        pytest.skip("no writable cgroup backend on this machine")
    pool = PoolConfig(
        name="oom", handler=f"{HANDLERS}:shared_hog", max_agents=1, agent_memory_limit_mb=96, pull_timeout=1.0
    )
    js = nc.jetstream()
    events, settings = await stored_for_an_actuator(nats_server, nc, pool, handlers=[HANDLERS])
    with capture_logs() as logs:
        async with running(actuator.run, settings):
            await put_struct(
                await bucket(js, subjects.DESIRED_BUCKET), pool.name, DesiredState(pool=pool.name, desired=1)
            )
            first = await next_event(events, Spawned)
            await AgentscalerClient(nc).submit(pool.name, [{}])
            exited = await next_event(events, Exited)
            assert (exited.agent_id, exited.code) == (first.agent_id, -9)
            await put_struct(
                await bucket(js, subjects.DESIRED_BUCKET), pool.name, DesiredState(pool=pool.name, desired=0)
            )
    killed = [e for e in logs if e["event"].startswith("agent killed by the kernel's OOM killer")]
    assert len(killed) == 1, [e["event"] for e in logs]  # the one agent that died, and only once


@pytest.mark.parametrize("oom", [True, False])
async def test_a_task_whose_agent_died_fails_naming_how_when_given_up_on(
    nats_server: EmbeddedServer, nc: Client, oom: bool
) -> None:
    """A real agent killed (SIGKILL) while it runs a task, its death recorded as its actuator records it: the
    next agent gives up on the task (``max_attempts`` 1) and the failed result says how the first one died."""
    pool = PoolConfig(name="died", handler=f"{HANDLERS}:hang", max_attempts=1, ack_wait=1.0, pull_timeout=1.0)
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    deaths = await DeathRecords.open(nc, js)
    [task_id] = await AgentscalerClient(nc).submit(pool.name, [{}])
    attempts = await bucket(js, subjects.ATTEMPTS_BUCKET)
    key = subjects.result_key(pool.name, task_id)
    first, second = f"died-{uuid.uuid4().hex[:8]}", f"died-{uuid.uuid4().hex[:8]}"
    with agent(nats_server, pool, first) as proc:

        async def counted() -> bool:
            return parse_attempt((await attempts.get(key)).value) == (1, first)

        await eventually(counted, what="the first start counted, naming its agent")
        proc.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 30) == -signal.SIGKILL
    reason = death_reason(-signal.SIGKILL, oom=oom)
    await deaths.record(first, reason)
    with agent(nats_server, pool, second):
        result = await result_of(nc, pool.name, task_id)
    assert (result.status, result.attempts, result.agent_id) == ("failed", 2, second)
    assert result.error == gave_up(1, first, reason)
    assert result.error == (
        f"gave up after 1 deliveries: the agent that ran it last ({first}) died: "
        + (OOM_KILLED if oom else "killed by signal 9 (SIGKILL)")
    )


async def test_a_task_that_keeps_getting_its_agents_oom_killed_fails_saying_so(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    """For real, through the actuator: each agent that runs the task fills the pool's cgroup with shared memory
    and the kernel's OOM killer ends it; the actuator records each death, and the agent that gets the task once
    more than ``max_attempts`` times fails it naming the OOM kill of the agent before it."""
    if detect("auto")[0] is None:
        pytest.skip("no writable cgroup backend on this machine")
    if _swap_kib():
        pytest.skip("this machine has swap, which would take the overflow instead of the OOM killer")
    pool = PoolConfig(
        name="oomtask",
        handler=f"{HANDLERS}:shared_hog",
        max_agents=1,
        max_attempts=2,
        ack_wait=1.0,
        agent_memory_limit_mb=96,
        pull_timeout=1.0,
    )
    js = nc.jetstream()
    events, settings = await stored_for_an_actuator(nats_server, nc, pool, handlers=[HANDLERS])
    async with running(actuator.run, settings):
        desired = await bucket(js, subjects.DESIRED_BUCKET)
        await put_struct(desired, pool.name, DesiredState(pool=pool.name, desired=1))
        await next_event(events, Spawned)
        [task_id] = await AgentscalerClient(nc).submit(pool.name, [{}])
        killed = [await next_event(events, Exited, timeout=60) for _ in range(pool.max_attempts)]
        assert [e.code for e in killed] == [-signal.SIGKILL] * pool.max_attempts
        result = await result_of(nc, pool.name, task_id, timeout=60)
        await put_struct(desired, pool.name, DesiredState(pool=pool.name, desired=0))
    assert (result.status, result.attempts) == ("failed", pool.max_attempts + 1)
    assert result.error == gave_up(pool.max_attempts, killed[-1].agent_id, OOM_KILLED)
    assert "killed by the kernel's OOM killer" in result.error and "agent_memory_limit_mb" in result.error
    records = await bucket(js, subjects.DEATHS_BUCKET)
    for exited in killed:
        assert (await records.get(exited.agent_id)).value == OOM_KILLED.encode()


def _swap_kib() -> int:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return int(meminfo["SwapTotal"].split()[0])
