"""Leases against a real nats-server: taken by create or compare-and-set, never by two at once, taken over
only after a holder stopped renewing for its ttl, handed over at once on release; and ``lead`` running a term
only while it holds the lease."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket
from agentscaler.shared.bus.lease import Lease, lead
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.settings import CommonSettings
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio

TTL = 1.2


async def test_one_holder_at_a_time_and_a_takeover_only_after_the_ttl(nc: Client) -> None:
    kv = await bucket(nc.jetstream(), subjects.LEASES_BUCKET)
    a, b = Lease(kv, "svc", "h1", TTL), Lease(kv, "svc", "h2", TTL)
    assert await a.acquire() and a.held()
    assert not await b.acquire()  # b has now seen a's record
    for _ in range(3):  # a renews: b never may take over, however long it waits
        await asyncio.sleep(TTL / 2)
        assert await a.renew()
        assert not await b.acquire()
    silent = time.monotonic()  # a stops renewing (as if dead)
    await eventually(b.acquire, timeout=3 * TTL, interval=0.05, what="b takes over")
    assert time.monotonic() - silent >= TTL  # b first saw a's last renewal after it: it waited a full ttl
    assert not a.held()  # a had stopped acting before b took over
    assert not await a.renew()  # and its record is b's now
    await b.release()
    assert await a.acquire()  # released: taken at once


async def test_lead_runs_one_term_at_a_time_and_hands_over_on_stop(nats_server: EmbeddedServer) -> None:
    settings = CommonSettings(nats_url=nats_server.url, host="h")
    serving: list[str] = []
    overlaps: list[list[str]] = []

    def term_of(name: str):  # type: ignore[no-untyped-def]
        async def term(nc: Client, ended: asyncio.Event) -> None:
            if serving:
                overlaps.append([*serving, name])
            serving.append(name)
            try:
                await ended.wait()
            finally:
                serving.remove(name)

        return term

    stops = {name: asyncio.Event() for name in ("a", "b")}
    runs = {n: asyncio.create_task(lead("svc", settings, TTL, stops[n], term_of(n))) for n in stops}
    try:
        await eventually(lambda: len(serving) == 1, timeout=10, what="one leader")
        first = serving[0]
        await asyncio.sleep(2 * TTL)  # renewals keep it; the other stands by
        assert serving == [first]
        stops[first].set()
        started = time.monotonic()
        await eventually(lambda: serving and serving[0] != first, timeout=10, what="the standby leading")
        assert time.monotonic() - started < 1.0  # released: no wait for the ttl
        assert not overlaps
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.wait_for(asyncio.gather(*runs.values()), 15)
