"""Fixtures shared by every tier: a private nats-server per test, NATS clients, and the waiting helper
(``eventually``, shared with the benchmarks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from agentscaler.shared.bus.server import EmbeddedServer, free_port
from bench.waiting import eventually

__all__ = ["eventually"]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A nats-server with JetStream on a free port, its store in the test's temp dir, ready when yielded."""
    server = EmbeddedServer(tmp_path / "nats", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, name="test", max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield client
    await client.close()
