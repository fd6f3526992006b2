"""This actuator's entry in the ``agentscaler-hosts`` bucket: what its host allows pools to run, and why
pools it should run have no agents. The policy checks ``pool set`` against it; the monitor shows the problems."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, put_struct
from agentscaler.shared.messages.hosts import ActuatorInfo

from .settings import ActuatorSettings

log = structlog.get_logger()

INTERVAL = 10.0
"""Seconds between writes of an unchanged entry: readers count an actuator gone after three missed ones."""

WITHDRAW_WAIT = 1.0
"""Seconds a stopping actuator waits to remove its host entry (JetStream's own wait is 5 s)."""


class HostInfo:
    def __init__(self, settings: ActuatorSettings, kv: KeyValue) -> None:
        self.settings = settings
        self.kv = kv
        self.problems: dict[str, str] | None = None
        """The problems last written; None before the first write."""
        self.checked: dict[str, str] = {}
        """The handlers last written as checked, by pool."""
        self.written_at = 0.0

    @classmethod
    async def open(cls, settings: ActuatorSettings, js: JetStreamContext) -> HostInfo:
        return cls(settings, await bucket(js, subjects.HOSTS_BUCKET))

    async def update(self, problems: dict[str, str], now: float, checked: dict[str, str] | None = None) -> None:
        """Write the entry when the problems or the handlers checked changed, or it is due; a failed write is tried
        next time."""
        checked = checked or {}
        if problems == self.problems and checked == self.checked and now - self.written_at < INTERVAL:
            return
        for pool, problem in problems.items():
            if self.problems is None or self.problems.get(pool) != problem:
                log.error("pool cannot run on this host", pool=pool, problem=problem)
        info = ActuatorInfo(
            host=self.settings.host,
            handlers=self.settings.handlers,
            env_keys=self.settings.env_keys,
            pools=self.settings.pools,
            problems=problems,
            checked=dict(checked),
            at=now,
            interval=INTERVAL,
        )
        try:
            await put_struct(self.kv, self.settings.host, info)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not publish this host's allow-lists", error=str(exc))
            return
        self.problems, self.checked, self.written_at = problems, dict(checked), now

    async def withdraw(self) -> None:
        """The actuator stops: its entry goes, so no pool is judged by the lists of a host that runs none."""
        with suppress(nats.errors.Error, TimeoutError):  # NATS gone: the entry ages out; do not hold up the exit
            await asyncio.wait_for(self.kv.delete(self.settings.host), WITHDRAW_WAIT)
