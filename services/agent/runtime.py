"""The agent: register, pull and run tasks one at a time, heartbeat, and drain on stop."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
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

from .attempts import Attempts
from .deaths import Deaths, gave_up
from .handler import Handler
from .limits import Deadlines, TaskTimedOut, memory_error
from .progress import InProgress
from .puller import NO_CONSUMER, Puller, PullFailed
from .results import Finisher
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

DECODED = (Ack, TaskEnvelope, TaskResult)
"""The messages an agent decodes (a fork server builds their decoders before forking)."""

DRAIN_SETTLE = 5.0
"""Seconds a draining agent waits for JetStream to confirm the results it sent (and so ack their tasks)."""

STATE_REPORT_EVERY = 1.0
"""Seconds: the most often an agent reports a busy/ready change outside its regular heartbeats."""


class Agent:
    def __init__(self, settings: AgentSettings, nc: Client, handler: Handler, began: float) -> None:
        """``began``: when this agent's process began to start (``time.monotonic()``), for the start time
        it reports when registering."""
        self.settings = settings
        self.began = began
        self.nc = nc
        self.js = nc.jetstream()
        self.handler = handler
        self.state: AgentState = "ready"
        self.busy_since = 0.0
        self.started_at = time.time()
        self.last_beat = 0.0
        self._pending_beat: asyncio.Task[None] | None = None
        self._results_kv: KeyValue | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.deadlines = Deadlines()
        self.recycled = ""
        """Why this agent stopped taking tasks to be replaced (a task hit a limit); "" while it works on."""
        self.puller = Puller(
            nc,
            subjects.task_stream(settings.pool),
            subjects.TASK_CONSUMER,
            prefetch=settings.prefetch,
            ack_wait=settings.ack_wait,
            background=self._background,
        )
        self.finisher = Finisher(nc, self.js, settings.pool)
        self.attempts = Attempts(nc, self.js, settings.pool, settings.agent_id)
        self.deaths = Deaths(self.js)

    async def start(self) -> None:
        """Open the pull and result inboxes and register (call inside the start span, so the registration
        joins the trace of the command that started this agent)."""
        await self.puller.start()
        await self.finisher.start()
        await self.attempts.start()
        await self._register()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop``; then finish the task in hand, hand back anything pulled, deregister.
        Raises AgentscalerError when the pool has no task queue."""
        beats = asyncio.create_task(self._heartbeats(stop))
        interrupt = asyncio.create_task(_call_when_set(stop, self.puller.interrupt))
        try:
            await self._work(stop)
        finally:
            self.state = "draining"
            interrupt.cancel()
            returned = await self.puller.close()
            if not await self.finisher.settle(DRAIN_SETTLE):
                self.finisher.forget_older_than(0)
            await self.finisher.close()
            await self.attempts.close()
            beats.cancel()
            if self._pending_beat is not None:
                self._pending_beat.cancel()
            await self._deregister()
            log.info("agent drained", completed=self.completed, failed=self.failed, returned=returned)
            if self.recycled:
                log.warning("agent exits to be replaced: a task hit a limit", reason=self.recycled)

    @property
    def completed(self) -> int:
        return self.finisher.completed

    @property
    def failed(self) -> int:
        return self.finisher.failed

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self.recycled:
            try:
                msg = await self.puller.next(self.settings.pull_timeout)
            except PullFailed as exc:
                if exc.status == NO_CONSUMER:
                    await self._check_queue()
                log.warning("pull failed; retrying", error=str(exc))
                await wait_or_stop(stop, 1.0)
                continue
            if msg is not None:
                try:
                    await self._handle(msg)
                except TRANSIENT as exc:
                    # NATS went away mid-task: the task was not acked, so JetStream redelivers it.
                    log.warning("could not finish the task; it will be redelivered", error=repr(exc))

    async def _check_queue(self) -> None:
        """A pull nobody answered: fail with a clear error if the pool has no task queue at all."""
        try:
            await self.js.consumer_info(subjects.task_stream(self.settings.pool), subjects.TASK_CONSUMER)
        except nats.js.errors.NotFoundError as exc:
            raise AgentscalerError(
                f"pool {self.settings.pool!r} has no task queue ({exc}); create the pool with `agentscaler pool set`"
            ) from exc

    async def _handle(self, msg: Msg) -> None:
        meta = msg.metadata
        attempt = meta.num_delivered or 1
        try:
            task = decode(TaskEnvelope, msg.data)
            if not subjects.valid_task_id(task.id):
                raise BadMessage(f"invalid task id {task.id!r}: use 1-128 letters, digits, '-', '_' or '='")
            if task.pool != self.settings.pool:  # not run: the handler and limits are this pool's, not its
                raise BadMessage(
                    f"task names pool {task.pool!r} but was queued for pool {self.settings.pool!r}: "
                    f"submit it to {subjects.task_subject(task.pool)!r}"
                )
        except BadMessage as exc:
            header_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            task_id = header_id if subjects.valid_task_id(header_id) else f"seq-{meta.sequence.stream}"
            log.warning("malformed task", task=task_id, error=str(exc))
            failed = TaskResult(
                id=task_id, pool=self.settings.pool, status="failed", error=str(exc), agent_id=self.settings.agent_id
            )
            await self._finish(msg, failed)
            return
        if task.submitted_at <= 0:  # the publisher left it out: JetStream's own timestamp is the submission time
            task = msgspec.structs.replace(task, submitted_at=meta.timestamp.timestamp())
        attempt = await self.attempts.begin(task.id, attempt)  # JetStream's count may have fallen back
        with (
            structlog.contextvars.bound_contextvars(task=task.id, attempt=attempt),
            span("run task", kind=SpanKind.CONSUMER, parent=msg.headers or {}, attributes={"task.id": task.id}),
        ):
            if attempt > 1 and await self._already_done(task.id):
                log.info("task already finished; acking duplicate delivery")
                await msg.ack()
                return
            previous = self.attempts.previous_agent(task.id) if attempt > 1 else ""
            if attempt > self.settings.max_attempts:
                error = gave_up(attempt - 1, previous, await self.deaths.reason(previous) if previous else "")
                await self._finish(msg, self._result(task, attempt, time.time(), error=error))
                return
            if previous:
                log.info("running a redelivered task", previous_agent=previous)
            await self._run(msg, task, attempt)

    async def _already_done(self, task_id: str) -> bool:
        if self._results_kv is None:
            self._results_kv = await bucket(self.js, subjects.RESULTS_BUCKET)
        key = subjects.result_key(self.settings.pool, task_id)
        return await get_struct(self._results_kv, key, TaskResult) is not None

    async def _run(self, msg: Msg, task: TaskEnvelope, attempt: int) -> None:
        started = self.busy_since = time.time()
        if self.state == "ready":
            self.state = "busy"
            await self._state_changed()
        keepalive = InProgress(msg, self.settings.ack_wait, self._background)
        limit = ""
        try:
            value = await self.deadlines.run(self.handler, task.payload, self.settings.task_timeout)
            result = self._result(task, attempt, started, value=value)
            data = encode(result)  # a value that is not JSON fails here, as the task's error
        except TaskTimedOut as exc:
            limit = str(exc)
        except MemoryError:
            limit = memory_error(self.settings.memory_limit_mb)
        except Exception as exc:  # the handler is user code: any failure is the task's, not the agent's
            error = f"{type(exc).__name__}: {exc}"
            if attempt < self.settings.max_attempts:
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
        if limit:  # final, not retried; and the agent is replaced, as its handler may hold on to what it took
            self.recycled = limit
            result = self._result(task, attempt, started, error=limit)
            data = encode(result)
        await self._finish(msg, result, data)
        await self._state_changed()

    def _as_myself(self, subject: str) -> str:
        """``subject`` sent as this agent when it has a user of its own, which may publish only so: the server
        then vouches that a heartbeat, registration or goodbye is this agent's."""
        return subjects.as_actor(subject, self.settings.agent_id) if self.settings.creds_dir else subject

    def _result(
        self, task: TaskEnvelope, attempt: int, started: float, *, value: object = None, error: str = ""
    ) -> TaskResult:
        return TaskResult(
            id=task.id,
            pool=self.settings.pool,
            status="failed" if error else "ok",
            result=None if error else value,
            error=error,
            attempts=attempt,
            agent_id=self.settings.agent_id,
            submitted_at=task.submitted_at,
            started_at=started,
            finished_at=time.time(),
        )

    async def _finish(self, msg: Msg, result: TaskResult, data: bytes | None = None) -> None:
        """Send the result to be stored once (the first writer wins; a duplicate run is not counted); the
        task is acked when JetStream confirms, while this agent goes on to its next task."""
        if result.status == "failed":
            log.warning("task failed", task=result.id, error=result.error)
        attempt = await self.attempts.final(result.id, result.attempts)  # counted while the task ran
        if attempt != result.attempts:
            result, data = msgspec.structs.replace(result, attempts=attempt), None
        await self.finisher.finish(msg, result.id, result.status == "ok", data or encode(result))

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not await wait_or_stop(stop, self.settings.heartbeat_interval):
            self.finisher.forget_older_than(self.settings.ack_wait)
            await self._beat()
        self.state = "draining"
        await self._beat()
        while True:  # keep beating while the last task finishes; cancelled once it has
            await asyncio.sleep(self.settings.heartbeat_interval)
            await self._beat()

    async def _state_changed(self) -> None:
        """Tell the registry of a busy/ready change soon: at once, or at the end of the current fifth of a
        heartbeat interval with the state of that moment. Status stays current for slow tasks without a
        message per task when tasks are fast."""
        wait = self.last_beat + min(STATE_REPORT_EVERY, self.settings.heartbeat_interval) - time.monotonic()
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
            agent_id=self.settings.agent_id,
            pool=self.settings.pool,
            host=self.settings.host,
            pid=os.getpid(),
            state=self.state,
            completed=self.completed,
            failed=self.failed,
            busy_since=self.busy_since,
            held=self.puller.held + (self.state == "busy"),
            sent_at=time.time(),
            interval=self.settings.heartbeat_interval,
        )
        try:
            await publish(self.nc, self._as_myself(subjects.heartbeat_subject(self.settings.pool)), hb, traced=False)
        except nats.errors.Error as exc:
            log.warning("heartbeat not sent", error=repr(exc))

    async def _register(self) -> None:
        reg = Register(
            agent_id=self.settings.agent_id,
            pool=self.settings.pool,
            host=self.settings.host,
            pid=os.getpid(),
            started_at=self.started_at,
            traceparent=current_traceparent(),
            interval=self.settings.heartbeat_interval,
            start_seconds=round(time.monotonic() - self.began, 4),
        )
        try:
            await request(self.nc, self._as_myself(subjects.AGENT_REGISTER), reg, Ack, timeout=5.0, what="registry")
        except AgentscalerError as exc:
            # Heartbeats register the agent as soon as a registry listens; the work goes on meanwhile.
            log.warning("could not register; heartbeats will", error=str(exc))

    async def _deregister(self) -> None:
        """Say goodbye without waiting for an answer: the connection's drain delivers it, and a registry busy
        with a thousand agents leaving (or gone) must not hold this one back; the actuator's ``exited``
        event tells the registry of the exit anyway."""
        bye = Deregister(
            agent_id=self.settings.agent_id, pool=self.settings.pool, completed=self.completed, failed=self.failed
        )
        try:
            await publish(self.nc, self._as_myself(subjects.AGENT_DEREGISTER), bye)
        except nats.errors.Error as exc:
            log.warning("could not deregister; the registry will see the exit", error=repr(exc))


async def _call_when_set(event: asyncio.Event, callback: Callable[[], None]) -> None:
    await event.wait()
    callback()
