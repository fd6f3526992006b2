"""The agent: register, pull and run tasks one at a time, heartbeat, and drain on stop."""

from __future__ import annotations

import asyncio
import os
import time

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from opentelemetry.trace import SpanKind

from agentscaler.shared import subjects
from agentscaler.shared.bus.events import publish
from agentscaler.shared.bus.jetstream import bucket, get_struct
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import Ack, AgentState, Deregister, Heartbeat, Register
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult
from agentscaler.shared.supervisor import wait_or_stop
from agentscaler.shared.telemetry.tracing import current_traceparent, span

from .handler import Handler
from .puller import Puller, PullFailed
from .settings import AgentSettings

log = structlog.get_logger()

TRANSIENT = (
    TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.js.errors.ServiceUnavailableError,
)
"""NATS failures that pass: a task interrupted by one is left unacknowledged, and JetStream redelivers it."""

STATE_REPORT_EVERY = 1.0
"""Seconds: the most often an agent reports a busy/ready change outside its regular heartbeats."""


class Agent:
    def __init__(self, settings: AgentSettings, nc: Client, handler: Handler, results: KeyValue) -> None:
        self.s = settings
        self.nc = nc
        self.handler = handler
        self.results = results
        self.state: AgentState = "ready"
        self.busy_since = 0.0
        self.completed = 0
        self.failed = 0
        self.started_at = time.time()
        self.last_beat = 0.0
        self._pending_beat: asyncio.Task[None] | None = None
        self.puller = Puller(nc, subjects.task_stream(settings.pool), subjects.TASK_CONSUMER)

    @classmethod
    async def connect(cls, settings: AgentSettings, nc: Client, handler: Handler) -> Agent:
        js = nc.jetstream()
        try:
            await js.consumer_info(subjects.task_stream(settings.pool), subjects.TASK_CONSUMER)
        except nats.js.errors.NotFoundError as exc:
            raise AgentscalerError(
                f"pool {settings.pool!r} has no task queue ({exc}); create the pool with `agentscaler pool set`"
            ) from exc
        return cls(settings, nc, handler, await bucket(js, subjects.RESULTS_BUCKET))

    async def start(self) -> None:
        """Open the pull inbox and register (call inside the start span, so the registration joins the
        trace of the command that started this agent)."""
        await self.puller.start()
        await self._register()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop``; then finish the task in hand, hand back anything pulled, deregister."""
        beats = asyncio.create_task(self._heartbeats(stop))
        try:
            await self._work(stop)
        finally:
            self.state = "draining"
            returned = await self.puller.close()
            beats.cancel()
            if self._pending_beat is not None:
                self._pending_beat.cancel()
            await self._deregister()
            log.info("agent drained", completed=self.completed, failed=self.failed, returned=returned)

    async def _work(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                pull = asyncio.create_task(self.puller.next(self.s.pull_timeout))
                await asyncio.wait({pull, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not pull.done():
                    pull.cancel()
                    break
                try:
                    msg = pull.result()
                except PullFailed as exc:
                    log.warning("pull failed; retrying", error=str(exc))
                    await wait_or_stop(stop, 1.0)
                    continue
                if msg is not None:
                    try:
                        await self._handle(msg)
                    except TRANSIENT as exc:
                        # NATS went away mid-task: the task was not acked, so JetStream redelivers it.
                        log.warning("could not finish the task; it will be redelivered", error=repr(exc))
        finally:
            stopped.cancel()

    async def _handle(self, msg: Msg) -> None:
        meta = msg.metadata
        attempt = meta.num_delivered or 1
        try:
            task = decode(TaskEnvelope, msg.data)
            if not subjects.valid_task_id(task.id):
                raise BadMessage(f"invalid task id {task.id!r}: use 1-128 letters, digits, '-', '_' or '='")
        except BadMessage as exc:
            header_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            task_id = header_id if subjects.valid_task_id(header_id) else f"seq-{meta.sequence.stream}"
            log.warning("malformed task", task=task_id, error=str(exc))
            await self._finish(msg, TaskResult(id=task_id, pool=self.s.pool, status="failed", error=str(exc)))
            return
        if task.submitted_at <= 0:  # the publisher left it out: JetStream's own timestamp is the submission time
            task = msgspec.structs.replace(task, submitted_at=meta.timestamp.timestamp())
        with (
            structlog.contextvars.bound_contextvars(task=task.id, attempt=attempt),
            span("run task", kind=SpanKind.CONSUMER, parent=msg.headers, attributes={"task.id": task.id}),
        ):
            key = subjects.result_key(self.s.pool, task.id)
            if attempt > 1 and await get_struct(self.results, key, TaskResult) is not None:
                log.info("task already finished; acking duplicate delivery")
                await msg.ack()
                return
            if attempt > self.s.max_attempts:
                error = f"gave up after {attempt - 1} deliveries (agents died or timed out)"
                await self._finish(msg, self._result(task, attempt, time.time(), error=error))
                return
            await self._run(msg, task, attempt)

    async def _run(self, msg: Msg, task: TaskEnvelope, attempt: int) -> None:
        started = self.busy_since = time.time()
        if self.state == "ready":
            self.state = "busy"
            await self._state_changed()
        keepalive = asyncio.create_task(self._keep_alive(msg))
        try:
            value = await self.handler(task.payload)
            result = self._result(task, attempt, started, value=value)
            data = encode(result)  # a value that is not JSON fails here, as the task's error
        except Exception as exc:  # the handler is user code: any failure is the task's, not the agent's
            error = f"{type(exc).__name__}: {exc}"
            if attempt < self.s.max_attempts:
                log.warning("task failed; will retry", error=error)
                await msg.nak(delay=min(2.0**attempt, 30.0))
                return
            result = self._result(task, attempt, started, error=error)
            data = encode(result)
        finally:
            keepalive.cancel()
            self.busy_since = 0.0
            if self.state == "busy":
                self.state = "ready"
        await self._finish(msg, result, data)
        await self._state_changed()

    def _result(
        self, task: TaskEnvelope, attempt: int, started: float, *, value: object = None, error: str = ""
    ) -> TaskResult:
        return TaskResult(
            id=task.id,
            pool=self.s.pool,
            status="failed" if error else "ok",
            result=None if error else value,
            error=error,
            attempts=attempt,
            agent_id=self.s.agent_id,
            submitted_at=task.submitted_at,
            started_at=started,
            finished_at=time.time(),
        )

    async def _finish(self, msg: Msg, result: TaskResult, data: bytes | None = None) -> None:
        """Store the result once (the first writer wins; a duplicate run is not counted), then ack. The ack
        is not awaited: if it is lost, the redelivery finds the stored result and only acks."""
        try:
            await self.results.create(subjects.result_key(self.s.pool, result.id), data or encode(result))
        except KeyWrongLastSequenceError:
            log.info("result already stored by another delivery", task=result.id)
        else:
            if result.status == "ok":
                self.completed += 1
            else:
                self.failed += 1
                log.warning("task failed", task=result.id, error=result.error)
        await msg.ack()

    async def _keep_alive(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.s.ack_wait / 3)
            await msg.in_progress()

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not await wait_or_stop(stop, self.s.heartbeat_interval):
            await self._beat()
        self.state = "draining"
        await self._beat()
        while True:  # keep beating while the last task finishes; cancelled once it has
            await asyncio.sleep(self.s.heartbeat_interval)
            await self._beat()

    async def _state_changed(self) -> None:
        """Tell the registry of a busy/ready change soon: at once, or at the end of the current fifth of a
        heartbeat interval with the state of that moment. Status stays current for slow tasks without a
        message per task when tasks are fast."""
        wait = self.last_beat + min(STATE_REPORT_EVERY, self.s.heartbeat_interval) - time.monotonic()
        if wait <= 0:
            await self._beat()
        elif self._pending_beat is None or self._pending_beat.done():
            self._pending_beat = asyncio.create_task(self._beat_after(wait))

    async def _beat_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self._beat()

    async def _beat(self) -> None:
        """Publish a heartbeat; a NATS outage only costs this one (the registry tolerates missed beats)."""
        self.last_beat = time.monotonic()
        hb = Heartbeat(
            agent_id=self.s.agent_id,
            pool=self.s.pool,
            host=self.s.host,
            pid=os.getpid(),
            state=self.state,
            completed=self.completed,
            failed=self.failed,
            busy_since=self.busy_since,
            sent_at=time.time(),
            interval=self.s.heartbeat_interval,
        )
        try:
            await publish(self.nc, subjects.heartbeat_subject(self.s.pool), hb, traced=False)
        except nats.errors.Error as exc:
            log.warning("heartbeat not sent", error=repr(exc))

    async def _register(self) -> None:
        reg = Register(
            agent_id=self.s.agent_id,
            pool=self.s.pool,
            host=self.s.host,
            pid=os.getpid(),
            started_at=self.started_at,
            traceparent=current_traceparent(),
            interval=self.s.heartbeat_interval,
        )
        try:
            await request(self.nc, subjects.AGENT_REGISTER, reg, Ack, timeout=5.0, what="registry")
        except AgentscalerError as exc:
            # Heartbeats register the agent as soon as a registry listens; the work goes on meanwhile.
            log.warning("could not register; heartbeats will", error=str(exc))

    async def _deregister(self) -> None:
        bye = Deregister(agent_id=self.s.agent_id, pool=self.s.pool, completed=self.completed, failed=self.failed)
        try:
            await request(self.nc, subjects.AGENT_DEREGISTER, bye, Ack, timeout=5.0, what="registry")
        except AgentscalerError as exc:
            log.warning("could not deregister; the registry will see the exit", error=str(exc))
