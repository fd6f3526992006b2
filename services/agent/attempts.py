"""Counting a task's attempts where a crash of the server cannot undo them.

JetStream's delivery count (``num_delivered``) lives in the consumer's state, which nats-server writes to
disk at most ten times a second. A server killed (or crashing) forgets the deliveries of its last instants:
once back it hands those tasks out again as if new, ``num_delivered`` 1, while the agents that held them
may still be running them. So each agent also counts the starts of a task in the attempts bucket (key
``<pool>.<task id>``, an ASCII integer, then a space and the id of the agent that made the last start; older
agents wrote the integer alone): a create for a first delivery, sent a few milliseconds into its run without
waiting (the count comes back while the task runs; a task done sooner costs no write), and an update on top
of what is there when the create finds a count already. A task's attempt is the higher of the two counts.
The bucket's writes reach the disk within milliseconds, the consumer's state within 100 ms: the count is not
perfect, but a crash has to fall into a far narrower window to undo it.

The update reads the value it replaces, and with it the agent that started the task before: an agent that
gives up on a task names why that one died (``deaths.py``), for no write and no read more than the count's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any, TypeVar

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket

from .results import CREATE_ONLY, WRONG_LAST_SEQUENCE

log = structlog.get_logger()

T = TypeVar("T")

WAIT = 2.0
"""Seconds to wait for a count before going by JetStream's (NATS is away: the result waits anyway)."""

REMEMBERED = 1024
"""Counts in flight an agent keeps (older ones, of tasks it handed back, are dropped)."""

COUNT_AFTER = 0.005
"""Seconds into a first delivery's run when it is counted: a task done sooner costs no write."""

NOT_COUNTED = (nats.errors.Error, TimeoutError)


class _Error(msgspec.Struct):
    err_code: int = 0


class _PubAck(msgspec.Struct):
    error: _Error | None = None


_decode_ack = msgspec.json.Decoder(_PubAck).decode


class Attempts:
    def __init__(self, nc: Client, js: JetStreamContext, pool: str, agent_id: str = "") -> None:
        self._nc = nc
        self._js = js
        self._pool = pool
        self._agent_id = agent_id
        self._kv: KeyValue | None = None
        self._reply_prefix = nc.new_inbox() + "."
        self._sub: Subscription | None = None
        self._serial = 0
        self._sent: dict[str, tuple[str, int, asyncio.Future[int]]] = {}
        """Reply token -> (task id, JetStream's delivery count, its count) of creates awaiting their answer."""
        self._counts: dict[str, asyncio.Future[int]] = {}
        """Task id -> its attempt once counted."""
        self._due: dict[str, asyncio.TimerHandle] = {}
        """Task id -> when its first delivery is to be counted."""
        self._previous: dict[str, str] = {}
        """Task id -> the agent that made its start before this one, where its count named it."""
        self._background: set[asyncio.Task[None]] = set()
        self._opening: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the bucket in the background (the agent does not wait for it); until it is open, or without
        it (e.g. a server that does not let this agent use it), JetStream's count is the only one."""
        self._sub = await self._nc.subscribe(self._reply_prefix + "*", cb=self._on_reply)
        self._opening = asyncio.create_task(self._open())

    async def _open(self) -> None:
        try:
            self._kv = await bucket(self._js, subjects.ATTEMPTS_BUCKET)
        except NOT_COUNTED as exc:
            log.warning("attempts counted by JetStream only (its count can fall back after a crash)", error=str(exc))

    async def begin(self, task_id: str, delivered: int) -> int:
        """Count a start of ``task_id``, JetStream's ``delivered``-th delivery; returns the attempt as known
        now. A redelivery is counted at once and waits for its count (which decides whether the task runs
        again). A first delivery is counted ``COUNT_AFTER`` seconds into its run, without waiting, and
        :meth:`final` gives its count once it has run; a task done sooner is not counted at all (it is
        over before a crash could make the server forget it)."""
        if self._kv is None and self._opening is not None and not self._opening.done():
            await asyncio.wait({self._opening}, timeout=WAIT)  # the agent's first task: not for long
        if self._kv is None:
            return delivered
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        _remember(self._counts, task_id, future)
        if delivered > 1:
            await self._send(task_id, delivered, future)
            return await self.final(task_id, delivered)
        timer = asyncio.get_running_loop().call_later(COUNT_AFTER, self._send_later, task_id, delivered, future)
        _remember(self._due, task_id, timer)
        return delivered

    def previous_agent(self, task_id: str) -> str:
        """The agent that started ``task_id`` before this run, as the count of a redelivery found it; "" when
        not known (a first delivery, a start not counted, or a count written by an older agent)."""
        return self._previous.get(task_id, "")

    async def final(self, task_id: str, attempt: int) -> int:
        """The attempt of the task's current run: the counted one if higher than ``attempt``."""
        self._previous.pop(task_id, None)
        future = self._counts.pop(task_id, None)
        timer = self._due.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        if future is None or (timer is not None and not future.done()):
            return attempt
        try:
            return max(attempt, await asyncio.wait_for(asyncio.shield(future), WAIT))
        except TimeoutError:
            return attempt

    def _send_later(self, task_id: str, delivered: int, future: asyncio.Future[int]) -> None:
        if self._due.pop(task_id, None) is None:
            return
        self._spawn(self._send(task_id, delivered, future))

    async def _send(self, task_id: str, delivered: int, future: asyncio.Future[int]) -> None:
        """A create-only write of ``delivered``; the answer comes to :meth:`_on_reply`."""
        self._serial += 1
        token = str(self._serial)
        _remember(self._sent, token, (task_id, delivered, future))
        subject = subjects.attempts_subject(self._pool, task_id)
        try:
            value = attempt_value(delivered, self._agent_id)
            await self._nc.publish(subject, value, reply=self._reply_prefix + token, headers=CREATE_ONLY)
        except NOT_COUNTED:
            self._sent.pop(token, None)
            if not future.done():
                future.set_result(delivered)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        if self._sub is not None:
            with suppress(*NOT_COUNTED):
                await self._sub.unsubscribe()
            self._sub = None
        for timer in self._due.values():
            timer.cancel()
        for task in [*self._background, *([self._opening] if self._opening else [])]:
            task.cancel()

    async def _on_reply(self, reply: Msg) -> None:
        sent = self._sent.pop(reply.subject[len(self._reply_prefix) :], None)
        if sent is None:
            return
        task_id, delivered, future = sent
        if future.done():
            return
        try:
            ack = None if (reply.headers or {}).get("Status") else _decode_ack(reply.data)
        except msgspec.DecodeError:
            ack = None
        if ack is not None and ack.error is not None and ack.error.err_code == WRONG_LAST_SEQUENCE:
            self._spawn(self._recount(task_id, delivered, future))  # not in this callback
            return
        if ack is None or ack.error is not None:
            log.warning("attempt not counted; going by JetStream's count", task=task_id)
        future.set_result(delivered)

    async def _recount(self, task_id: str, delivered: int, future: asyncio.Future[int]) -> None:
        """The task was started before: write the count up by one (or to ``delivered`` if higher)."""
        assert self._kv is not None
        key = subjects.result_key(self._pool, task_id)
        attempt = delivered
        try:
            for _ in range(5):  # a lost race with another agent's update: read again
                try:
                    entry = await self._kv.get(key)
                except KeyNotFoundError:  # expired or deleted meanwhile: start over
                    entry = None
                try:
                    if entry is None:
                        await self._kv.create(key, attempt_value(delivered, self._agent_id))
                        break
                    count, previous = parse_attempt(entry.value)
                    attempt = max(count + 1, delivered)
                    await self._kv.update(key, attempt_value(attempt, self._agent_id), last=entry.revision)
                    if previous:
                        _remember(self._previous, task_id, previous)
                    break
                except KeyWrongLastSequenceError:
                    continue
        except NOT_COUNTED as exc:
            log.warning("attempt not counted; going by JetStream's count", task=task_id, error=str(exc))
        finally:
            if not future.done():
                future.set_result(attempt)


def _remember(table: dict[str, T], key: str, value: T) -> None:
    """Put ``key`` last in ``table``, dropping the oldest entries beyond ``REMEMBERED`` (those of tasks this
    agent handed back, or answers lost with a connection)."""
    table.pop(key, None)
    table[key] = value
    while len(table) > REMEMBERED:
        table.pop(next(iter(table)))


def attempt_value(count: int, agent_id: str) -> bytes:
    """The attempts bucket's value: ``count``, then the agent that made that start (if it has an id)."""
    return f"{count} {agent_id}".encode() if agent_id else str(count).encode()


def parse_attempt(value: bytes | None) -> tuple[int, str]:
    """(count, agent id) of an attempts bucket value; an older agent's bare count names no agent (""), and a
    value that does not read counts 0."""
    count, _, agent = (value or b"").decode(errors="replace").strip().partition(" ")
    try:
        return max(int(count or "0"), 0), agent.strip()
    except ValueError:
        return 0, ""
