"""The chat endpoint (``agentscaler.chat``), its example HTTP bridge, and the pool events, against a real
nats-server (and real agents for the converged event)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from nats.aio.client import Client

from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.chat import USAGE
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.audit import read_audit
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pool_events import PoolConverged, PoolRefused, PoolStuck
from agentscaler.shared.messages.pools import PoolConfig
from tests.conftest import eventually
from tests.integration.fleet import FAST, two_hosts
from tests.secured import Secured
from tests.services import running

pytestmark = pytest.mark.asyncio
BRIDGE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "chat_bridge.py"


async def chat(nc: Client, text: str, subject: str = subjects.CHAT) -> str:
    return (await nc.request(subject, text.encode(), timeout=5)).data.decode()


async def queue_of(nc: Client, subject: str, kind: type) -> asyncio.Queue:  # type: ignore[type-arg]
    found: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]

    async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
        await found.put(decode(kind, msg.data))

    await nc.subscribe(subject, cb=on_msg)
    return found


@pytest.fixture
async def chat_up(nats_server: EmbeddedServer, nc: Client):  # type: ignore[no-untyped-def]
    url = nats_server.url
    async with (
        running(policy.run, PolicySettings(nats_url=url, host="h1")),
        running(monitor.run, MonitorSettings(nats_url=url, host="h1", interval=0.2, stuck_after=1.0)),
    ):
        await eventually(lambda: chat(nc, "status"), what="chat served")
        yield


async def test_chat_lines_scale_and_report_in_plain_text(chat_up: None, nc: Client) -> None:
    decisions = await queue_of(nc, subjects.decision_subject("default"), DecisionEvent)
    assert (await chat(nc, "up 3")).startswith("pool default: desired 0 -> 3")
    assert (await asyncio.wait_for(decisions.get(), 5)).trigger == "command"

    async def status_shows_3() -> bool:
        return "default: manual, 0/3 agents" in await chat(nc, "status --pool default")

    await eventually(status_shows_3, what="status with the new count")
    assert "hosts: h1 (cpu" in await chat(nc, "status")
    assert await chat(nc, "pools") == "default: manual, desired 3 (max 100)"
    assert await chat(nc, "auto") == "pool default: auto mode, desired 3"
    assert await chat(nc, "manual --pool default") == "pool default: manual mode, desired 3"
    assert "scale a manual pool up" in await chat(nc, "help")
    assert (await chat(nc, "up 5 6")).endswith(USAGE)
    assert (await chat(nc, "\xff\xfe")).startswith("unknown command")
    unknown = await chat(nc, "status --pool nope")
    assert unknown.startswith("status unavailable") and "unknown pool 'nope'" in unknown


async def test_narrow_subjects_refuse_what_the_role_may_not_do(chat_up: None, nc: Client) -> None:
    read = subjects.as_actor(subjects.CHAT_READ, "viewer1")
    assert (await chat(nc, "up 5", read)).startswith("refused: `up` may not be sent on agentscaler.chat.read")
    assert (await chat(nc, "auto", subjects.CHAT_READ)).startswith("refused:")
    assert "default: manual" in await chat(nc, "pools", read)
    assert "hosts: h1" in await chat(nc, "status", read)
    decisions = await queue_of(nc, subjects.decision_subject("default"), DecisionEvent)
    operate = subjects.as_actor(subjects.CHAT_OPERATE, "alice")
    assert (await chat(nc, "up 2", operate)).startswith("pool default: desired 0 -> 2")
    assert (await asyncio.wait_for(decisions.get(), 5)).actor == "alice"
    records = await read_audit(nc.jetstream(), time.time() - 60, 10, "command")
    assert [(r.subject, r.command, r.outcome) for r in records] == [
        (read, "scale", "refused"),
        (subjects.CHAT_READ, "set_mode", "refused"),
        (read, "list_pools", "ok"),
        (operate, "scale", "ok"),
    ]
    assert records[-1].actor == "alice"


async def test_a_refused_scale_up_is_an_event_for_people(chat_up: None, nc: Client) -> None:
    refusals = await queue_of(nc, subjects.pool_event_subject("refused", "*"), PoolRefused)
    reply = await chat(nc, "up 101", subjects.as_actor(subjects.CHAT, "bob"))
    assert reply.startswith("refused: ") and "exceeds max_agents=100 of pool 'default'" in reply
    event = await asyncio.wait_for(refusals.get(), 5)
    assert (event.pool, event.count, event.actor) == ("default", 101, "bob")
    assert event.summary.startswith("scale-up of pool default to 101 refused: ") and "max_agents=100" in event.summary


async def test_a_pool_without_its_agents_in_time_is_stuck_once(chat_up: None, nc: Client) -> None:
    stuck = await queue_of(nc, subjects.pool_event_subject("stuck", "default"), PoolStuck)
    await chat(nc, "up 2")  # no actuator runs: no agent will start
    event = await asyncio.wait_for(stuck.get(), 10)
    assert (event.desired, event.agents.ready, event.seconds >= 1.0) == (2, 0, True)
    assert event.summary.startswith("pool default has 0 of 2 agents after 1s")
    await asyncio.sleep(1)
    assert stuck.empty()


async def test_roles_chat_as_themselves_within_their_rights(secured: Secured) -> None:
    viewer, operator = await secured.connect("viewer"), await secured.connect("operator")
    read = subjects.as_actor(subjects.CHAT_READ, viewer.actor)
    assert "default: manual" in await chat(viewer.nc, "status", read)
    assert (await chat(viewer.nc, "up 1", read)).startswith("refused:")
    await viewer.nc.publish(subjects.as_actor(subjects.CHAT_OPERATE, viewer.actor), b"up 1")
    await viewer.refused(subjects.as_actor(subjects.CHAT_OPERATE, viewer.actor))
    operate = subjects.as_actor(subjects.CHAT_OPERATE, operator.actor)
    assert (await chat(operator.nc, "up 1", operate)).startswith("pool default: desired 0 -> 1")
    await operator.nc.publish(subjects.CHAT, b"pools")
    await operator.refused(subjects.CHAT)


async def test_the_example_bridge_relays_a_webhook(chat_up: None, nats_server: EmbeddedServer) -> None:
    args = [sys.executable, str(BRIDGE), "--nats", nats_server.url, "--port", "0"]
    bridge = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    try:
        first = await asyncio.wait_for(bridge.stdout.readline(), 10)  # type: ignore[union-attr]
        url = first.decode().split()[-1]

        def post(body: bytes) -> tuple[int, dict[str, str]]:
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, body = await asyncio.to_thread(post, b'{"text": "up 4 --pool default"}')
        assert status == 200 and body["text"].startswith("pool default: desired 0 -> 4")
        status, body = await asyncio.to_thread(post, b'{"text": "dance"}')
        assert status == 200 and body["text"].startswith("unknown command 'dance'")
        status, body = await asyncio.to_thread(post, b"not json")
        assert status == 400 and "JSON" in body["text"]
    finally:
        bridge.terminate()
        await bridge.wait()


async def test_a_pool_that_reaches_its_count_is_announced_once(nats_server: EmbeddedServer, nc: Client) -> None:
    async with two_hosts(nats_server.url, nc) as h:
        reached = await queue_of(nc, subjects.pool_event_subject("converged", "*"), PoolConverged)
        await h.client.set_pool(PoolConfig(name="talk", max_agents=4, **FAST))  # type: ignore[arg-type]
        assert (await chat(nc, "up 2 --pool talk")).startswith("pool talk: desired 0 -> 2")
        event = await asyncio.wait_for(reached.get(), 20)
        assert (event.pool, event.desired) == ("talk", 2) and event.summary.startswith("pool talk reached 2 agents")

        async def shown() -> bool:  # either host's monitor answers: the other one's snapshot may be a second older
            return "talk: manual, 2/2 agents" in await chat(nc, "status --pool talk")

        await eventually(shown, timeout=10, what="status showing the 2 agents")
        await asyncio.sleep(1)  # both hosts' monitors take snapshots meanwhile: one of them announces
        assert reached.empty()
        await h.client.scale("talk", "down", 0)
        event = await asyncio.wait_for(reached.get(), 20)
        assert (event.pool, event.desired) == ("talk", 0)
