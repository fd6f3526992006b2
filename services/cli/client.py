"""The CLI's NATS client: one connection per command, typed requests, clear errors."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from nats.aio.client import Client as Nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from agentscaler.shared import subjects
from agentscaler.shared.bus.agents import list_agents
from agentscaler.shared.bus.audit import read_audit
from agentscaler.shared.bus.connection import connect_once
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.bus.jetstream import bucket, get_struct, task_queue_exists
from agentscaler.shared.bus.options import Target, actor_of, as_settings
from agentscaler.shared.bus.replicas import replicas_of
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import AgentList
from agentscaler.shared.messages.audit import AuditRecord
from agentscaler.shared.messages.commands import (
    Command,
    CommandReply,
    GetPool,
    HostCommand,
    HostHeld,
    ListPools,
    PoolInfo,
    PoolList,
    Scale,
    Scaled,
    SetMode,
    SetPool,
)
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.optimize import Optimize, Optimized, OptimizeProgress
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot, StatusQuery
from agentscaler.shared.messages.tasks import TaskEnvelope, TaskResult
from agentscaler.shared.telemetry.tracing import inject


class UnknownPool(AgentscalerError):
    """The pool has no task queue; ``code`` is the policy's for an unknown pool."""

    code = "unknown_pool"


class Client:
    def __init__(self, nc: Nats, actor: str = "") -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.actor = actor
        """Who commands are sent as (``<subject>.as.<actor>``): the user the credentials name; empty for none."""

    def _as_actor(self, subject: str) -> str:
        return subjects.as_actor(subject, self.actor) if self.actor else subject

    async def command(self, cmd: Command) -> Any:
        subject = self._as_actor(subjects.command_subject(str(type(cmd).__struct_config__.tag)))
        return await request(self.nc, subject, cmd, CommandReply, timeout=10.0, what="policy service")

    async def scale(self, pool: str, direction: str, count: int) -> Scaled:
        reply: Scaled = await self.command(Scale(pool=pool, direction=direction, count=count))  # type: ignore[arg-type]
        return reply

    async def pool(self, pool: str) -> PoolInfo:
        reply: PoolInfo = await self.command(GetPool(pool=pool))
        return reply

    async def pools(self) -> PoolList:
        reply: PoolList = await self.command(ListPools())
        return reply

    async def hold(self, host: str, action: str) -> HostHeld:
        """Cordon, drain or uncordon ``host``."""
        reply: HostHeld = await self.command(HostCommand(host=host, action=action))  # type: ignore[arg-type]
        return reply

    async def set_mode(self, pool: str, mode: str, auto: AutoConfig | None = None) -> PoolInfo:
        reply: PoolInfo = await self.command(SetMode(pool=pool, mode=mode, auto=auto))  # type: ignore[arg-type]
        return reply

    async def audit(self, since: float, limit: int, kind: str = "*") -> list[AuditRecord]:
        """Audit records (of one kind, or all), oldest first, at most the ``limit`` newest."""
        return await read_audit(self.js, since, limit, kind)

    async def decisions(self, pool: str | None, since: float, limit: int) -> list[DecisionEvent]:
        """Recorded decisions (of one pool, or all), oldest first, at most the ``limit`` newest."""
        subject = subjects.decision_subject(pool or "*")
        return [decode(DecisionEvent, m.data) for m in await read_history(self.js, subject, since, limit)]

    async def set_pool(self, config: PoolConfig) -> PoolInfo:
        reply: PoolInfo = await self.command(SetPool(config=config))
        return reply

    async def optimize(
        self, cmd: Optimize, timeout: float, progress: Callable[[OptimizeProgress], None] | None = None
    ) -> Optimized:
        """Run an optimize search and wait up to ``timeout`` seconds for its report, calling ``progress`` with
        each progress event meanwhile."""

        async def on_progress(msg: Any) -> None:
            if progress is not None:
                with contextlib.suppress(BadMessage):
                    progress(decode(OptimizeProgress, msg.data))

        sub = await self.nc.subscribe(subjects.optimize_event_subject(cmd.pool), cb=on_progress)
        try:
            reply: Optimized = await request(
                self.nc, self._as_actor(subjects.OPTIMIZE), cmd, Optimized, timeout=timeout, what="policy service"
            )
        finally:
            await sub.unsubscribe()
        return reply

    async def status(self, pool: str | None = None) -> Snapshot:
        reply: Snapshot = await request(
            self.nc, subjects.STATUS, StatusQuery(pool=pool), Snapshot, timeout=5.0, what="monitor service"
        )
        return reply

    async def agents(self, pool: str | None = None) -> AgentList:
        """Every agent (of ``pool``), read page by page."""
        return AgentList(agents=await list_agents(self.nc, pool, timeout=5.0, what="registry service"))

    async def submit(self, pool: str, payloads: Sequence[Any], chunk: int = 256) -> list[str]:
        """Enqueue one task per payload; returns their ids once JetStream has stored every one."""
        subjects.check_name("pool", pool)
        if not await task_queue_exists(self.js, pool):
            raise UnknownPool(
                f"unknown pool {pool!r}: it has no task queue; create it with `agentscaler pool set {pool}`"
            )
        ids: list[str] = []
        for start in range(0, len(payloads), chunk):
            batch = payloads[start : start + chunk]
            batch_ids = [uuid.uuid4().hex for _ in batch]
            await asyncio.gather(*(self._publish(pool, tid, p) for tid, p in zip(batch_ids, batch, strict=True)))
            ids.extend(batch_ids)
        return ids

    async def _publish(self, pool: str, task_id: str, payload: Any) -> None:
        task = TaskEnvelope(id=task_id, pool=pool, payload=payload, submitted_at=time.time())
        headers = inject({"Nats-Msg-Id": task_id})
        await self.js.publish(subjects.task_subject(pool), encode(task), headers=headers)

    async def result(self, pool: str, task_id: str) -> TaskResult | None:
        kv = await bucket(self.js, subjects.RESULTS_BUCKET)
        try:
            found = await get_struct(kv, subjects.result_key(pool, task_id), TaskResult)
        except KeyNotFoundError:
            return None
        return None if found is None else found[0]

    async def wait_result(self, pool: str, task_id: str, timeout: float) -> TaskResult | None:
        """The task's result, waited for up to ``timeout`` seconds by a KV watch of its key (a consumer on the
        results bucket's stream filtered to the key, delivering its last value and then each new one); None if
        none came. The consumer is named, so its subject names the key and permissions can limit it to a pool;
        the server removes it once idle."""
        await bucket(self.js, subjects.RESULTS_BUCKET)
        config = ConsumerConfig(
            name=uuid.uuid4().hex,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
            mem_storage=True,
            num_replicas=1,
        )
        key = subjects.result_subject(pool, task_id)
        sub = await self.js.subscribe(key, stream=f"KV_{subjects.RESULTS_BUCKET}", config=config)
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await sub.next_msg(timeout=left)
                except NatsTimeout:
                    break
                if msg.data and (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
                    return decode(TaskResult, msg.data)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return None

    async def attempts(self, pool: str, task_id: str) -> int:
        """How many times agents started the task, as they counted in the attempts bucket (0: none counted yet;
        a task that finishes within milliseconds of its start may not be counted)."""
        try:
            kv = await self.js.key_value(subjects.ATTEMPTS_BUCKET)
            entry = await kv.get(subjects.result_key(pool, task_id))
        except (BucketNotFoundError, KeyNotFoundError):
            return 0
        count = (entry.value or b"").split(b" ", 1)[0]
        return int(count) if count.isdigit() else 0


@asynccontextmanager
async def connected(
    target: Target, on_error: Callable[[Exception], Awaitable[None]] | None = None
) -> AsyncIterator[Client]:
    """A client connected with ``target``: the connection settings, or a bare server URL list. ``on_error``
    hears the errors the server reports (permission violations). What it creates (the results bucket) gets
    the settings' ``replicas``."""
    settings = as_settings(target)
    actor = actor_of(settings)
    nc = await connect_once(target, "agentscaler-cli", on_error=on_error)
    try:
        with replicas_of(settings.replicas):
            yield Client(nc, actor)
    finally:
        await nc.close()
