"""The policy in auto mode against a real nats-server: mode changes, waking on the first task, bursts,
dry runs, the recorded history and refusing manual scaling."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client

from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.commands import GetPool, PoolInfo, SetMode
from agentscaler.shared.messages.decisions import DecisionEvent, DemandSample
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import AgentCounts, QueueStats, TaskStats
from tests.conftest import eventually
from tests.services import running
from tests.unit.test_forecast import samples

from .test_policy import command, desired, host_snapshot, scale

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def policy_up(nats_server: EmbeddedServer, nc: Client):  # type: ignore[no-untyped-def]
    settings = PolicySettings(nats_url=nats_server.url, host="h1", history_interval=0.5)
    async with running(policy.run, settings):
        await eventually(lambda: command(nc, GetPool(pool="default")), what="policy up")
        yield


async def decisions(nc: Client) -> tuple[list[DecisionEvent], asyncio.Queue[DecisionEvent]]:
    seen: list[DecisionEvent] = []
    queue: asyncio.Queue[DecisionEvent] = asyncio.Queue()

    async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
        event = decode(DecisionEvent, msg.data)
        seen.append(event)
        queue.put_nowait(event)

    await nc.subscribe(subjects.decision_subject("default"), cb=on_msg)
    return seen, queue


async def _at_least(nc: Client, n: int) -> bool:
    return await desired(nc) >= n


async def set_auto(nc: Client, **fields: object) -> PoolInfo:
    reply = await command(nc, SetMode(pool="default", mode="auto", auto=AutoConfig(**fields)))  # type: ignore[arg-type]
    assert isinstance(reply, PoolInfo)
    return reply


async def test_auto_mode_wakes_on_the_first_task_within_a_second(policy_up: None, nc: Client) -> None:
    seen, _ = await decisions(nc)
    info = await set_auto(nc)
    assert info.state.mode == "auto" and info.config.auto.target_wait == 5.0
    await eventually(lambda: asyncio.sleep(0, any(e.rule == "mode.auto" for e in seen)), what="mode event")
    start = time.monotonic()
    await nc.jetstream().publish(subjects.task_subject("default"), b'{"id": "t1", "payload": {}}')
    await eventually(lambda: _at_least(nc, 1), timeout=5, what="scaled from zero")
    woke = time.monotonic() - start
    assert woke < 1.0, f"the first task woke the pool after {woke:.2f}s"
    # The event is published right after the desired count is written: it may arrive a moment later.
    await eventually(lambda: asyncio.sleep(0, any(e.desired == 1 for e in seen)), what="the decision event")
    event = next(e for e in seen if e.desired == 1)
    assert (event.rule, event.trigger, event.mode, event.applied) == ("auto.scale_from_zero", "arrival", "auto", True)
    assert event.inputs is not None and event.inputs.pending == 1
    # judged from the history in the background: at the first decision, not yet or on too little history
    assert event.prediction in ("inactive: not judged yet", "inactive: too little history to look for a period")


async def test_a_burst_is_decided_on_within_a_second(policy_up: None, nc: Client) -> None:
    await set_auto(nc, max_step_up=1000)
    await nc.publish(subjects.snapshot_subject("h1"), encode(host_snapshot(fit=500)))
    start = time.monotonic()
    js = nc.jetstream()
    await asyncio.gather(*(js.publish(subjects.task_subject("default"), b"{}") for _ in range(300)))
    await eventually(lambda: _at_least(nc, 100), timeout=5, what="burst decision")
    assert time.monotonic() - start < 1.5
    assert await desired(nc) <= 100  # the pool's max_agents


async def test_up_and_down_are_refused_in_auto_mode_naming_the_way_back(policy_up: None, nc: Client) -> None:
    await set_auto(nc)
    with pytest.raises(RequestFailed) as info:
        await scale(nc, "up", 3)
    assert "agentscaler manual --pool default" in str(info.value)
    reply = await command(nc, SetMode(pool="default", mode="manual"))
    assert isinstance(reply, PoolInfo) and reply.state.mode == "manual"
    assert (await scale(nc, "up", 3)).desired == 3


async def test_manual_takes_the_pool_back_at_its_current_size(policy_up: None, nc: Client) -> None:
    await scale(nc, "up", 4)
    await set_auto(nc, min_agents=4)
    reply = await command(nc, SetMode(pool="default", mode="manual"))
    assert isinstance(reply, PoolInfo) and (reply.state.mode, reply.state.desired) == ("manual", 4)
    await nc.jetstream().publish(subjects.task_subject("default"), b"{}")
    await asyncio.sleep(0.5)  # time passes on purpose: the task wakes no decision in manual mode
    assert await desired(nc) == 4  # no longer the policy's to size


async def test_a_dry_run_publishes_decisions_without_applying_them(policy_up: None, nc: Client) -> None:
    seen, _ = await decisions(nc)
    await set_auto(nc, dry_run=True, predict=False)
    await nc.jetstream().publish(subjects.task_subject("default"), b"{}")
    await eventually(lambda: asyncio.sleep(0, any(e.desired == 1 for e in seen)), what="forecast")
    forecast = next(e for e in seen if e.desired == 1)
    assert not forecast.applied and forecast.rule == "auto.scale_from_zero"
    assert forecast.prediction == "off by setting"
    assert await desired(nc) == 0


async def test_decisions_and_demand_samples_are_recorded(policy_up: None, nc: Client) -> None:
    await set_auto(nc)
    await nc.jetstream().publish(subjects.task_subject("default"), b"{}")
    await eventually(lambda: _at_least(nc, 1), timeout=5, what="scaled from zero")
    snap = host_snapshot(fit=100)
    pool = snap.pools[0]
    busy = type(pool)(
        name="default", mode="auto", desired=1, max_agents=100, agents=AgentCounts(busy=1),
        queue=QueueStats(in_flight=1, pending=3), tasks=TaskStats(service_mean=2.0, arrival_rate=1.0),
    )  # fmt: skip
    js = nc.jetstream()
    for _ in range(3):
        await js.publish(subjects.task_subject("default"), b"{}")
        fresh = type(snap)(at=time.time(), host=snap.host, pools=[busy])
        await nc.publish(subjects.snapshot_subject("h1"), encode(fresh))

    async def recorded() -> bool:
        fresh = type(snap)(at=time.time(), host=snap.host, pools=[busy])  # decisions go on, and close intervals
        await nc.publish(subjects.snapshot_subject("h1"), encode(fresh))
        samples = [decode(DemandSample, m.data) for m in await read_history(js, subjects.history_subject("default"), 0)]
        if not samples:
            return False
        sample = samples[-1]
        # the peak demand (3 queued tasks) and the arrivals' mean part, which the load profile learns; and the
        # load as a replayable record: the tasks submitted in each interval and their mean service time
        return (
            sample.demand >= 2
            and sample.steady is not None
            and 0 < sample.steady <= sample.demand
            and sum(s.arrived or 0 for s in samples) == 4  # the task that woke the pool, and three more
            and all(s.interval is not None and s.interval > 0 for s in samples)
            # when in each interval they came, for a replay to keep the load's shape
            and all(sum(n for _, n in s.arrivals or []) == s.arrived for s in samples)
            and all(0 <= at <= (s.interval or 0) for s in samples for at, _ in s.arrivals or [])
            and sample.service_mean == 2.0
        )

    await eventually(recorded, timeout=10, interval=0.2, what="demand samples")
    events = [decode(DecisionEvent, m.data) for m in await read_history(js, subjects.decision_subject("*"), 0, 10)]
    assert any(e.rule == "auto.scale_from_zero" for e in events)


async def test_the_prediction_is_judged_on_the_recorded_history(policy_up: None, nc: Client) -> None:
    """Three hours of a load recurring hourly in the history: the policy finds the period and judges the
    forecast on it by simulation; the decisions after say what it found."""
    js = nc.jetstream()
    for sample in samples(3, peak=4.0, epoch=time.time() - 3 * 3600):
        await js.publish(subjects.history_subject("default"), encode(sample))
    seen, _ = await decisions(nc)
    await set_auto(nc)
    await js.publish(subjects.task_subject("default"), b"{}")  # the first decision: judged from here
    snap = host_snapshot(fit=100)
    pending = iter(range(2, 100))

    async def judged() -> bool:  # a growing queue: every decision scales up, so it is published
        if any("period 1h detected" in e.prediction for e in seen):
            return True  # with no snapshot left in flight when the policy stops
        pool = type(snap.pools[0])(
            name="default", mode="auto", desired=await desired(nc), max_agents=100, agents=AgentCounts(busy=1),
            queue=QueueStats(in_flight=1, pending=next(pending)), tasks=TaskStats(service_mean=20.0),
        )  # fmt: skip
        await nc.publish(
            subjects.snapshot_subject("h1"), encode(type(snap)(at=time.time(), host=snap.host, pools=[pool]))
        )
        return False

    await eventually(judged, timeout=20, interval=0.5, what="the verdict on prediction")


async def test_auto_mode_survives_a_policy_restart(nats_server: EmbeddedServer, nc: Client) -> None:
    settings = PolicySettings(nats_url=nats_server.url, host="h1")
    async with running(policy.run, settings):
        await eventually(lambda: command(nc, GetPool(pool="default")), what="policy up")
        await set_auto(nc)
    async with running(policy.run, settings):
        info = await eventually(lambda: command(nc, GetPool(pool="default")), what="policy up again")
        assert isinstance(info, PoolInfo) and info.state.mode == "auto"
        await nc.jetstream().publish(subjects.task_subject("default"), b"{}")
        await eventually(lambda: _at_least(nc, 1), timeout=5, what="woken after the restart")
