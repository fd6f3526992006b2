"""Fixtures shared by every tier: a private nats-server per test, NATS clients, and waiting helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import nats
import pytest
from nats.aio.client import Client

from agentscaler.shared.bus.server import EmbeddedServer, free_port

T = TypeVar("T")


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


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns a truthy value (returned) or raise after ``timeout`` with the last
    value or error, so a failure says what was seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await probe()
        except Exception as exc:  # keep polling; the last error is reported
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)
