"""The history stream: decisions and demand samples, kept for a bounded time and size, read back by time."""

from __future__ import annotations

import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from agentscaler.shared import subjects

from .replicas import checked, replicas, settled, wanted

READ_BATCH = 1000


def bounded_stream(name: str, captured: list[str], max_age: float, max_bytes: int, description: str) -> StreamConfig:
    """A stream on disk kept for ``max_age`` seconds within ``max_bytes``, the oldest messages dropped first."""
    return StreamConfig(
        name=name,
        subjects=captured,
        storage=StorageType.FILE,
        max_age=max_age,
        max_bytes=max_bytes,
        discard=DiscardPolicy.OLD,
        description=description,
        num_replicas=replicas(),
    )


def history_config(max_age: float, max_bytes: int) -> StreamConfig:
    captured = [f"{subjects.DECISIONS}.>", f"{subjects.HISTORY}.>"]
    return bounded_stream(
        subjects.HISTORY_STREAM, captured, max_age, max_bytes, "agentscaler decisions and auto pools' demand samples"
    )


async def ensure_history(js: JetStreamContext, max_age: float, max_bytes: int) -> None:
    """Create the history stream, or bring its limits to these."""
    await ensure_stream(js, history_config(max_age, max_bytes))


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream of ``config``, or bring its settings to these (its replicas raised to the setting,
    never lowered: ``replicas.py``). Too many replicas for the cluster: :class:`ReplicasError`."""
    name = str(config.name)
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await checked(lambda: js.add_stream(config), name, replicas())
        if replicas() > 1:
            await settled(js, name)
        return
    have = info.config.num_replicas or 1
    config.num_replicas = wanted(have)
    await checked(lambda: js.update_stream(config), name, config.num_replicas)
    if config.num_replicas > have:
        await settled(js, name)


async def read_history(js: JetStreamContext, subject: str, since: float, limit: int = 500_000) -> list[Msg]:
    """Messages on ``subject`` (wildcards allowed) recorded at or after ``since`` (epoch seconds), oldest
    first, at most the ``limit`` newest of them; none when the stream does not exist yet."""
    return await read_since(js, subjects.HISTORY_STREAM, subject, since, limit)


async def read_since(js: JetStreamContext, stream: str, subject: str, since: float, limit: int) -> list[Msg]:
    """Messages of ``stream`` on ``subject`` recorded at or after ``since``: as :func:`read_history`."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=datetime.datetime.fromtimestamp(since, tz=datetime.UTC),  # type: ignore[arg-type]
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    try:
        sub = await js.pull_subscribe(subject, stream=stream, config=config)
    except NotFoundError:
        return []
    try:
        remaining = (await sub.consumer_info()).num_pending or 0
        skip = max(remaining - limit, 0)
        out: list[Msg] = []
        while remaining > 0:
            batch = await sub.fetch(min(remaining, READ_BATCH), timeout=5.0)
            remaining -= len(batch)
            if skip:
                dropped = min(skip, len(batch))
                batch, skip = batch[dropped:], skip - dropped
            out.extend(batch)
        return out
    finally:
        await sub.unsubscribe()
