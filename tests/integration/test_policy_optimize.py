"""``optimize`` against a real nats-server and policy service: the load recorded in the history stream is
rebuilt and searched in worker processes; the report comes back, is kept for ``status``, can be applied, and
bad requests get clear errors. Commands are answered while a search runs."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client

from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, get_struct
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.commands import GetPool, PoolInfo, SetPool
from agentscaler.shared.messages.decisions import DemandSample
from agentscaler.shared.messages.optimize import Optimize, Optimized, OptimizeProgress
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from tests.conftest import eventually
from tests.services import running

from .test_policy import command

pytestmark = pytest.mark.asyncio

SLOW_DOWN = AutoConfig(scale_down_window=120.0)
"""Settings that hold agents two minutes after the load drops: costly for a load that comes and goes."""


@pytest.fixture
async def policy_up(nats_server: EmbeddedServer, nc: Client):  # type: ignore[no-untyped-def]
    settings = PolicySettings(nats_url=nats_server.url, host="h1", optimize_workers=1, optimize_draws=1)
    async with running(policy.run, settings):
        await eventually(lambda: command(nc, GetPool(pool="default")), what="policy up")
        yield


async def record(nc: Client, pool: str, samples: int, on: int = 60, every: int = 4) -> int:
    """Publish ``samples`` demand samples of 30 s ending now into the history: ``on`` tasks in one of
    ``every`` intervals, none in the others. Returns the tasks recorded."""
    js = nc.jetstream()
    now, total = time.time(), 0
    for i in range(samples):
        arrived = on if i % every == 0 else 0
        total += arrived
        sample = DemandSample(
            pool=pool, at=now - 30.0 * (samples - 1 - i), demand=0, agents=0, desired=0, pending=0, in_flight=0,
            arrival_rate=0.0, service_time=0.0, interval=30.0, arrived=arrived, service_mean=8.0,
        )  # fmt: skip
        await js.publish(subjects.history_subject(pool), encode(sample))
    return total


async def set_pool(nc: Client, config: PoolConfig) -> None:
    assert isinstance(await command(nc, SetPool(config=config)), PoolInfo)


async def optimize_request(nc: Client, **fields: object) -> Optimized:
    reply: Optimized = await request(nc, subjects.OPTIMIZE, Optimize(**fields), Optimized, timeout=120)  # type: ignore[arg-type]
    return reply


async def test_optimize_reports_on_the_recorded_load_and_keeps_the_report(policy_up: None, nc: Client) -> None:
    await set_pool(nc, PoolConfig(name="default", auto=SLOW_DOWN, cost_per_agent_hour=0.6))
    tasks = await record(nc, "default", 80)
    progress: list[OptimizeProgress] = []

    async def on_progress(msg) -> None:  # type: ignore[no-untyped-def]
        progress.append(decode(OptimizeProgress, msg.data))

    await nc.subscribe(subjects.optimize_event_subject("default"), cb=on_progress)
    report = await optimize_request(nc, pool="default", since=3600.0)
    assert report.pool == "default" and report.tasks == tasks and report.samples == 80
    assert report.span == pytest.approx(80 * 30.0, abs=1.0)
    assert report.current.config == SLOW_DOWN and report.target_wait == 5.0
    assert report.evaluated > 5 and report.front and not report.applied
    rec = report.recommended
    assert rec is not None and report.changes and rec.config != SLOW_DOWN
    # Holding agents two minutes after each wave costs: the search finds settings at least 5% cheaper, with no
    # more minutes over target.
    assert rec.agent_seconds < 0.95 * report.current.agent_seconds
    assert rec.minutes_over <= report.current.minutes_over
    assert rec.cost_per_hour == pytest.approx(rec.agent_seconds / 3600 * 0.6 / (report.span / 3600), rel=1e-3)
    await eventually(lambda: asyncio.sleep(0, len(progress) >= 2), what="progress events")
    assert progress[-1].evaluated == report.evaluated
    kv = await bucket(nc.jetstream(), subjects.OPTIMIZE_BUCKET)
    kept = await get_struct(kv, "default", Optimized)
    assert kept is not None and kept[0] == report
    # Nothing changed without --apply.
    info = await command(nc, GetPool(pool="default"))
    assert isinstance(info, PoolInfo) and info.config.auto == SLOW_DOWN


async def test_apply_stores_the_recommended_settings(policy_up: None, nc: Client) -> None:
    await set_pool(nc, PoolConfig(name="default", auto=SLOW_DOWN))
    await record(nc, "default", 60)
    report = await optimize_request(nc, pool="default", since=3600.0, apply=True)
    assert report.applied and report.recommended is not None
    info = await command(nc, GetPool(pool="default"))
    assert isinstance(info, PoolInfo) and info.config.auto == report.recommended.config
    assert info.state.mode == "manual"  # applying settings does not hand the pool to the policy


async def test_commands_are_answered_while_a_search_runs(policy_up: None, nc: Client) -> None:
    await set_pool(nc, PoolConfig(name="default", auto=SLOW_DOWN))
    await record(nc, "default", 240, on=120)
    search = asyncio.ensure_future(optimize_request(nc, pool="default", since=4 * 3600.0))
    waits = []
    while not search.done():
        started = time.monotonic()
        assert isinstance(await command(nc, GetPool(pool="default")), PoolInfo)
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    report = await search
    assert report.evaluated > 5 and len(waits) >= 3
    assert max(waits) < 1.0, f"a command waited {max(waits):.2f}s behind the search"


async def test_too_little_history_says_how_much_it_has_and_needs(policy_up: None, nc: Client) -> None:
    await record(nc, "default", 5)
    with pytest.raises(RequestFailed) as err:
        await optimize_request(nc, pool="default", since=3600.0)
    assert err.value.code == "too_little_history"
    assert "it has 120 tasks in 5 demand samples" in str(err.value) and "needs at least" in str(err.value)
    assert "agentscaler auto --pool default" in str(err.value)


async def test_no_recorded_load_unknown_pools_and_a_budget_without_a_price(policy_up: None, nc: Client) -> None:
    with pytest.raises(RequestFailed) as err:
        await optimize_request(nc, pool="default")
    assert err.value.code == "too_little_history" and "no demand sample records its arrivals" in str(err.value)
    with pytest.raises(RequestFailed) as err:
        await optimize_request(nc, pool="ghost")
    assert err.value.code == "unknown_pool"
    with pytest.raises(RequestFailed) as err:
        await optimize_request(nc, pool="default", budget=1.0)
    assert err.value.code == "bad_request" and "--cost-per-agent-hour" in str(err.value)
    reply = await nc.request(subjects.OPTIMIZE, b'{"pool": "default", "since": -5}', timeout=5)
    assert b'"bad_request"' in reply.data and b"since" in reply.data


async def test_a_budget_below_every_configuration_recommends_nothing(policy_up: None, nc: Client) -> None:
    await set_pool(nc, PoolConfig(name="default", cost_per_agent_hour=1.0))
    await record(nc, "default", 40)
    report = await optimize_request(nc, pool="default", since=3600.0, budget=0.001)
    assert report.recommended is None and not report.changes and not report.applied
    assert report.note.startswith("no configuration found fits the budget of 0.001/h")
