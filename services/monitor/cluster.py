"""The cluster section of a status reply: the NATS servers the monitor knows, and the replicas and leader of
each of agentscaler's streams and buckets (their stream info's ``cluster`` field)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket_names
from agentscaler.shared.bus.options import redact_url
from agentscaler.shared.messages.cluster import ClusterView, StreamReplicas

log = structlog.get_logger()

INFO_TIMEOUT = 2.0
"""Seconds a stream's info may take: a status reply waits for the slowest."""


def streams_of(pools: Iterable[str]) -> list[str]:
    """agentscaler's streams: the buckets', the history and audit streams, and each pool's task queue."""
    buckets = [f"KV_{name}" for name in bucket_names()]
    return [*buckets, subjects.HISTORY_STREAM, subjects.AUDIT_STREAM, *(subjects.task_stream(p) for p in pools)]


def stream_replicas(info: StreamInfo) -> StreamReplicas:
    """A stream's copies and leader, from its info."""
    cluster = info.cluster
    followers = (cluster.replicas or []) if cluster else []
    leader = (cluster.leader or "") if cluster else ""
    return StreamReplicas(
        stream=str(info.config.name),
        replicas=info.config.num_replicas or 1,
        leader=leader,
        current=(1 if leader else 0) + sum(1 for peer in followers if peer.current and not peer.offline),
    )


async def cluster_view(nc: Client, pools: Iterable[str], replicas: int) -> ClusterView:
    """What the monitor's connection and JetStream say of the cluster now. A stream that does not exist yet, or
    whose info does not come in time, is left out."""
    infos = await asyncio.gather(*(_info(nc, name) for name in streams_of(sorted(pools))))
    found = [info for info in infos if info is not None]
    connected = nc.connected_url
    return ClusterView(
        name=next((i.cluster.name for i in found if i.cluster and i.cluster.name), ""),
        connected=redact_url(connected.geturl()) if connected else "",
        server=str(getattr(nc, "_server_info", {}).get("server_name", "")),  # nats-py keeps the INFO privately
        servers=sorted({redact_url(url.geturl()) for url in nc.servers}),
        replicas=replicas,
        streams=[stream_replicas(info) for info in found],
    )


async def _info(nc: Client, stream: str) -> StreamInfo | None:
    try:
        return await asyncio.wait_for(nc.jetstream().stream_info(stream), INFO_TIMEOUT)
    except NotFoundError:
        return None
    except (TimeoutError, nats.errors.Error) as exc:
        log.debug("no stream info for status", stream=stream, error=str(exc) or type(exc).__name__)
        return None
