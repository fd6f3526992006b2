"""The monitor against a real nats-server (with a real registry and policy beside it)."""

from __future__ import annotations

import os
import time

import msgspec
import pytest
from nats.aio.client import Client

from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.ledger import Ledger
from agentscaler.services.monitor.room import host_room, with_room
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.agents import Ack, Heartbeat, Register
from agentscaler.shared.messages.commands import CommandReply, ListPools, Scale, SetPool
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot, StatusQuery
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio


async def status(nc: Client, pool: str | None = None) -> Snapshot:
    return await request(nc, subjects.STATUS, StatusQuery(pool=pool), Snapshot)


@pytest.fixture
async def system(nats_server: EmbeddedServer, nc: Client):  # type: ignore[no-untyped-def]
    url = nats_server.url
    async with (
        running(registry.run, RegistrySettings(nats_url=url, host="h1", lost_after=30)),
        running(policy.run, PolicySettings(nats_url=url, host="h1")),
        running(monitor.run, MonitorSettings(nats_url=url, host="h1", interval=0.1, stats_window=60)),
    ):
        await eventually(lambda: _has_default(nc), what="monitor sees the default pool")
        # The policy stores the default pool before it takes commands: wait for those too.
        await eventually(
            lambda: request(nc, subjects.COMMAND_READ, ListPools(), CommandReply), what="the policy answering"
        )
        yield


async def _has_default(nc: Client) -> bool:
    return [p.name for p in (await status(nc)).pools] == ["default"]


async def test_host_figures_are_real(system: None, nc: Client) -> None:
    host = (await status(nc)).host
    assert host.host == "h1" and host.cpu_count == os.cpu_count()
    assert 0 < host.memory_available <= host.memory_total
    assert 0 < host.disk_free <= host.disk_total
    assert 0.0 <= host.cpu_percent <= 100.0
    assert host.agents_fit == (host.memory_available - host.memory_reserve) // host.agent_memory_budget
    assert (host.room, host.room_bound) == host_room(host.agents_fit, host.cpu_fit)


async def test_status_gives_each_pool_its_room_over_the_hosts(system: None, nc: Client) -> None:
    """The reply's pool room is the monitor's rule over the hosts the reply lists."""
    snap = await status(nc)
    [pool] = snap.pools
    expected = with_room(pool, snap.hosts)
    assert pool.room_bound and pool.room == min(pool.max_agents - pool.desired, snap.host.room)
    assert (pool.room, pool.room_bound, pool.cpu_hold) == (expected.room, expected.room_bound, expected.cpu_hold)


async def test_queue_agents_and_exact_task_counts(system: None, nc: Client) -> None:
    js = nc.jetstream()
    now = time.time()
    for i in range(3):
        task = TaskEnvelope(id=f"t{i}", pool="default", payload={}, submitted_at=now)
        await js.publish(subjects.task_subject("default"), encode(task), headers={"Nats-Msg-Id": f"t{i}"})
    await request(
        nc,
        subjects.AGENT_REGISTER,
        Register(agent_id="a1", pool="default", host="h1", pid=os.getpid(), started_at=now),
        Ack,
    )
    hb = Heartbeat(agent_id="a1", pool="default", host="h1", pid=os.getpid(), state="busy", busy_since=now)
    await nc.publish(subjects.heartbeat_subject("default"), encode(hb))
    results = await bucket(js, subjects.RESULTS_BUCKET)
    for i, status_ in enumerate(["ok", "ok", "failed"]):
        result = TaskResult(
            id=f"r{i}",
            pool="default",
            status=status_,
            submitted_at=now - 2,
            started_at=now - 1,
            finished_at=now,  # type: ignore[arg-type]
        )
        await results.create(subjects.result_key("default", f"r{i}"), encode(result))

    async def figures() -> bool:
        pool = (await status(nc, "default")).pools[0]
        return (
            pool.queue.pending == 3
            and pool.agents.busy == 1
            and (pool.tasks.completed, pool.tasks.failed) == (2, 1)
            and pool.tasks.latency_p50 == pytest.approx(2.0, abs=0.01)
            and pool.tasks.wait_p95 == pytest.approx(1.0, abs=0.01)
        )

    await eventually(figures, what="queue, agent and task figures")


async def test_status_errors(system: None, nc: Client) -> None:
    with pytest.raises(RequestFailed, match="unknown pool 'ghost'"):
        await status(nc, "ghost")
    reply = await nc.request(subjects.STATUS, b"[1,2", timeout=5)
    assert b"bad_request" in reply.data
    assert (await status(nc)).pools


async def test_snapshots_are_published(system: None, nc: Client) -> None:
    sub = await nc.subscribe(subjects.snapshot_subject("h1"))
    msg = await sub.next_msg(timeout=5)
    snapshot = decode(Snapshot, msg.data)
    assert snapshot.host.host == "h1" and [p.name for p in snapshot.pools] == ["default"]


async def test_status_carries_the_auto_config_the_last_decision_and_the_cost(system: None, nc: Client) -> None:
    """A priced pool scaled by a command: the snapshot shows the policy's decision, the stored auto settings
    and what the pool costs."""
    config = PoolConfig(name="priced", max_agents=10, cost_per_agent_hour=0.5, cost_per_task=0.01)
    await request(nc, subjects.COMMAND, SetPool(config=config), CommandReply)
    await request(nc, subjects.COMMAND, Scale(pool="priced", direction="up", count=2), CommandReply)
    now = time.time()
    await request(
        nc,
        subjects.AGENT_REGISTER,
        Register(agent_id="c1", pool="priced", host="h1", pid=os.getpid(), started_at=now, start_seconds=0.25),
        Ack,
    )

    async def shown() -> Snapshot | None:
        snap = await status(nc, "priced")
        pool = snap.pools[0]
        decision, cost = pool.last_decision, pool.cost
        if decision is None or decision.desired != 2 or cost is None or cost.burn_rate != 0.5 or not cost.last_hour:
            return None  # the agent registered, and a snapshot since has counted its seconds
        return snap

    snap = await eventually(shown, what="the decision and the cost in the status")
    pool = snap.pools[0]
    assert pool.auto == AutoConfig() and pool.start_time == 0.25
    assert pool.last_decision is not None and pool.last_decision.rule == "manual.up"
    assert pool.cost is not None and (pool.cost.per_agent_hour, pool.cost.per_task) == (0.5, 0.01)
    assert 0 <= pool.cost.covered < 60 and 0 < pool.cost.last_hour == pool.cost.last_day < 0.5 * 60 / 3600
    [change] = pool.impacts  # the scale-up, its after-window still to come
    assert (change.previous, change.desired, change.rule, change.after) == (0, 2, "manual.up", None)
    assert change.cost_per_hour == 1.0
    unpriced = (await status(nc, "default")).pools[0]
    assert unpriced.cost is None


async def test_a_monitor_started_later_reads_the_last_decision_and_changes_back(
    system: None, nats_server: EmbeddedServer, nc: Client
) -> None:
    await request(nc, subjects.COMMAND, SetPool(config=PoolConfig(name="late", max_agents=10)), CommandReply)
    await request(nc, subjects.COMMAND, Scale(pool="late", direction="up", count=3), CommandReply)
    await eventually(lambda: _decided(nc, "late", 3), what="the decision recorded")
    sub = await nc.subscribe(subjects.snapshot_subject("h2"))
    settings = MonitorSettings(nats_url=nats_server.url, host="h2", interval=0.1, stats_window=60)
    async with running(monitor.run, settings):
        snapshot = decode(Snapshot, (await sub.next_msg(timeout=10)).data)
    [late] = [p for p in snapshot.pools if p.name == "late"]
    assert late.last_decision is not None and late.last_decision.desired == 3
    assert [(c.previous, c.desired) for c in late.impacts] == [(0, 3)]


async def _decided(nc: Client, pool: str, desired: int) -> bool:
    js = nc.jetstream()
    msg = await js.get_last_msg(subjects.HISTORY_STREAM, subjects.decision_subject(pool))
    return decode(DecisionEvent, msg.data or b"").desired == desired


async def test_status_lists_every_host_heard_lately_and_drops_the_silent(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    """A second host's snapshot on ``agentscaler.snapshot.h9`` shows in status replies (with a pool too)
    until ``host_max_age`` passes without another."""
    url = nats_server.url
    settings = MonitorSettings(nats_url=url, host="h1", interval=0.1, host_max_age=1.0)
    async with (
        running(registry.run, RegistrySettings(nats_url=url, host="h1")),
        running(policy.run, PolicySettings(nats_url=url, host="h1")),
        running(monitor.run, settings),
    ):
        await eventually(lambda: _has_default(nc), what="monitor sees the default pool")
        own = (await status(nc)).host
        other = msgspec.structs.replace(own, host="h9", agents=7, agents_fit=3)
        await nc.publish(subjects.snapshot_subject("h9"), encode(Snapshot(at=time.time(), host=other, pools=[])))
        published = time.monotonic()

        snap = await eventually(lambda: _hosts_listed(nc, "default", ["h1", "h9"]), what="h9 listed")
        assert snap.host.host == "h1" and snap.hosts[1] == other and [p.name for p in snap.pools] == ["default"]
        assert [h.host for h in (await status(nc)).hosts] == ["h1", "h9"]

        await eventually(lambda: _hosts_listed(nc, None, ["h1"]), what="h9 dropped")
        assert time.monotonic() - published > settings.host_max_age


async def _hosts_listed(nc: Client, pool: str | None, names: list[str]) -> Snapshot | None:
    snap = await status(nc, pool)
    return snap if [h.host for h in snap.hosts] == names else None


async def test_a_status_view_between_publishes_leaves_the_next_published_figures_unchanged(
    system: None, nats_server: EmbeddedServer, nc: Client
) -> None:
    """Two monitors take the same periodic snapshots of a priced pool; one also answers, between two of them,
    a status request that needs a fresh view (of a pool created since its last snapshot). Their next periodic
    figures are the same: the view moved no arrival baseline, agent-seconds, spawn pace or raw window, and
    showed the host as last sampled."""
    settings = MonitorSettings(nats_url=nats_server.url, host="h1", stats_window=60)
    asked, quiet = monitor.Monitor(settings, nc), monitor.Monitor(settings, nc)
    t0 = time.time()
    await _submit(nc, "a", 1)  # a count of tasks submitted: the arrival baseline
    for m in (asked, quiet):
        m.pools = {"default": PoolConfig(name="default", cost_per_agent_hour=3.6, cost_per_task=0.01)}
        m.latest = await m.snapshot(t0, advance=True)
    await _submit(nc, "b", 3)
    register = Register(agent_id="s1", pool="default", host="h1", pid=os.getpid(), started_at=t0)
    await request(nc, subjects.AGENT_REGISTER, register, Ack)
    result = TaskResult(id="r", pool="default", status="ok", submitted_at=t0, started_at=t0 + 1, finished_at=t0 + 2)
    for m in (asked, quiet):
        m.ledgers.setdefault("default", Ledger()).add(result)
        m.pools["fresh"] = PoolConfig(name="fresh")

    view = await asked._on_status(StatusQuery(pool="fresh"))
    assert [p.name for p in view.pools] == ["fresh"]
    assert asked.latest is not None and view.host == asked.latest.host  # no new sample of the host

    await _submit(nc, "c", 2)
    t1 = t0 + 30
    published = [(await m.snapshot(t1, advance=True)).pools for m in (asked, quiet)]
    figures = [[(p.name, p.queue, p.agents, p.tasks, p.spawn_rate, p.cost, p.impacts) for p in ps] for ps in published]
    assert figures[0] == figures[1]
    default = published[0][0]
    assert default.tasks.arrival_rate == round(5 / 30, 3)  # from the baseline at t0, not from the view's
    assert sum(msgspec.structs.astuple(default.agents)) == 1
    assert default.cost is not None and default.cost.last_hour == 0.01  # one task, and the agent counts from t1


async def _submit(nc: Client, prefix: str, count: int) -> None:
    js = nc.jetstream()
    for i in range(count):
        task = TaskEnvelope(id=f"{prefix}{i}", pool="default", payload={}, submitted_at=time.time())
        await js.publish(subjects.task_subject("default"), encode(task), headers={"Nats-Msg-Id": f"{prefix}{i}"})
