"""Streams and buckets get the ``replicas`` setting on a real cluster: new ones are made with it, older ones
with fewer copies are raised to it (never lowered), and more copies than servers is a clear error."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.bus import replicas as replicas_module
from agentscaler.shared.bus.connection import service_connection
from agentscaler.shared.bus.history import ensure_history
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue
from agentscaler.shared.bus.local_cluster import LocalCluster
from agentscaler.shared.bus.replicas import ReplicasError, replicas_of
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.settings import CommonSettings

pytestmark = pytest.mark.asyncio

POOLS = f"KV_{subjects.POOLS_BUCKET}"


async def copies(nc: Client, stream: str) -> int:
    return (await nc.jetstream().stream_info(stream)).config.num_replicas or 1


async def test_a_cluster_gets_three_copies_and_older_streams_are_raised(
    nats_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replicas_module, "PLACEMENT_WAIT", 0.5)  # too many replicas: refused soon, not in a minute
    nc = await nats.connect(nats_cluster.url.split(","))
    js = nc.jetstream()
    try:
        with replicas_of(1):  # made before the setting: one copy each
            await bucket(js, subjects.POOLS_BUCKET)
            await ensure_task_queue(js, PoolConfig(name="old"))
        stop = asyncio.Event()
        async with service_connection(CommonSettings(nats_url=nats_cluster.url, replicas=3), "test", stop) as svc:
            assert svc is not None
            sjs = svc.jetstream()
            # Raising takes seconds (JetStream copies each stream and elects its leader anew): both at once.
            await asyncio.gather(bucket(sjs, subjects.POOLS_BUCKET), ensure_task_queue(sjs, PoolConfig(name="old")))
            await bucket(sjs, subjects.DESIRED_BUCKET)
            await ensure_history(sjs, 3600.0, 1 << 20)
        for stream in (POOLS, f"KV_{subjects.DESIRED_BUCKET}", subjects.task_stream("old"), subjects.HISTORY_STREAM):
            assert await copies(nc, stream) == 3, stream
        with replicas_of(1):  # a service without the setting takes no copy away
            await bucket(js, subjects.POOLS_BUCKET)
            await ensure_task_queue(js, PoolConfig(name="old"))
        assert (await copies(nc, POOLS), await copies(nc, subjects.task_stream("old"))) == (3, 3)
        with replicas_of(5), pytest.raises(ReplicasError, match=r"setting replicas \(AGENTSCALER_REPLICAS\)"):
            await bucket(js, subjects.AGENTS_BUCKET)
    finally:
        await nc.close()


async def test_replicas_on_a_single_server_is_a_clear_error(nc: Client) -> None:
    js = nc.jetstream()
    with replicas_of(3):
        with pytest.raises(ReplicasError, match="must be at most the number of JetStream servers"):
            await bucket(js, subjects.POOLS_BUCKET)
        with pytest.raises(ReplicasError, match="agentscaler-tasks-p 3 replicas"):
            await ensure_task_queue(js, PoolConfig(name="p"))
    await bucket(js, subjects.POOLS_BUCKET)  # one copy: fine
