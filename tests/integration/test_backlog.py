"""A backlog on one subscription (ten thousand agents registering or heartbeating at once) leaves the service's
other tasks their turn: a lease renewal or a timer is not held up until the whole backlog is handled."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from agentscaler.shared.bus.events import listen
from agentscaler.shared.bus.rpc import serve
from agentscaler.shared.codec import encode
from agentscaler.shared.messages.agents import Ack, Deregister
from bench.waiting import eventually

BACKLOG = 300


async def _ticks_while(handled: list[int], ticks: list[int], nc: Client, subject: str, *, reply: bool) -> None:
    """Queue ``BACKLOG`` messages on ``subject`` in one go, with a task counting loop turns meanwhile; return once
    every message is handled."""

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    body = encode(Deregister(agent_id="a", pool="p"))
    for _ in range(BACKLOG):
        await nc.publish(subject, body, reply=nc.new_inbox() if reply else "")
    try:
        await eventually(lambda: len(handled) >= BACKLOG, timeout=10, interval=0.01, what="the backlog handled")
    finally:
        task.cancel()


async def test_a_backlog_of_events_yields_between_messages(nc: Client) -> None:
    handled: list[int] = []
    ticks = [0]

    async def on_event(_: Deregister, __: str) -> None:
        handled.append(ticks[0])

    await listen(nc, "backlog.events", Deregister, on_event, traced=False)
    await nc.flush()
    await _ticks_while(handled, ticks, nc, "backlog.events", reply=False)
    # Other tasks ran while the backlog was worked off: the ticker moved on between messages.
    assert len(set(handled)) > BACKLOG // 2, handled[:20]


async def test_a_backlog_of_requests_yields_between_messages(nc: Client) -> None:
    handled: list[int] = []
    ticks = [0]

    async def on_request(_: Deregister) -> Ack:
        handled.append(ticks[0])
        return Ack()

    await serve(nc, "backlog.requests", Deregister, on_request)
    await nc.flush()
    await _ticks_while(handled, ticks, nc, "backlog.requests", reply=True)
    assert len(set(handled)) > BACKLOG // 2, handled[:20]
