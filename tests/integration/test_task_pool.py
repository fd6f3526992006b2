"""A task whose envelope names another pool than the queue it came from is failed, not run."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from agentscaler.services.cli.client import Client as AgentscalerClient
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, get_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import encode
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult
from tests.conftest import eventually
from tests.integration.test_agent import agent

pytestmark = pytest.mark.asyncio


async def test_a_task_naming_another_pool_fails_and_the_agent_goes_on(nats_server: EmbeddedServer, nc: Client) -> None:
    pool = PoolConfig(name="mine", pull_timeout=1.0)
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    stray = TaskEnvelope(id="stray", pool="other", payload={"sleep": 0}, submitted_at=0.0)
    await js.publish(subjects.task_subject(pool.name), encode(stray), headers={"Nats-Msg-Id": stray.id})
    [good] = await AgentscalerClient(nc).submit(pool.name, [{"sleep": 0}])
    results = await bucket(js, subjects.RESULTS_BUCKET)

    async def result(task_id: str) -> TaskResult | None:
        found = await get_struct(results, subjects.result_key(pool.name, task_id), TaskResult)
        return None if found is None else found[0]

    with agent(nats_server, pool):
        refused = await eventually(lambda: result("stray"), timeout=30, what="the stray task's result")
        done = await eventually(lambda: result(good), timeout=30, what="the good task's result")
    assert refused.status == "failed" and refused.attempts == 1
    assert "names pool 'other' but was queued for pool 'mine'" in refused.error
    assert refused.started_at == 0.0  # never handed to the handler
    assert done.status == "ok"
