"""Giving up on a NATS connection that has not come: its task ends even if it loses a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from agentscaler.shared.bus.connection import cancel_until_done, connect_service

pytestmark = pytest.mark.asyncio


async def test_a_swallowed_cancellation_is_repeated_until_the_task_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed < 2:  # as asyncio.wait_for on 3.11 can, when its future completes meanwhile
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_until_done(task), timeout=5)
    assert task.cancelled() and swallowed == 2


async def test_a_service_stopped_while_waiting_for_nats_gets_no_connection() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(connect_service("nats://127.0.0.1:1", "test", stop))
    await asyncio.sleep(0.3)
    stop.set()
    assert await asyncio.wait_for(waiting, timeout=5) is None
