"""Running services in the test's own event loop against the test's nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.codec import decode
from agentscaler.shared.messages.agents import AgentEvent


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


async def agent_events(nc: Client) -> asyncio.Queue[AgentEvent]:
    """Every agent lifecycle event published from now on, in order."""
    queue: asyncio.Queue[AgentEvent] = asyncio.Queue()

    async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
        await queue.put(decode(AgentEvent, msg.data))

    await nc.subscribe(f"{subjects.AGENT_EVENTS}.*", cb=on_msg)
    return queue


async def next_event(queue: asyncio.Queue[AgentEvent], kind: type, timeout: float = 30) -> Any:
    """The next event of type ``kind``, skipping others."""
    while True:
        event = await asyncio.wait_for(queue.get(), timeout)
        if isinstance(event, kind):
            return event
