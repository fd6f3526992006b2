"""A task's attempts survive a crash of the nats-server: real agents, a real server killed mid-task.

nats-server writes a consumer's state (which task went to whom, how often) at most ten times a second; a
server killed within that time forgets the last deliveries and hands those tasks out again as new. The
test kills the server while an agent runs a task and puts back the consumer's state file as it was before
that delivery: exactly what a crash a moment after the delivery leaves behind, made certain rather than
left to timing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from agentscaler.services.agent.attempts import Attempts, parse_attempt
from agentscaler.services.cli.client import Client as AgentscalerClient
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.tasks import TaskResult
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio


def start_agent(server: EmbeddedServer, pool: PoolConfig, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "AGENTSCALER_AGENT_NATS_URL": server.url,
        "AGENTSCALER_AGENT_POOL": pool.name,
        "AGENTSCALER_AGENT_AGENT_ID": f"it-{uuid.uuid4().hex[:8]}",
        "AGENTSCALER_AGENT_ACK_WAIT": str(pool.ack_wait),
        "AGENTSCALER_AGENT_PULL_TIMEOUT": str(pool.pull_timeout),
    }
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "agentscaler.services.agent"], env=env, stdout=out, stderr=out)


def consumer_state(server: EmbeddedServer, pool: PoolConfig) -> Path:
    stream = subjects.task_stream(pool.name)
    return (
        server.data_dir
        / "jetstream"
        / "jetstream"
        / "$G"
        / "streams"
        / stream
        / "obs"
        / subjects.TASK_CONSUMER
        / "o.dat"
    )


async def test_a_task_redelivered_as_new_after_a_server_crash_counts_its_earlier_attempt(
    nats_server: EmbeddedServer, tmp_path: Path
) -> None:
    pool = PoolConfig(name="att", ack_wait=30.0, pull_timeout=1.0)
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    before = consumer_state(nats_server, pool).read_bytes()  # nothing delivered yet
    [task_id] = await AgentscalerClient(nc).submit(pool.name, [{"sleep": 2.0}])
    key = subjects.result_key(pool.name, task_id)
    first = start_agent(nats_server, pool, tmp_path / "first.log")
    try:
        attempts = await bucket(js, subjects.ATTEMPTS_BUCKET)
        counted = await eventually(lambda: attempts.get(key), timeout=30, what="the first agent's count")
        assert parse_attempt(counted.value)[0] == 1

        # The crash: the first agent's run is cut short, and the server forgets it handed the task out.
        first.send_signal(signal.SIGKILL)
        assert nats_server.proc is not None
        nats_server.proc.kill()
        nats_server.proc.wait()
        consumer_state(nats_server, pool).write_bytes(before)
        nats_server.start()
        info = await eventually(
            lambda: js.consumer_info(subjects.task_stream(pool.name), subjects.TASK_CONSUMER), what="consumer back"
        )
        assert info.delivered.consumer_seq == 0, "the server must have forgotten the delivery for this test"

        second = start_agent(nats_server, pool, tmp_path / "second.log")
        try:
            results = await bucket(js, subjects.RESULTS_BUCKET)
            found = await eventually(lambda: get_struct(results, key, TaskResult), timeout=60, what="the task's result")
            result, _ = found
            assert result.status == "ok"
            assert result.attempts == 2, "JetStream said 1; the agents counted the first run"
            assert parse_attempt((await attempts.get(key)).value)[0] == 2
        finally:
            second.terminate()
            await asyncio.to_thread(second.wait, 30)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
        await nc.close()


async def test_normal_redeliveries_count_as_before(nats_server: EmbeddedServer, tmp_path: Path) -> None:
    """Without a crash the two counts agree: a task whose agent died is attempt 2 on the next."""
    pool = PoolConfig(name="att2", ack_wait=1.0, pull_timeout=1.0)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    [task_id] = await AgentscalerClient(nc).submit(pool.name, [{"sleep": 1.5}])
    key = subjects.result_key(pool.name, task_id)
    attempts = await bucket(js, subjects.ATTEMPTS_BUCKET)
    first = start_agent(nats_server, pool, tmp_path / "first.log")
    try:
        await eventually(lambda: attempts.get(key), timeout=30, what="the first agent's count")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = start_agent(nats_server, pool, tmp_path / "second.log")
        try:
            results = await bucket(js, subjects.RESULTS_BUCKET)
            result, _ = await eventually(lambda: get_struct(results, key, TaskResult), timeout=60, what="result")
            assert (result.status, result.attempts) == ("ok", 2)
        finally:
            second.terminate()
            await asyncio.to_thread(second.wait, 30)
    finally:
        await nc.close()


async def test_starts_of_one_task_by_several_agents_are_each_counted(nats_server: EmbeddedServer) -> None:
    """Five agents starting the same task at once (all told ``num_delivered`` 1) get attempts 1 to 5."""
    clients = [await nats.connect(nats_server.url) for _ in range(5)]
    try:
        counters = [Attempts(nc, nc.jetstream(), "race") for nc in clients]
        for counter in counters:
            await counter.start()
        for counter in counters:
            assert await counter.begin("t1", 1) == 1  # counted a moment into the run
        kv = await bucket(clients[0].jetstream(), subjects.ATTEMPTS_BUCKET)
        key = subjects.result_key("race", "t1")
        await eventually(lambda: _value(kv, key, b"5"), what="five starts counted")
        finals = await asyncio.gather(*(counter.final("t1", 1) for counter in counters))
        assert sorted(finals) == [1, 2, 3, 4, 5]
        again = await counters[0].begin("t1", 2)  # a redelivery waits for its count
        assert again == 6
        for counter in counters:
            await counter.close()
    finally:
        for nc in clients:
            await nc.close()


async def _value(kv: KeyValue, key: str, expected: bytes) -> bool:
    return (await kv.get(key)).value == expected


async def test_a_task_done_before_its_count_is_due_costs_no_write(nats_server: EmbeddedServer) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        counter = Attempts(nc, nc.jetstream(), "quick")
        await counter.start()
        assert await counter.begin("t1", 1) == 1
        assert await counter.final("t1", 1) == 1
        kv = await bucket(nc.jetstream(), subjects.ATTEMPTS_BUCKET)
        assert await counter.begin("t2", 1) == 1
        await eventually(lambda: kv.get(subjects.result_key("quick", "t2")), what="the slower task counted")
        with pytest.raises(KeyNotFoundError):
            await kv.get(subjects.result_key("quick", "t1"))
        await counter.close()
    finally:
        await nc.close()


async def test_a_count_names_its_agent_and_a_redelivery_learns_the_agent_before_it(
    nats_server: EmbeddedServer,
) -> None:
    """Each start writes "<count> <agent id>" (one write, as before); the count of a redelivery reads the agent
    that started the task before, also from a bare count an older agent wrote (which names nobody)."""
    clients = [await nats.connect(nats_server.url) for _ in range(3)]
    try:
        first, second, third = (Attempts(nc, nc.jetstream(), "who", f"agent-{i}") for i, nc in enumerate(clients))
        for counter in (first, second, third):
            await counter.start()
        kv = await bucket(clients[0].jetstream(), subjects.ATTEMPTS_BUCKET)
        key = subjects.result_key("who", "t1")
        assert await first.begin("t1", 1) == 1
        await eventually(lambda: _value(kv, key, b"1 agent-0"), what="the first start counted with its agent")
        assert first.previous_agent("t1") == ""

        assert await second.begin("t1", 2) == 2  # agent-0 died; a redelivery
        assert second.previous_agent("t1") == "agent-0"
        assert (await kv.get(key)).value == b"2 agent-1"
        assert await second.final("t1", 2) == 2
        assert second.previous_agent("t1") == ""  # forgotten once the run is over

        await kv.put(subjects.result_key("who", "t2"), b"4")  # an older agent's count
        assert await third.begin("t2", 2) == 5
        assert third.previous_agent("t2") == ""
        assert (await kv.get(subjects.result_key("who", "t2"))).value == b"5 agent-2"
        for counter in (first, second, third):
            await counter.close()
    finally:
        for nc in clients:
            await nc.close()
