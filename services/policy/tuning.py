"""``agentscaler optimize``: rebuild a pool's recorded load from its history, search the auto settings on it in
worker processes, report (and optionally apply) the best found. The search itself is ``sim/search.py``."""

from __future__ import annotations

import asyncio
import random
from functools import partial

import structlog
from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.bus.events import publish
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.bus.jetstream import bucket, put_struct
from agentscaler.shared.bus.rpc import Refused
from agentscaler.shared.clock import SYSTEM_CLOCK, Clock
from agentscaler.shared.codec import BadMessage, decode
from agentscaler.shared.messages.decisions import DemandSample
from agentscaler.shared.messages.optimize import Optimize, Optimized, OptimizeProgress
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.summaries import summed

from . import workers
from .settings import PolicySettings
from .sim.search import Search, changes, shortfall
from .sim.trial import Setup
from .sim.workload import NoRecord, Recorded, Workload, rebuild

log = structlog.get_logger()

UNKNOWN_START = 1.0
"""Seconds the simulated agents take to start when neither the policy nor the record knows."""
SEED = 1
"""Seed of the first rebuild of the recorded load (the next ones count up): the same history gives the same
report."""


class Tuner:
    """Runs ``agentscaler optimize`` for the policy service: reads the record, drives the search in worker
    processes, and keeps the report."""

    def __init__(self, settings: PolicySettings, nc: Client, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.nc = nc
        self.clock = clock

    async def run(
        self, cmd: Optimize, config: PoolConfig, start_delay: float, spawn_rate: float, period: float
    ) -> Optimized:
        """Search ``config``'s auto settings on its load of the last ``cmd.since`` seconds, for agents that
        start in ``start_delay`` seconds (0: as the record says), ``spawn_rate`` a second at most (0: no
        limit), and a policy that decides every ``period`` seconds."""
        if cmd.budget is not None and config.cost_per_agent_hour <= 0:
            raise Refused(
                "bad_request",
                f"a budget needs the pool's price: set it with `agentscaler pool set {config.name} "
                f"--cost-per-agent-hour PRICE`",
            )
        started = self.clock.monotonic()
        recorded = await self._recorded(config.name, cmd.since)
        start_delay = start_delay or recorded[0].start_time or UNKNOWN_START
        setup = Setup(
            target_wait=config.auto.target_wait,
            max_agents=config.max_agents,
            start_delay=start_delay,
            spawn_rate=spawn_rate,
            span=recorded[0].span,
            offset=recorded[0].origin,
            per_agent_hour=config.cost_per_agent_hour,
            per_task=config.cost_per_task,
            budget=cmd.budget,
            period=period,
            minute=self.settings.optimize_minute,
        )
        search = Search(config.auto, setup)
        await self._search(search, [r.workload for r in recorded], setup, config.name)
        recommended, current = search.recommended(), search.baseline
        assert current is not None  # the search always simulates the current settings first
        report = Optimized(
            pool=config.name,
            at=self.clock.now(),
            since=recorded[0].origin,
            span=recorded[0].span,
            samples=recorded[0].samples,
            tasks=len(recorded[0].workload),
            start_delay=start_delay,
            spawn_rate=spawn_rate,
            target_wait=setup.target_wait,
            budget=cmd.budget,
            per_agent_hour=config.cost_per_agent_hour,
            per_task=config.cost_per_task,
            evaluated=len(search.trials),
            seconds=round(self.clock.monotonic() - started, 2),
            current=current,
            recommended=recommended,
            changes=[] if recommended is None else changes(config.auto, recommended.config),
            front=search.front(),
            note=search.note(),
        )
        report = summed(report)
        log.info("optimized", pool=config.name, evaluated=report.evaluated, seconds=report.seconds, note=report.note)
        return report

    async def save(self, report: Optimized) -> None:
        """Keep ``report`` as the pool's latest (``status`` shows it)."""
        await put_struct(await bucket(self.nc.jetstream(), subjects.OPTIMIZE_BUCKET), report.pool, report)

    async def _recorded(self, pool: str, since: float) -> list[Recorded]:
        """The pool's load of the last ``since`` seconds, rebuilt ``optimize_draws`` times."""
        samples: list[DemandSample] = []
        for msg in await read_history(self.nc.jetstream(), subjects.history_subject(pool), self.clock.now() - since):
            try:
                samples.append(decode(DemandSample, msg.data))
            except BadMessage as exc:
                log.warning("skipping a malformed history sample", pool=pool, error=str(exc))
        how = (
            f"The load is recorded while the pool is in auto mode (`agentscaler auto --pool {pool}`): let it run, "
            f"or look further back with --since."
        )
        try:
            recorded = [rebuild(samples, random.Random(SEED + i)) for i in range(self.settings.optimize_draws)]
        except NoRecord as exc:
            raise Refused(
                "too_little_history", f"no recorded load for pool {pool!r} in the last {since:g} s: {exc}. {how}"
            ) from None
        missing = shortfall(recorded[0])
        if missing:
            raise Refused("too_little_history", f"too little history for pool {pool!r}: {missing}. {how}")
        return recorded

    async def _search(self, search: Search, workloads: list[Workload], setup: Setup, pool: str) -> None:
        """Run ``search`` to its end, simulating each batch in the worker processes."""
        loop = asyncio.get_running_loop()
        executor = workers.simulating(self.settings.optimize_workers, partial(workers.load, workloads, setup))
        try:
            while batch := search.next_batch():
                search.record(await asyncio.gather(*(loop.run_in_executor(executor, workers.trial, c) for c in batch)))
                progress = OptimizeProgress(pool=pool, evaluated=len(search.trials), best=search.best)
                await publish(self.nc, subjects.optimize_event_subject(pool), progress, traced=False)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
