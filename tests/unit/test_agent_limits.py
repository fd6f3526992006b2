"""The task deadline in-process: a handler's answer or error passes through; one that awaits forever, swallows
the cancellation or blocks the event loop ends in ``TaskTimedOut``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from agentscaler.services.agent.limits import BLOCKED_GRACE, Deadlines, TaskTimedOut, memory_error
from tests import limit_handlers


async def double(payload: Any) -> Any:
    await asyncio.sleep(0)
    return payload * 2


async def broken(payload: Any) -> Any:
    raise ValueError(payload)


async def test_an_answer_or_an_error_within_the_deadline_passes_through() -> None:
    deadlines = Deadlines()
    assert await deadlines.run(double, 21, 5.0) == 42
    with pytest.raises(ValueError, match="oops"):
        await deadlines.run(broken, "oops", 5.0)


async def test_an_awaiting_handler_times_out_at_its_deadline() -> None:
    began = time.monotonic()
    with pytest.raises(TaskTimedOut, match=r"^timed out after 0\.2 s$"):
        await Deadlines().run(limit_handlers.hang, {}, 0.2)
    assert 0.2 <= time.monotonic() - began < 0.2 + BLOCKED_GRACE


async def test_a_handler_swallowing_the_cancellation_times_out_at_its_deadline_all_the_same() -> None:
    release = asyncio.Event()
    left: list[bool] = []

    async def stubborn(payload: Any) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await release.wait()  # in a real agent, forever (the agent exits without it)
            left.append(True)

    began = time.monotonic()
    with pytest.raises(TaskTimedOut, match=r"^timed out after 0\.2 s$"):
        await Deadlines().run(stubborn, {}, 0.2)
    assert 0.2 <= time.monotonic() - began < 0.2 + BLOCKED_GRACE
    assert not left  # it was left running
    release.set()
    await asyncio.sleep(0)
    assert left


async def test_a_handler_blocking_the_loop_is_interrupted_past_its_deadline() -> None:
    deadlines = Deadlines()
    began = time.monotonic()
    with pytest.raises(TaskTimedOut, match=r"^timed out after 0\.1 s$"):
        await deadlines.run(limit_handlers.block, {}, 0.1)
    assert 0.1 + BLOCKED_GRACE <= time.monotonic() - began < 0.1 + 2 * BLOCKED_GRACE
    assert await deadlines.run(double, 1, 5.0) == 2  # the alarm is disarmed: the next task runs in peace


def test_the_out_of_memory_error_names_the_limit() -> None:
    assert memory_error(64) == "out of memory (limit 64 MiB)"
    assert memory_error(0) == "out of memory"
