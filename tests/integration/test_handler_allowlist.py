"""Code is chosen by the host, not the bus: each actuator runs only the handlers and pool env keys its host
allows, says why a pool gets no agents, and fails the queued tasks of a handler that cannot be loaded."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as Nats

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.cli.client import Client
from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.allowlist import EXAMPLE_HANDLERS
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct, put_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.agents import Spawned
from agentscaler.shared.messages.hosts import ActuatorInfo
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.tasks import TaskResult
from tests.conftest import eventually
from tests.e2e.harness import agent_processes
from tests.services import agent_events, running

pytestmark = pytest.mark.asyncio

FAST = {"heartbeat_interval": 0.5, "pull_timeout": 1.0, "drain_timeout": 10.0}
SHELL = "asyncio:create_subprocess_shell"


@dataclass
class Fleet:
    host: str
    client: Client


@asynccontextmanager
async def fleet(
    url: str, nc: Nats, handlers: list[str] | None = None, **actuator_settings: object
) -> AsyncIterator[Fleet]:
    """The four services on one host, the actuator with ``handlers`` (its default when None); yielded once
    the actuator has published its allow-lists."""
    host = f"it-{uuid.uuid4().hex[:8]}"
    extra = {} if handlers is None else {"handlers": handlers}
    settings = ActuatorSettings(
        nats_url=url, host=host, reconcile_interval=0.1, min_uptime=0.5, **extra, **actuator_settings
    )  # type: ignore[arg-type]
    async with (
        running(registry.run, RegistrySettings(nats_url=url, host=host)),
        running(policy.run, PolicySettings(nats_url=url, host=host, default_pool=False)),
        running(monitor.run, MonitorSettings(nats_url=url, host=host, interval=0.1)),
        running(actuator.run, settings),
    ):
        hosts = await bucket(nc.jetstream(), subjects.HOSTS_BUCKET)
        await eventually(lambda: get_struct(hosts, host, ActuatorInfo), what="the actuator's allow-lists")
        client = Client(nc)
        await eventually(client.pools, what="the policy serving")
        await eventually(client.status, what="the monitor serving")
        yield Fleet(host, client)
    assert agent_processes(host) == []


async def bypass_policy(nc: Nats, config: PoolConfig, desired: int) -> None:
    """What any client could do with write access to the buckets: store a pool and its count directly."""
    js = nc.jetstream()
    await ensure_task_queue(js, config)
    await put_struct(await bucket(js, subjects.POOLS_BUCKET), config.name, config)
    await put_struct(
        await bucket(js, subjects.DESIRED_BUCKET), config.name, DesiredState(pool=config.name, desired=desired)
    )


async def problems(client: Client, pool: str) -> list[str]:
    [snapshot] = (await client.status(pool)).pools
    return snapshot.problems


async def failed(client: Client, pool: str, task_id: str) -> TaskResult | None:
    result = await client.result(pool, task_id)
    return result if result is not None and result.status == "failed" else None


async def test_a_shell_handler_is_refused_and_never_runs(nats_server: EmbeddedServer, nc: Nats, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    events = await agent_events(nc)
    async with fleet(nats_server.url, nc) as f:
        with pytest.raises(RequestFailed) as refused:
            await f.client.set_pool(PoolConfig(name="evil", handler=SHELL))
        assert refused.value.code == "bad_request"
        assert "`handlers` setting of the actuator on host" in str(refused.value) and f.host in str(refused.value)

        evil = PoolConfig(name="evil", handler=SHELL, **FAST)  # type: ignore[arg-type]
        await bypass_policy(nc, evil, desired=2)
        await f.client.submit("evil", [f"touch {marker}"])
        found = await eventually(lambda: problems(f.client, "evil"), what="the pool's problem in status")
        assert "handler 'asyncio:create_subprocess_shell' is not allowed by the `handlers` setting" in found[0]

        # A pool the host allows runs meanwhile: the actuator is reconciling, and still starts nothing for evil.
        await bypass_policy(nc, PoolConfig(name="fine", **FAST), desired=1)  # type: ignore[arg-type]
        [ok] = await f.client.submit("fine", [{"sleep": 0}])
        done = await eventually(lambda: f.client.result("fine", ok), timeout=30, what="the allowed pool's task")
        assert done.status == "ok"
        [snapshot] = (await f.client.status("evil")).pools
        assert (snapshot.agents.starting, snapshot.agents.ready, snapshot.agents.busy) == (0, 0, 0)
        assert snapshot.queue.pending == 1
        await f.client.scale("fine", "down", 0)
    spawned = []
    while not events.empty():
        event = events.get_nowait()
        if isinstance(event, Spawned):
            spawned.append(event.pool)
    assert spawned == ["fine"]
    assert not marker.exists()


async def test_an_allowed_module_cannot_lend_a_function_it_imports(
    nats_server: EmbeddedServer, nc: Nats, tmp_path: Path
) -> None:
    """The example module imports asyncio: its create_subprocess_shell is not the host's allowed code."""
    marker = tmp_path / "pwned"
    handler = "agentscaler.services.agent.examples.llm:asyncio.create_subprocess_shell"
    async with fleet(nats_server.url, nc) as f:
        await f.client.set_pool(PoolConfig(name="sly", handler=handler, **FAST))  # type: ignore[arg-type]
        [task] = await f.client.submit("sly", [f"touch {marker}"])
        await f.client.scale("sly", "up", 1)
        result = await eventually(lambda: failed(f.client, "sly", task), timeout=30, what="the task failed")
        assert "is defined in module 'asyncio.subprocess', not in 'agentscaler.services.agent.examples.llm'" in (
            result.error
        )
        found = await eventually(lambda: problems(f.client, "sly"), what="the pool's problem in status")
        assert found == [result.error]
        await f.client.scale("sly", "down", 0)
    assert not marker.exists()


async def test_pool_env_keys_the_host_does_not_allow_are_refused(nats_server: EmbeddedServer, nc: Nats) -> None:
    async with fleet(nats_server.url, nc) as f:
        with pytest.raises(RequestFailed, match=r"env 'BROWSER' not allowed by the `env_keys` setting") as refused:
            await f.client.set_pool(
                PoolConfig(name="web", env={"BROWSER": "sh -c 'touch x'", "AGENTSCALER_SIM_X": "1"})
            )
        assert refused.value.code == "bad_request"
        # The example handler's own setting is allowed, as the demo sets it.
        await f.client.set_pool(PoolConfig(name="demo", env={"AGENTSCALER_SIM_LATENCY": "fixed:0"}, **FAST))  # type: ignore[arg-type]

        await bypass_policy(nc, PoolConfig(name="web", env={"BROWSER": "x"}, **FAST), desired=1)  # type: ignore[arg-type]
        found = await eventually(lambda: problems(f.client, "web"), what="the pool's problem in status")
        assert "env 'BROWSER' not allowed by the `env_keys` setting" in found[0]
        await f.client.scale("demo", "up", 1)
        [task] = await f.client.submit("demo", [{}])
        done = await eventually(lambda: f.client.result("demo", task), timeout=30, what="the demo pool's task")
        assert done.status == "ok" and done.result["latency"] == 0
        pools = [p.environ().get("AGENTSCALER_AGENT_POOL") for p in agent_processes(f.host)]
        assert pools == ["demo"]
        await f.client.scale("demo", "down", 0)
        await put_struct(
            await bucket(nc.jetstream(), subjects.DESIRED_BUCKET), "web", DesiredState(pool="web", desired=0)
        )


async def test_the_policy_accepts_what_another_live_actuator_allows(nats_server: EmbeddedServer, nc: Nats) -> None:
    """Two hosts: one allows only the examples, one also ``myagents.*``; a pool for the second is accepted."""
    kv = await bucket(nc.jetstream(), subjects.HOSTS_BUCKET)
    async with fleet(nats_server.url, nc) as f:
        other = ActuatorInfo(host="gpu-1", handlers=["myagents.*"], env_keys=[], at=time.time())
        await put_struct(kv, "gpu-1", other)
        info = await f.client.set_pool(PoolConfig(name="mine", handler="myagents.tasks:run"))
        assert info.config.handler == "myagents.tasks:run"
        found = await eventually(lambda: problems(f.client, "mine"), what="this host's problem with the pool")
        assert f.host in found[0] and "gpu-1" not in found[0]
        # An actuator gone (entry older than three intervals) no longer vouches for a pool.
        await put_struct(kv, "gpu-1", msgspec.structs.replace(other, at=time.time() - 3600))
        with pytest.raises(RequestFailed, match="no actuator would run pool 'mine2'"):
            await f.client.set_pool(PoolConfig(name="mine2", handler="myagents.tasks:run"))


@pytest.mark.parametrize("spawn", ["fork", "exec"])
async def test_a_missing_handler_module_fails_the_queued_tasks(
    nats_server: EmbeddedServer, nc: Nats, spawn: str
) -> None:
    handlers = [EXAMPLE_HANDLERS, "agentscaler_missing_handlers.*"]
    config = PoolConfig(name="gone", handler="agentscaler_missing_handlers.mod:run", spawn=spawn, **FAST)  # type: ignore[arg-type]
    async with fleet(nats_server.url, nc, handlers=handlers, max_backoff=1.0) as f:
        await f.client.set_pool(config)
        tasks = await f.client.submit("gone", [{"n": i} for i in range(3)])
        await f.client.scale("gone", "up", 2)
        for task in tasks:
            result = await eventually(lambda t=task: failed(f.client, "gone", t), timeout=30, what="the task failed")
            assert result.error == (
                "the pool's handler cannot be loaded: cannot import handler module 'agentscaler_missing_handlers.mod': "
                "No module named 'agentscaler_missing_handlers'"
            )
        # Status names the import error, for exec'd agents too (the actuator's probe tried the handler).
        wanted = "cannot import handler module 'agentscaler_missing_handlers.mod'"

        async def named() -> bool:
            return any(wanted in problem for problem in await problems(f.client, "gone"))

        await eventually(named, what="the pool's import error in status")
        # A task submitted later fails too, once the next agent is started after the backoff.
        [later] = await f.client.submit("gone", [{}])
        await eventually(lambda: failed(f.client, "gone", later), timeout=30, what="the later task failed")
        await f.client.scale("gone", "down", 0)


async def test_a_handler_that_is_not_a_coroutine_function_fails_the_queued_tasks(
    nats_server: EmbeddedServer, nc: Nats
) -> None:
    config = PoolConfig(name="sync", handler="agentscaler.services.agent.examples.llm:parse_latency", **FAST)  # type: ignore[arg-type]
    async with fleet(nats_server.url, nc) as f:
        await f.client.set_pool(config)
        [task] = await f.client.submit("sync", ["fixed:1"])
        await f.client.scale("sync", "up", 1)
        result = await eventually(lambda: failed(f.client, "sync", task), timeout=30, what="the task failed")
        assert "must be an async function" in result.error and result.error.startswith("the pool's handler cannot")
        found = await eventually(lambda: problems(f.client, "sync"), what="the pool's problem in status")
        assert "must be an async function" in found[0]
        await f.client.scale("sync", "down", 0)
