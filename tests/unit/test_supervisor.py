"""The process supervisor with plain Events and tiny coroutines: no sleep here is longer than 0.05 s."""

from __future__ import annotations

import asyncio

import pytest

from agentscaler.shared.supervisor import supervise, wait_or_stop

LIMIT = 2.0
"""Seconds before a test gives up on supervise(); it should return in milliseconds."""


def waiter(log: list[str], name: str):
    async def root(stop: asyncio.Event) -> None:
        await stop.wait()
        log.append(f"{name} stopped")

    return root


async def run(roots, stop: asyncio.Event, grace: float = 1.0) -> int:
    return await asyncio.wait_for(supervise(roots, stop, grace=grace), LIMIT)


async def test_clean_stop_returns_0_after_every_root_returns():
    stop, log = asyncio.Event(), []

    async def stopper(stop: asyncio.Event) -> None:
        await asyncio.sleep(0)
        stop.set()

    assert await run({"a": waiter(log, "a"), "b": waiter(log, "b"), "stopper": stopper}, stop) == 0
    assert sorted(log) == ["a stopped", "b stopped"]


async def test_stop_set_before_start_returns_0():
    stop, log = asyncio.Event(), []
    stop.set()
    assert await run({"a": waiter(log, "a")}, stop) == 0
    assert log == ["a stopped"]


async def test_roots_that_finish_on_their_own_are_a_clean_exit():
    async def done(stop: asyncio.Event) -> None:
        return None

    assert await run({"a": done, "b": done}, asyncio.Event()) == 0


async def test_a_failing_root_stops_the_others_and_returns_1():
    stop, log = asyncio.Event(), []

    async def broken(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    assert await run({"broken": broken, "a": waiter(log, "a"), "b": waiter(log, "b")}, stop) == 1
    assert stop.is_set()
    assert sorted(log) == ["a stopped", "b stopped"]


async def test_a_root_failing_while_stopping_returns_1():
    stop = asyncio.Event()

    async def fails_on_stop(stop: asyncio.Event) -> None:
        await stop.wait()
        raise RuntimeError("cleanup failed")

    async def stopper(stop: asyncio.Event) -> None:
        stop.set()

    assert await run({"a": fails_on_stop, "stopper": stopper}, stop) == 1


async def test_a_root_ignoring_stop_is_cancelled_after_grace():
    stop, log = asyncio.Event(), []
    loop = asyncio.get_running_loop()

    async def stubborn(stop: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()  # never returns on its own
        except asyncio.CancelledError:
            log.append("stubborn cancelled")
            raise

    async def stopper(stop: asyncio.Event) -> None:
        stop.set()

    started = loop.time()
    code = await run({"stubborn": stubborn, "polite": waiter(log, "polite"), "stopper": stopper}, stop, grace=0.05)
    assert code == 0  # not returning in time is not a failure
    assert sorted(log) == ["polite stopped", "stubborn cancelled"]
    assert 0.04 <= loop.time() - started < 1.0


async def test_a_root_ending_cancelled_counts_as_a_failure():
    """A root ends cancelled when it lets an inner CancelledError escape (an awaited task was cancelled)."""
    stop, log = asyncio.Event(), []

    async def inner_cancelled(stop: asyncio.Event) -> None:
        inner = asyncio.ensure_future(asyncio.Event().wait())
        inner.cancel()
        await inner

    try:
        code = await asyncio.wait_for(supervise({"cancelled": inner_cancelled, "a": waiter(log, "a")}, stop), LIMIT)
    finally:  # do not leave root "a" behind when supervise() breaks
        stop.set()
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=LIMIT)
    assert code == 1
    assert log == ["a stopped"]


# --- wait_or_stop ---------------------------------------------------------------------------------------


async def test_wait_or_stop_true_at_once_when_stop_is_set():
    stop = asyncio.Event()
    stop.set()
    assert await asyncio.wait_for(wait_or_stop(stop, 3600), LIMIT) is True


async def test_wait_or_stop_true_when_stop_is_set_meanwhile():
    stop = asyncio.Event()
    asyncio.get_running_loop().call_soon(stop.set)
    assert await asyncio.wait_for(wait_or_stop(stop, 3600), LIMIT) is True


@pytest.mark.parametrize("seconds", [0.01, 0.0, -1.0])
async def test_wait_or_stop_false_after_the_time(seconds):
    assert await asyncio.wait_for(wait_or_stop(asyncio.Event(), seconds), LIMIT) is False
