"""This actuator's entry in the ``agentscaler-hosts`` bucket: its heartbeat and what its host offers (labels)
and allows pools to run, and why pools it should run have no agents. The policy places pools on the live
entries and checks ``pool set`` against them; the monitor shows the problems.

The entry is written from a task of its own every ``announce_interval`` seconds (and at once when the problems
change), so a reconcile pass that takes long (hundreds of agents to start) never makes the host look lost."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, put_struct
from agentscaler.shared.clock import Clock
from agentscaler.shared.messages.hosts import ActuatorInfo

from .settings import ActuatorSettings

log = structlog.get_logger()

WITHDRAW_WAIT = 1.0
"""Seconds a stopping actuator waits to remove its host entry (JetStream's own wait is 5 s)."""


class HostInfo:
    def __init__(self, settings: ActuatorSettings, kv: KeyValue, clock: Clock) -> None:
        self.settings = settings
        self.kv = kv
        self.clock = clock
        self.problems: dict[str, str] = {}
        self.checked: dict[str, str] = {}
        self.written: tuple[dict[str, str], dict[str, str]] | None = None
        """The problems and handlers checked last written; None before the first write."""
        self.changed = asyncio.Event()

    @classmethod
    async def open(cls, settings: ActuatorSettings, js: JetStreamContext, clock: Clock) -> HostInfo:
        return cls(settings, await bucket(js, subjects.HOSTS_BUCKET), clock)

    def update(self, problems: dict[str, str], checked: dict[str, str] | None = None) -> None:
        """The reconcile loop's latest view; written at once when it differs from what was written."""
        self.problems, self.checked = dict(problems), dict(checked or {})
        if self.written != (self.problems, self.checked):
            self.changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Write the entry every ``announce_interval`` seconds and on each change, until ``stop``; a failed
        write is tried again at the next."""
        while not stop.is_set():
            await self._write()
            changed, stopped = asyncio.create_task(self.changed.wait()), asyncio.create_task(stop.wait())
            await asyncio.wait(
                {changed, stopped}, timeout=self.settings.announce_interval, return_when=asyncio.FIRST_COMPLETED
            )
            changed.cancel()
            stopped.cancel()

    async def _write(self) -> None:
        self.changed.clear()
        problems, checked = dict(self.problems), dict(self.checked)
        before = self.written[0] if self.written is not None else None
        for pool, problem in problems.items():
            if before is None or before.get(pool) != problem:
                log.error("pool cannot run on this host", pool=pool, problem=problem)
        info = ActuatorInfo(
            host=self.settings.host,
            handlers=self.settings.handlers,
            env_keys=self.settings.env_keys,
            pools=self.settings.pools,
            labels=self.settings.labels,
            problems=problems,
            checked=checked,
            at=self.clock.now(),
            interval=self.settings.announce_interval,
            lost_after=self.settings.host_lost_after,
        )
        try:
            await put_struct(self.kv, self.settings.host, info)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not publish this host's entry", error=str(exc))
            return
        self.written = (problems, checked)

    async def withdraw(self) -> None:
        """The actuator stops: its entry goes, so no pool is placed on or judged by a host that runs none."""
        with suppress(nats.errors.Error, TimeoutError):  # NATS gone: the entry ages out; do not hold up the exit
            await asyncio.wait_for(self.kv.delete(self.settings.host), WITHDRAW_WAIT)
