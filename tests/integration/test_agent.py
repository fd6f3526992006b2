"""One real agent process against a real nats-server: start-up errors, prefetch, results stored once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from contextlib import AbstractContextManager

import pytest
from nats.aio.client import Client

from agentscaler.services.cli.client import Client as AgentscalerClient
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.tasks import TaskResult
from tests.agents import exec_agent
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio


def agent(server: EmbeddedServer, pool: PoolConfig) -> AbstractContextManager[subprocess.Popen[str]]:
    """One agent started by exec, its log lines captured; stopped (SIGTERM) at the end of the block."""
    env = os.environ | {
        "AGENTSCALER_AGENT_NATS_URL": server.url,
        "AGENTSCALER_AGENT_POOL": pool.name,
        "AGENTSCALER_AGENT_AGENT_ID": f"it-{uuid.uuid4().hex[:8]}",
        "AGENTSCALER_AGENT_ACK_WAIT": str(pool.ack_wait),
        "AGENTSCALER_AGENT_PREFETCH": str(pool.prefetch),
        "AGENTSCALER_AGENT_PULL_TIMEOUT": str(pool.pull_timeout),
    }
    return exec_agent(env)


async def test_an_agent_of_a_pool_without_a_task_queue_exits_2_saying_what_to_do(
    nats_server: EmbeddedServer,
) -> None:
    with agent(nats_server, PoolConfig(name="nowhere")) as proc:
        code = await asyncio.to_thread(proc.wait, 30)
        output = proc.stdout.read() if proc.stdout else ""
    assert code == 2, output
    assert "pool 'nowhere' has no task queue" in output and "agentscaler pool set" in output, output


async def test_prefetched_tasks_waiting_longer_than_the_ack_wait_are_not_redelivered(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    pool = PoolConfig(name="pre", ack_wait=2.0, prefetch=3, pull_timeout=1.0)
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    results = await bucket(js, subjects.RESULTS_BUCKET)
    ids = await AgentscalerClient(nc).submit(pool.name, [{"sleep": 1.2}] * 3)

    async def all_done() -> list[TaskResult]:
        found = [await get_struct(results, subjects.result_key(pool.name, i), TaskResult) for i in ids]
        return [f[0] for f in found if f is not None] if all(found) else []

    async def all_three_held() -> bool:
        info = await js.consumer_info(subjects.task_stream(pool.name), subjects.TASK_CONSUMER)
        return (info.num_pending, info.num_ack_pending) == (0, 3)

    with agent(nats_server, pool):
        await eventually(all_three_held, timeout=10, interval=0.02, what="one pull taking all three tasks")
        done = await eventually(all_done, timeout=30, what="three results")
    # The agent took all three at once; the third waited 2.4 s (> ack_wait) for its turn, kept alive.
    assert [(r.status, r.attempts, r.agent_id) for r in done] == [("ok", 1, done[0].agent_id)] * 3
    assert max(r.started_at for r in done) - min(r.started_at for r in done) >= 2.4
    info = await js.consumer_info(subjects.task_stream(pool.name), subjects.TASK_CONSUMER)
    assert (info.num_pending, info.num_ack_pending, info.delivered.consumer_seq) == (0, 0, 3)  # none redelivered


async def test_an_agent_stopped_while_nats_is_down_exits_0(nats_server: EmbeddedServer, nc: Client) -> None:
    """Draining is refused while reconnecting, and closing a lost socket fails: the agent exits cleanly all
    the same, instead of hanging on a server that may not come back."""
    pool = PoolConfig(name="cut", pull_timeout=1.0)
    await ensure_task_queue(nc.jetstream(), pool)
    with agent(nats_server, pool) as proc:
        await eventually(lambda: _pulling(nc, pool), timeout=20, what="the agent pulling")
        await nc.close()
        nats_server.stop()
        assert proc.stdout is not None
        seen: list[str] = []

        async def reconnecting() -> bool:
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
            seen.append(line)
            return "disconnected from NATS; reconnecting" in line

        await eventually(reconnecting, timeout=20, interval=0, what="the agent reconnecting")
        proc.terminate()
        code = await asyncio.to_thread(proc.wait, 30)
        output = "".join(seen) + proc.stdout.read()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]


async def _pulling(nc: Client, pool: PoolConfig) -> bool:
    info = await nc.jetstream().consumer_info(subjects.task_stream(pool.name), subjects.TASK_CONSUMER)
    return (info.num_waiting or 0) >= 1
