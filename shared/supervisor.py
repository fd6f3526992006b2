"""One supervisor per process: root tasks started together, SIGTERM/SIGINT become a stop event, a bounded
grace period, then cancellation."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping

import structlog

log = structlog.get_logger()

Root = Callable[[asyncio.Event], Awaitable[None]]


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True if ``stop`` was set meanwhile. The one interruptible sleep."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


def stop_on_signals(stop: asyncio.Event) -> None:
    """Turn SIGTERM and SIGINT into ``stop``."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def supervise(roots: Mapping[str, Root], stop: asyncio.Event, *, grace: float = 30.0) -> int:
    """Run every root until ``stop`` is set or one of them fails; then give the rest ``grace`` seconds to
    return before cancelling them. Returns 0 for a clean stop, 1 if a root failed."""
    tasks = {asyncio.create_task(root(stop), name=name): name for name, root in roots.items()}
    failed = False
    pending: set[asyncio.Task[None]] = set(tasks)
    stopper = asyncio.create_task(stop.wait())
    while pending and not stop.is_set():
        done, _ = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopper}:
            pending.discard(task)
            if task.cancelled() or task.exception() is not None:
                failed = True
                log.error("root task failed; stopping", task=tasks[task], error=_describe(task))
                stop.set()
    stopper.cancel()
    if pending:
        done, still = await asyncio.wait(pending, timeout=grace)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                failed = True
                log.error("root task failed while stopping", task=tasks[task], error=_describe(task))
        for task in still:
            log.warning("root task did not stop in time; cancelling", task=tasks[task], grace=grace)
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=5)
    return 1 if failed else 0


def _describe(task: asyncio.Task[None]) -> str:
    return "cancelled" if task.cancelled() else repr(task.exception())
