"""The embedded nats-server's keeper (``agentscaler run``): a real server killed with SIGKILL is restarted on
its port with its store; one that keeps dying ends the keeper with an error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from agentscaler.services.cli.server_watch import RestartPolicy, ServerKeepsDying, watch_server
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from tests.conftest import eventually

FAST = RestartPolicy(max_restarts=2, window=60.0, first_delay=0.05, max_delay=0.2)


async def _kill(server: EmbeddedServer) -> None:
    assert server.proc is not None
    server.proc.kill()
    await asyncio.to_thread(server.proc.wait)


async def _answers(url: str) -> bool:
    nc = await nats.connect(url, connect_timeout=1, allow_reconnect=False)
    try:
        await nc.flush(timeout=1)
    finally:
        await nc.close()
    return True


async def test_a_killed_server_comes_back_on_its_port_with_its_store(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "nats", port=free_port())
    server.start()
    stop = asyncio.Event()
    keeper = asyncio.create_task(watch_server(server, FAST)(stop))
    try:
        nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
        kv = await nc.jetstream().create_key_value(bucket="kept")
        await kv.put("k", b"before")
        first = server.proc
        await _kill(server)
        await eventually(lambda: server.alive() and server.proc is not first, what="a new server process")
        await eventually(lambda: _answers(server.url), what="the restarted server to answer")
        entry = await eventually(lambda: kv.get("k"), what="the store kept across the restart")
        assert entry.value == b"before"
        assert not keeper.done()
        await nc.close()
    finally:
        stop.set()
        await asyncio.wait_for(keeper, 5)
        server.stop()
    assert first is not None and first.returncode == -9  # reaped: no zombie left behind


async def test_a_server_that_keeps_dying_ends_the_keeper_with_an_error(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "nats", port=free_port())
    server.start()
    stop = asyncio.Event()
    keeper = asyncio.create_task(watch_server(server, FAST)(stop))
    try:
        for _ in range(FAST.max_restarts):
            dead = server.proc
            await _kill(server)
            await eventually(lambda: server.alive() and server.proc is not dead, what="a restart")  # noqa: B023
        await _kill(server)
        with pytest.raises(ServerKeepsDying, match="died 3 times"):
            await asyncio.wait_for(keeper, 10)
        assert not server.alive()
    finally:
        stop.set()
        server.stop()


async def test_with_no_restarts_allowed_the_first_death_ends_the_keeper(tmp_path: Path) -> None:
    """``run --server-restarts 0``: not restarted, and the error says why."""
    server = EmbeddedServer(tmp_path / "nats", port=free_port())
    server.start()
    stop = asyncio.Event()
    keeper = asyncio.create_task(watch_server(server, RestartPolicy.of(0, 0.05))(stop))
    try:
        await _kill(server)
        with pytest.raises(ServerKeepsDying, match="server_restarts is 0: not restarted"):
            await asyncio.wait_for(keeper, 5)
        assert not server.alive()
    finally:
        stop.set()
        server.stop()


async def test_a_server_with_a_configuration_restarts_with_it(tmp_path: Path) -> None:
    """The configuration (here a token) is given to the restarted server too."""
    server = EmbeddedServer(tmp_path / "nats", port=free_port(), config='authorization { token: "s3cret" }')
    server.start()
    stop = asyncio.Event()
    keeper = asyncio.create_task(watch_server(server, FAST)(stop))
    try:
        first = server.proc
        await _kill(server)
        await eventually(lambda: server.alive() and server.proc is not first, what="a restart")
        url = f"nats://s3cret@127.0.0.1:{server.port}"
        await eventually(lambda: _answers(url), what="the token accepted")
        with pytest.raises(nats.errors.Error):
            await _answers(server.url)  # anonymous: refused, as before the restart
    finally:
        stop.set()
        await asyncio.wait_for(keeper, 5)
        server.stop()
