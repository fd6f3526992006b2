"""Finishing tasks: each result created once in the results bucket, then the task acked.

The result is published with a reply inbox of the agent's own and the task is acked from the reply: the
agent pulls its next task while JetStream stores the last result, and the two go out in one write. No
task is acked before its result is stored; a task whose result could not be stored stays unacked and
JetStream redelivers it, where the stored result (if the store did happen) is found and only acked.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket

log = structlog.get_logger()

CREATE_ONLY = {"Nats-Expected-Last-Subject-Sequence": "0"}
"""A KV create: JetStream stores the result only if the key has none yet."""

WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code when the key already has a value: another delivery stored this result."""


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _PubAck(msgspec.Struct):
    """JetStream's answer to a publish: the stored sequence, or an error."""

    seq: int = 0
    error: _ApiError | None = None


_decode_ack = msgspec.json.Decoder(_PubAck).decode


@dataclass(slots=True)
class _Storing:
    task: Msg
    task_id: str
    ok: bool
    subject: str
    data: bytes
    since: float
    retried: bool = False


class Finisher:
    """Stores results and acks their tasks; counts what this agent completed and failed."""

    def __init__(self, nc: Client, js: JetStreamContext, pool: str) -> None:
        self._nc = nc
        self._js = js
        self._pool = pool
        self._reply_prefix = nc.new_inbox() + "."
        self._storing: dict[str, _Storing] = {}
        self._serial = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._sub: Subscription | None = None
        self.completed = 0
        self.failed = 0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._reply_prefix + "*", cb=self._on_reply)

    async def finish(self, task: Msg, task_id: str, ok: bool, data: bytes) -> None:
        """Send the result (encoded ``TaskResult``) for storing; the task is acked once it is stored."""
        subject = subjects.result_subject(self._pool, task_id)
        entry = _Storing(task=task, task_id=task_id, ok=ok, subject=subject, data=data, since=time.monotonic())
        await self._send(entry)

    async def _send(self, entry: _Storing) -> None:
        self._serial += 1
        token = str(self._serial)
        self._storing[token] = entry
        self._settled.clear()
        await self._nc.publish(entry.subject, entry.data, reply=self._reply_prefix + token, headers=CREATE_ONLY)

    async def _on_reply(self, reply: Msg) -> None:
        entry = self._storing.pop(reply.subject[len(self._reply_prefix) :], None)
        try:
            if entry is not None:
                await self._stored(entry, reply)
        finally:
            if not self._storing:
                self._settled.set()

    async def _stored(self, entry: _Storing, reply: Msg) -> None:
        status = (reply.headers or {}).get("Status")
        if status == "503" and not entry.retried:
            # Nobody stores results: the bucket is missing (a fresh or wiped server). Create it, send again.
            await bucket(self._js, subjects.RESULTS_BUCKET)
            entry.retried = True
            await self._send(entry)
            return
        if status:
            log.error("result not stored; the task will be redelivered", task=entry.task_id, status=status)
            return
        try:
            ack = _decode_ack(reply.data)
        except msgspec.DecodeError as exc:
            log.error("unreadable answer storing a result; the task will be redelivered", error=str(exc))
            return
        if ack.error is not None:
            if ack.error.err_code != WRONG_LAST_SEQUENCE:
                log.error(
                    "result not stored; the task will be redelivered",
                    task=entry.task_id,
                    error=ack.error.description,
                )
                return
            log.info("result already stored by another delivery", task=entry.task_id)
        elif entry.ok:
            self.completed += 1
        else:
            self.failed += 1
        await entry.task.ack()

    def forget_older_than(self, age: float) -> None:
        """Give up on results unconfirmed for ``age`` seconds (NATS lost them): JetStream redelivers their
        tasks."""
        cutoff = time.monotonic() - age
        stale = [token for token, entry in self._storing.items() if entry.since < cutoff]
        for token in stale:
            log.warning("no confirmation that a result was stored; the task will be redelivered",
                        task=self._storing.pop(token).task_id)  # fmt: skip
        if not self._storing:
            self._settled.set()

    async def settle(self, timeout: float) -> bool:
        """Wait until every result sent is confirmed (and its task acked); False if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
