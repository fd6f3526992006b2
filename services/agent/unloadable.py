"""An agent whose handler cannot be loaded: it fails its pool's queued tasks with the reason, then exits.

Without it those tasks would wait for an agent that never comes. Each failed result says why (the import
error); tasks submitted later are failed by the next agent the actuator starts, after its backoff.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg

from agentscaler.shared import subjects
from agentscaler.shared.bus.connection import service_connection
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult
from agentscaler.shared.supervisor import stop_on_signals

from .puller import Puller, PullFailed
from .results import Finisher
from .settings import AgentSettings

log = structlog.get_logger()

PULL_WAIT = 1.0
"""Seconds a pull waits for one more queued task: the queue is empty when it expires."""

WORK_LIMIT = 30.0
"""Most seconds spent failing tasks; the actuator's next agent goes on after its backoff."""


def failure(error: str) -> str:
    """The error of a task failed because its pool's handler cannot be loaded."""
    return f"the pool's handler cannot be loaded: {error}"


async def fail_queued(settings: AgentSettings, error: str) -> int:
    """Fail the pool's queued tasks with ``error``; returns how many were failed."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with service_connection(settings, f"agent@{settings.agent_id}", stop) as nc:
        if nc is None:
            return 0
        return await _fail_all(nc, settings, failure(error), stop)


async def _fail_all(nc: Client, settings: AgentSettings, error: str, stop: asyncio.Event) -> int:
    puller = Puller(nc, subjects.task_stream(settings.pool), subjects.TASK_CONSUMER, ack_wait=settings.ack_wait)
    finisher = Finisher(nc, nc.jetstream(), settings.pool)
    await puller.start()
    await finisher.start()
    failed = 0
    deadline = time.monotonic() + WORK_LIMIT
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            msg = await puller.next(PULL_WAIT)
            if msg is None:
                break
            result = _failed(msg, settings, error)
            await finisher.finish(msg, result.id, False, encode(result))
            failed += 1
    except PullFailed as exc:  # no queue for the pool: nothing waits
        log.info("no queued tasks to fail", error=str(exc))
    finally:
        await puller.close()
        await finisher.settle(5.0)
        await finisher.close()
    if failed:
        log.warning("failed the pool's queued tasks", count=failed, error=error)
    return failed


def _failed(msg: Msg, settings: AgentSettings, error: str) -> TaskResult:
    meta = msg.metadata
    try:
        task = decode(TaskEnvelope, msg.data)
        task_id, submitted = task.id, task.submitted_at
    except BadMessage:
        task_id, submitted = "", 0.0
    if not subjects.valid_task_id(task_id):
        header_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        task_id = header_id if subjects.valid_task_id(header_id) else f"seq-{meta.sequence.stream}"
    now = time.time()
    return TaskResult(
        id=task_id,
        pool=settings.pool,
        status="failed",
        error=error,
        attempts=meta.num_delivered or 1,
        agent_id=settings.agent_id,
        submitted_at=submitted or meta.timestamp.timestamp(),
        started_at=now,
        finished_at=now,
    )
