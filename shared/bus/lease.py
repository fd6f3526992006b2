"""Leadership by lease: of the instances of a service that must act alone (the policy, the registry), the one
holding the service's lease in the ``agentscaler-leases`` bucket serves; the others stand by and take over when
it dies. The lease is a KV record taken and renewed by compare-and-set on its revision (no consensus of our own);
the timing rules are ``shared/leasing.py``'s.

A leader serves over a connection of its own for each term, apart from the one that renews the lease: losing the
lease closes that connection first, so nothing the old term still had in hand reaches NATS, then cancels the
term. An orderly stop ends the term, then deletes the record, so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .. import subjects
from ..clock import SYSTEM_CLOCK, Clock
from ..codec import BadMessage, decode, encode
from ..leasing import LeaseTiming, Sighting
from ..messages.leases import LeaseRecord
from ..settings import CommonSettings
from ..supervisor import wait_or_stop
from .connection import cancel_until_done, connect_service, run_connected
from .jetstream import bucket

log = structlog.get_logger()

Term = Callable[[Client, asyncio.Event], Awaitable[None]]
"""A leader's service for one term: given the term's connection and an event set on an orderly stop, it serves
until that event (it is cancelled, its connection closed under it, if the lease is lost)."""


class Lease:
    """One instance's claim on a service's lease."""

    def __init__(self, kv: KeyValue, service: str, host: str, ttl: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.kv = kv
        self.service = service
        self.host = host
        self.clock = clock
        self.timing = LeaseTiming(ttl)
        self.holder = f"{host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.sighting = Sighting()
        self.revision = 0
        """The revision of our record while we hold the lease; 0 when we do not."""
        self.renewed = 0.0
        """When (monotonic) the last successful write of our record started."""
        self.since = 0.0

    async def acquire(self) -> bool:
        """Take the lease if it is absent, ours, or seen unrenewed for its ``ttl``; False if another holds it
        (or NATS did not answer)."""
        try:
            return await asyncio.wait_for(self._acquire(), self.timing.renew_every)
        except (nats.errors.Error, TimeoutError) as exc:
            log.debug("could not read the lease", service=self.service, error=repr(exc))
            return False

    async def _acquire(self) -> bool:
        try:
            entry = await self.kv.get(self.service)
        except KeyNotFoundError:  # absent or deleted: whoever creates it first holds it
            self.sighting = Sighting()
            self.since = self.clock.now()
            return await self._write(0)
        seen = self.clock.monotonic()
        revision = entry.revision or 0
        record = _record(entry.value)
        self.sighting.saw(revision, seen)
        ttl = self.timing.ttl if record is None else record.ttl
        if record is not None and record.holder == self.holder:  # ours still: nobody took it since
            self.since = record.since
        elif self.sighting.may_take(ttl, seen):
            log.warning(
                "taking over a lease its holder stopped renewing",
                service=self.service,
                was=record.holder if record else "unreadable",
                unrenewed_for=round(seen - self.sighting.seen_at, 1),
            )
            self.since = self.clock.now()
        else:
            return False
        return await self._write(revision)

    async def renew(self) -> bool:
        """Renew the lease; False if it was taken over (the revision moved on). A renewal that fails otherwise
        (NATS slow or away) is logged and leaves the lease to lapse unless a later one succeeds."""
        timeout = max(0.01, min(self.timing.renew_every, self.timing.lost_at(self.renewed) - self.clock.monotonic()))
        try:
            return await asyncio.wait_for(self._write(self.revision), timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("lease renewal failed", service=self.service, error=repr(exc))
            return True

    async def _write(self, last: int) -> bool:
        """Write our record over revision ``last`` (0: create it); False if that is not the latest revision."""
        started = self.clock.monotonic()
        now = self.clock.now()
        record = LeaseRecord(
            service=self.service,
            holder=self.holder,
            host=self.host,
            pid=os.getpid(),
            since=self.since,
            renewed_at=now,
            ttl=self.timing.ttl,
        )
        try:
            if last:
                self.revision = await self.kv.update(self.service, encode(record), last=last)
            else:
                self.revision = await self.kv.create(self.service, encode(record))
        except KeyWrongLastSequenceError:
            self.revision = 0
            return False
        self.renewed = started
        return True

    def held(self) -> bool:
        return self.revision != 0 and self.timing.held(self.renewed, self.clock.monotonic())

    async def release(self) -> None:
        """Delete our record (if it is still ours) so a standby takes over at once."""
        if self.revision:
            with suppress(nats.errors.Error, TimeoutError):
                await asyncio.wait_for(self.kv.delete(self.service, last=self.revision), 2)
        self.revision = 0


def _record(value: bytes | None) -> LeaseRecord | None:
    try:
        return decode(LeaseRecord, value or b"")
    except BadMessage:
        return None


async def lead(
    service: str, settings: CommonSettings, ttl: float, stop: asyncio.Event, term: Term, clock: Clock = SYSTEM_CLOCK
) -> None:
    """A leased service's life until ``stop``: stand by until this instance holds the lease, serve ``term``
    while it holds it, stand by again when it is lost. Its connections, and logs, are named ``service``."""

    async def standby(nc: Client) -> None:
        lease = Lease(await bucket(nc.jetstream(), subjects.LEASES_BUCKET), service, settings.host, ttl, clock)
        log.info("standing by for the lease", holder=lease.holder, ttl=ttl)
        while not stop.is_set():
            if not await lease.acquire():
                await wait_or_stop(stop, lease.timing.look_every)
                continue
            log.info("took the lease: leading", holder=lease.holder)
            await _hold(lease, settings, stop, term)
            if not stop.is_set():
                log.info("standing by for the lease", holder=lease.holder)

    await run_connected(service, settings, settings.host, stop, standby)


async def _hold(lease: Lease, settings: CommonSettings, stop: asyncio.Event, term: Term) -> None:
    """Serve ``term`` on a connection of its own while the lease holds; release the lease at the end."""
    nc = await connect_service(settings, f"{lease.service}@{settings.host}", stop, audit=True)
    if nc is None or not lease.held():  # stopped, or connecting took longer than the lease holds unrenewed
        await _close(nc, drain=False)
        await lease.release()
        return
    ended = asyncio.Event()
    task = asyncio.create_task(term(nc, ended), name=f"{lease.service} term")
    try:
        await _keep(lease, stop, ended, task)
    finally:
        if not task.done():  # lost (or we are cancelled): no more messages from this term, then end it
            await _close(nc, drain=False)
            await cancel_until_done(task)
        await _close(nc, drain=True)
        await lease.release()
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def _close(nc: Client | None, *, drain: bool) -> None:
    """Drain (what was sent still goes out) or close (at once) a term's connection, if still open."""
    if nc is None or nc.is_closed:
        return
    with suppress(Exception):
        await asyncio.wait_for(nc.drain() if drain else nc.close(), 10)
    if not nc.is_closed:
        with suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


async def _keep(lease: Lease, stop: asyncio.Event, ended: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Renew the lease while the term runs, until it has ended or the lease is lost. On ``stop`` the term is
    told to end (``ended``) and the lease still renewed until it has: no standby takes over from a leader that
    is finishing its work."""
    stopped = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[Any]] = {stopped, task}
    try:
        while True:
            now = lease.clock.monotonic()
            delay = lease.timing.next_wake(lease.renewed, now) - now
            await asyncio.wait(waiting, timeout=max(0.0, delay), return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                ended.set()
                waiting = {task}  # nothing more to wait for but the term
            if task.done():
                return
            if not lease.held():
                log.warning("lease not renewed in time: stepping down", holder=lease.holder, ttl=lease.timing.ttl)
                return
            if lease.clock.monotonic() >= lease.timing.renew_at(lease.renewed) and not await lease.renew():
                log.warning("lease taken over by another instance: stepping down", holder=lease.holder)
                return
    finally:
        stopped.cancel()
