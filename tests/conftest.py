"""Fixtures shared by every tier: a private nats-server per test, NATS clients, and the waiting helper
(``eventually``, shared with the benchmarks)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis.internal.observability  # noqa: F401 - see below
import nats
import pytest
from nats.aio.client import Client

from agentscaler.shared.bus.local_cluster import LocalCluster, start_cluster
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from bench.waiting import eventually

__all__ = ["eventually"]

# CPython 3.11's ast.parse raises "SystemError: AST constructor recursion depth mismatch" when a finalizer runs
# Python code in the middle of it (an asyncio transport of an ended test's loop, collected by the GC). Hypothesis
# parses source at times (lambdas in its reports; its end-of-run summary imports the module above, now imported
# here once): the garbage of tests that run services and subprocesses is collected at their teardown instead.


@pytest.fixture(autouse=True)
def _collect_garbage_of_io_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "unit" not in request.node.path.parts:
        gc.collect()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A nats-server with JetStream on a free port, its store in the test's temp dir, ready when yielded."""
    server = EmbeddedServer(tmp_path / "nats", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A 3-node nats-server cluster with JetStream on loopback (free ports), ready (a meta leader elected) when
    yielded; ``.url`` lists the three nodes."""
    cluster = start_cluster(tmp_path / "cluster", 3)
    yield cluster
    cluster.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url, name="test", max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield client
    await client.close()
