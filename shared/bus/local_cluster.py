"""A NATS cluster of embedded servers on one machine (loopback, free ports): for the tests and for demos of
agentscaler on a cluster. Also the wait for a cluster's JetStream to be usable, which ``agentscaler run`` uses
for a node it starts."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors

from .server import CLUSTER_NAME, EmbeddedServer, ServerError


@dataclass
class LocalCluster:
    servers: list[EmbeddedServer]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: what clients are given."""
        return ",".join(server.url for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (each held until all are chosen, so none is picked twice)."""
    with ExitStack() as held:
        ports = []
        for _ in range(count):
            s = held.enter_context(socket.socket())
            s.bind((host, 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def start_cluster(
    base_dir: Path, size: int = 3, *, host: str = "127.0.0.1", name: str = CLUSTER_NAME, timeout: float = 30.0
) -> LocalCluster:
    """Start ``size`` nodes, each with its store under ``base_dir/node<i>``, every one routed to all, and
    return once JetStream answers (a meta leader is elected). Call it from synchronous code."""
    ports = free_ports(2 * size, host)
    routes = [f"nats://{host}:{port}" for port in ports[size:]]
    servers = [
        EmbeddedServer(
            base_dir / f"node{i}",
            port=ports[i],
            host=host,
            cluster_port=ports[size + i],
            routes=routes,
            cluster_name=name,
            server_name=f"{name}-{i}",
        )
        for i in range(size)
    ]
    cluster = LocalCluster(servers)
    try:
        for server in servers:
            server.start()
        asyncio.run(jetstream_ready(cluster.url, timeout))
    except BaseException:
        cluster.stop()
        raise
    return cluster


async def jetstream_ready(url: str, timeout: float) -> None:
    """Wait until JetStream at ``url`` (a server list) answers an account info request: on a cluster, once its
    nodes have elected a meta leader, which takes a majority of them."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            nc = await nats.connect(url.split(","), connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=1)
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            last = str(exc) or type(exc).__name__
            await asyncio.sleep(0.2)
            continue
        try:
            while time.monotonic() < deadline:
                try:
                    await nc.jetstream().account_info()
                    return
                except (TimeoutError, nats.errors.Error) as exc:
                    last = str(exc) or type(exc).__name__
                    await asyncio.sleep(0.1)
        finally:
            with suppress(nats.errors.Error, TimeoutError):
                await nc.close()
    raise ServerError(
        f"JetStream at {url} did not answer within {timeout:g}s ({last}): a cluster needs a majority of its nodes "
        "up and routed to each other to elect a meta leader"
    )
