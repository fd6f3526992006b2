"""JetStream resources: the KV buckets and the per-pool task streams, created idempotently."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from .. import subjects
from ..codec import BadMessage, decode, encode
from ..messages.pools import PoolConfig
from .history import ensure_stream
from .replicas import checked, raise_replicas, replicas, settled

T = TypeVar("T")

log = structlog.get_logger()

AGENT_CAPACITY = 10_000
"""Pull requests and unacknowledged tasks a pool's consumer admits: far above the 2000 agents a pool must
carry (the server defaults of 512 waiting pulls and 1000 pending acks fail silently above them)."""

_BUCKETS: dict[str, dict[str, Any]] = {
    subjects.POOLS_BUCKET: {"history": 5},
    subjects.DESIRED_BUCKET: {"history": 10},
    subjects.AGENTS_BUCKET: {"history": 1},
    subjects.OPTIMIZE_BUCKET: {"history": 5},
    # direct: a result is read by a subject naming its key, so permissions can limit whose results one reads
    subjects.RESULTS_BUCKET: {"history": 1, "ttl": 7 * 24 * 3600.0, "direct": True},
    subjects.HOSTS_BUCKET: {"history": 1},
    subjects.CORDONS_BUCKET: {"history": 5},
    subjects.ATTEMPTS_BUCKET: {"history": 1, "ttl": 7 * 24 * 3600.0, "direct": True},
    subjects.DEATHS_BUCKET: {"history": 1, "ttl": 24 * 3600.0, "direct": True},
    # no ttl: a lease's expiry is its holder's own ``ttl``, judged by compare-and-set (shared/bus/lease.py)
    subjects.LEASES_BUCKET: {"history": 1},
}


def bucket_names() -> list[str]:
    """Every KV bucket agentscaler uses."""
    return list(_BUCKETS)


async def bucket(js: JetStreamContext, name: str) -> KeyValue:
    """Open one of agentscaler's KV buckets, creating it on first use; one made with fewer replicas than the
    setting asks is given them (``replicas.py``)."""
    stream = f"KV_{name}"
    try:
        kv = await js.key_value(name)
    except BucketNotFoundError:
        kv = await checked(lambda: js.create_key_value(config=bucket_config(name)), stream, replicas())
        if replicas() > 1:
            await settled(js, stream)
        return kv
    except nats.errors.TimeoutError:  # just made elsewhere with several replicas: no leader yet
        await settled(js, stream)
        kv = await js.key_value(name)
    if replicas() > 1:
        await raise_replicas(js, stream)
    return kv


def bucket_config(name: str) -> KeyValueConfig:
    return KeyValueConfig(bucket=name, storage=StorageType.FILE, replicas=replicas(), **_BUCKETS[name])


async def get_struct(kv: KeyValue, key: str, kind: type[T]) -> tuple[T, int] | None:
    """The decoded value and revision under ``key``, or None when absent or deleted."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    if entry.value is None or entry.operation in ("DEL", "PURGE"):
        return None
    return decode(kind, entry.value), entry.revision or 0


async def put_struct(kv: KeyValue, key: str, value: Any) -> int:
    return await kv.put(key, encode(value))


def stream_config(pool: str) -> StreamConfig:
    return StreamConfig(
        name=subjects.task_stream(pool),
        subjects=[subjects.task_subject(pool)],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        description=f"agentscaler task queue of pool {pool}",
        num_replicas=replicas(),
    )


def consumer_config(pool: PoolConfig) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=subjects.TASK_CONSUMER,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=pool.ack_wait,
        max_deliver=-1,
        max_waiting=AGENT_CAPACITY,
        # Room for twice every agent's prefetch (the batch it works through, the next one it pulls, and the
        # results in between awaiting their acks): a consumer at its limit hands out tasks one at a time as
        # acks come in, one per waiting agent, and prefetching agents then wake once per task after all.
        max_ack_pending=max(AGENT_CAPACITY, 2 * pool.max_agents * pool.prefetch),
        description=f"agents of pool {pool.name} (attempts are counted by the agents: max {pool.max_attempts})",
    )


async def ensure_task_queue(js: JetStreamContext, pool: PoolConfig) -> None:
    """Create or update the pool's work-queue stream and its shared durable pull consumer."""
    config = stream_config(pool.name)
    await ensure_stream(js, config)
    await js.add_consumer(config.name or "", consumer_config(pool))


async def task_queue_exists(js: JetStreamContext, pool: str) -> bool:
    try:
        await js.stream_info(subjects.task_stream(pool))
    except NotFoundError:
        return False
    return True


async def mirror(kv: KeyValue, kind: type[T], into: dict[str, T], on_change: Callable[[], None]) -> None:
    """Keep ``into`` equal to the bucket's decoded contents (until cancelled), calling ``on_change`` after
    each change. Entries that do not decode are logged and skipped."""
    watcher = await kv.watchall()
    try:
        async for entry in watcher:
            if entry is None:
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                into.pop(entry.key, None)
            else:
                try:
                    into[entry.key] = decode(kind, entry.value)
                except BadMessage as exc:
                    log.warning("ignoring unreadable KV entry", bucket=entry.bucket, key=entry.key, error=str(exc))
                    continue
            on_change()
    finally:
        with suppress(Exception):
            await watcher.stop()
