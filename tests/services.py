"""Running services in the test's own event loop against the test's nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def running(
    run: Callable[[Any, asyncio.Event], Awaitable[None]], settings: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """Run a service (its module's ``run(settings, stop)``) until the block ends, then stop it cleanly and
    re-raise anything it raised."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
