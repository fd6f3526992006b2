"""The policy against a real nats-server."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace import TracerProvider

from agentscaler.services.monitor.room import host_room
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import AGENT_CAPACITY, bucket, get_struct
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.commands import CommandReply, Error, GetPool, PoolInfo, Scale, Scaled, SetPool
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import (
    AgentCounts,
    HostSnapshot,
    PoolSnapshot,
    QueueStats,
    Snapshot,
    TaskStats,
)
from agentscaler.shared.numbers import GIB, MIB
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio


async def command(nc: Client, cmd: object) -> object:
    return await request(nc, subjects.COMMAND, cmd, CommandReply)


async def scale(nc: Client, direction: str, count: int, pool: str = "default") -> Scaled:
    reply = await command(nc, Scale(pool=pool, direction=direction, count=count))  # type: ignore[arg-type]
    assert isinstance(reply, Scaled)
    return reply


async def desired(nc: Client, pool: str = "default") -> int:
    kv = await bucket(nc.jetstream(), subjects.DESIRED_BUCKET)
    found = await get_struct(kv, pool, DesiredState)
    return -1 if found is None else found[0].desired


def host_snapshot(fit: int, at: float | None = None, cpu_fit: int | None = None) -> Snapshot:
    """A monitor's snapshot of host h1 whose memory takes ``fit`` more agents (and its CPU ``cpu_fit``), with
    the room the monitor's rule gives."""
    room, bound = host_room(fit, cpu_fit)
    host = HostSnapshot(
        host="h1", cpu_count=2, cpu_percent=10.0, load1=0.1, memory_total=24 * GIB, memory_available=2 * GIB,
        memory_percent=90.0, disk_total=100 * GIB, disk_free=50 * GIB, disk_read_bps=0.0, disk_write_bps=0.0,
        agents=0, agent_rss_avg=0, agent_memory_budget=64 * MIB, memory_reserve=GIB, agents_fit=fit,
        cpu_fit=cpu_fit, room=room, room_bound=bound,
    )  # fmt: skip
    pool = PoolSnapshot(
        name="default", mode="manual", desired=0, max_agents=100, agents=AgentCounts(), queue=QueueStats(),
        tasks=TaskStats(),
    )  # fmt: skip
    return Snapshot(at=at if at is not None else time.time(), host=host, pools=[pool])


@pytest.fixture
async def policy_up(nats_server: EmbeddedServer, nc: Client):  # type: ignore[no-untyped-def]
    async with running(policy.run, PolicySettings(nats_url=nats_server.url, host="h1")):
        await eventually(lambda: command(nc, GetPool(pool="default")), what="policy up")
        yield


async def test_default_pool_and_its_task_queue(policy_up: None, nc: Client) -> None:
    info = await command(nc, GetPool(pool="default"))
    assert isinstance(info, PoolInfo) and info.state.desired == 0 and info.state.mode == "manual"
    assert info.summary == "pool default (manual): desired 0 agents, at most 100"
    consumer = await nc.jetstream().consumer_info(subjects.task_stream("default"), subjects.TASK_CONSUMER)
    assert consumer.config.max_waiting >= 2000 and consumer.config.max_ack_pending >= 2000
    assert consumer.config.max_waiting == consumer.config.max_ack_pending == AGENT_CAPACITY
    stream = await nc.jetstream().stream_info(subjects.task_stream("default"))
    assert str(getattr(stream.config.retention, "value", stream.config.retention)) == "workqueue"


async def test_up_and_down_set_the_desired_count(policy_up: None, nc: Client) -> None:
    decisions: asyncio.Queue[DecisionEvent] = asyncio.Queue()

    async def on_decision(msg) -> None:  # type: ignore[no-untyped-def]
        await decisions.put(decode(DecisionEvent, msg.data))

    await nc.subscribe(subjects.decision_subject("default"), cb=on_decision)
    up = await scale(nc, "up", 5)
    assert (up.previous, up.desired, up.summary) == (0, 5, "pool default: desired 5 agents (was 0)")
    assert await desired(nc) == 5
    event = await asyncio.wait_for(decisions.get(), 5)
    assert (event.previous, event.desired, event.rule, event.trigger) == (0, 5, "manual.up", "command")
    assert event.summary == "pool default scaled up from 0 to 5 agents: up 5 requested"
    same = await scale(nc, "up", 5)
    assert (same.previous, same.desired) == (5, 5)
    down = await scale(nc, "down", 0)
    assert (down.previous, down.desired) == (5, 0)
    assert await desired(nc) == 0


@pytest.mark.parametrize(
    ("first", "direction", "count", "code", "words"),
    [
        (5, "up", 3, "bad_request", "use `agentscaler down 3 --pool default`"),
        (2, "down", 4, "bad_request", "use `agentscaler up 4 --pool default`"),
        (0, "up", 101, "refused", "exceeds max_agents=100 of pool 'default'"),
    ],
)
async def test_refused_scale_commands_say_what_to_do(
    policy_up: None, nc: Client, first: int, direction: str, count: int, code: str, words: str
) -> None:
    await scale(nc, "up", first)
    with pytest.raises(RequestFailed) as err:
        await scale(nc, direction, count)
    assert err.value.code == code
    assert words in str(err.value)
    assert await desired(nc) == first


@pytest.mark.parametrize(
    ("memory_fit", "cpu_fit", "refusal", "room"),
    [
        (4, None, "fits 4 more", 4),
        # The host's memory takes 50 more, its CPU 3: the policy refuses what its room does not take.
        (50, 3, "fits 3 more (bound by CPU on h1", 3),
    ],
    ids=["memory-bound", "cpu-bound"],
)
async def test_the_hosts_room_limits_up(
    policy_up: None, nc: Client, memory_fit: int, cpu_fit: int | None, refusal: str, room: int
) -> None:
    await nc.publish(subjects.snapshot_subject("h1"), encode(host_snapshot(fit=memory_fit, cpu_fit=cpu_fit)))
    await nc.flush()

    async def refused() -> bool:
        try:
            await scale(nc, "up", 10)
        except RequestFailed as exc:
            return refusal in str(exc) and f"at most `agentscaler up {room} --pool default`" in str(exc)
        return False

    assert await eventually(refused, what="room refusal")
    assert (await scale(nc, "up", room)).desired == room


async def test_stale_capacity_is_not_trusted(policy_up: None, nc: Client) -> None:
    await nc.publish(subjects.snapshot_subject("h1"), encode(host_snapshot(fit=0, at=time.time() - 3600)))
    await nc.flush()
    await asyncio.sleep(0.1)
    reply = await scale(nc, "up", 3)
    assert reply.desired == 3 and "capacity unknown" in reply.note


async def test_unknown_pool_and_bad_names(policy_up: None, nc: Client) -> None:
    with pytest.raises(RequestFailed) as err:
        await scale(nc, "up", 1, pool="nope")
    assert err.value.code == "unknown_pool" and "known: default" in str(err.value)
    reply = decode(
        Error, (await nc.request(subjects.COMMAND, encode(Scale(pool="nope", direction="up", count=1)))).data
    )
    assert (reply.summary, reply.message) == (
        "unknown pool 'nope' (known: default)",
        "unknown pool 'nope' (known: default); create it with `agentscaler pool set nope --handler module:function`",
    )
    with pytest.raises(RequestFailed) as err:
        await scale(nc, "up", 1, pool="bad.name")
    assert err.value.code == "bad_request" and "invalid pool name" in str(err.value)


@pytest.mark.parametrize(
    ("payload", "words", "summary"),
    [
        (b"{oops", "malformed JSON for Command", "the body is not valid JSON ("),
        (b'{"type": "explode"}', "invalid Command", 'unknown command type "explode": use one of scale, set_pool,'),
        (b'{"type": "scale", "direction": "up", "count": -1}', "invalid Command",
         "count must be an integer from 0 to 1000000 (got -1)"),
        (b'{"type": "scale", "direction": "sideways", "count": 1}', "invalid Command",
         'direction must be one of down, up (got "sideways")'),
        (b'{"type": "scale", "direction": "up", "count": "ten"}', "invalid Command",
         'count must be an integer from 0 to 1000000 (got "ten")'),
    ],
)  # fmt: skip
async def test_malformed_commands_get_error_replies(
    policy_up: None, nc: Client, payload: bytes, words: str, summary: str
) -> None:
    reply = await nc.request(subjects.COMMAND, payload, timeout=5)
    assert b'"type":"error"' in reply.data and b"bad_request" in reply.data
    assert words.encode() in reply.data
    assert decode(Error, reply.data).summary.startswith(summary)
    assert (await scale(nc, "up", 1)).desired == 1


async def test_set_pool_creates_and_lowering_max_clamps(policy_up: None, nc: Client) -> None:
    created = await command(nc, SetPool(config=PoolConfig(name="p2", max_agents=10, ack_wait=3)))
    assert isinstance(created, PoolInfo) and created.config.max_agents == 10
    consumer = await nc.jetstream().consumer_info(subjects.task_stream("p2"), subjects.TASK_CONSUMER)
    assert consumer.config.ack_wait == 3
    await scale(nc, "up", 8, pool="p2")
    await command(nc, SetPool(config=PoolConfig(name="p2", max_agents=5)))
    assert await desired(nc, "p2") == 5
    with pytest.raises(RequestFailed, match="module:function"):
        await command(nc, SetPool(config=PoolConfig(name="p3", handler="nocolon")))


async def test_the_command_trace_reaches_the_desired_state(policy_up: None, nc: Client) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("operator command") as span:
        await scale(nc, "up", 2)
        trace_id = format(span.get_span_context().trace_id, "032x")
    kv = await bucket(nc.jetstream(), subjects.DESIRED_BUCKET)
    found = await get_struct(kv, "default", DesiredState)
    assert found is not None
    assert found[0].traceparent.split("-")[1] == trace_id
