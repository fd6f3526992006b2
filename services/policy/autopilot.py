"""Auto mode in the policy service: the auto core's state per pool, the task arrivals that wake it, and the
history it learns from. The service owns the store and the events; this decides."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import structlog
from nats.aio.client import Client

from agentscaler.shared.clock import SYSTEM_CLOCK, Clock
from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.snapshots import HostSnapshot, PoolSnapshot

from . import workers
from .arrivals import Arrivals
from .core.auto import AutoDecision, AutoState, decide_auto
from .history import DemandRecorder, read_samples
from .observe import observation
from .settings import PolicySettings
from .sim.forecast import HISTORY, OFF, Verdict, adopt, assess, at_once, next_assessment
from .sim.trial import UNKNOWN_START, Judge

log = structlog.get_logger()
T = TypeVar("T")

BURST_MIN = 20
"""Arrivals since the last decision that prompt a new one at once, for a pool of up to this many agents
(larger pools: as many arrivals as agents)."""


@dataclass(frozen=True)
class View:
    """What the service knows of a pool when it asks for a decision."""

    pool: PoolSnapshot | None
    host: HostSnapshot | None
    agents_fit: int | None
    room_bound: str = "memory"
    """What bounds ``agents_fit``: ``memory``, ``CPU`` or ``memory and CPU``."""


@dataclass(frozen=True)
class AutoOutcome:
    decision: AutoDecision
    inputs: Observation | None
    publish: bool
    """Whether the decision is news: a change of count, or of the rule or limit that holds it."""


class Autopilot:
    def __init__(
        self,
        settings: PolicySettings,
        nc: Client,
        view: Callable[[str], View],
        wake: Callable[[str], Awaitable[None]],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.nc = nc
        self.view = view
        self.wake_decision = wake
        self.states: dict[str, AutoState] = {}
        self.published: dict[str, tuple[str, str]] = {}
        self.arrived_at_decision: dict[str, int] = {}
        self.waking: set[str] = set()
        self.last_wake: dict[str, float] = {}
        self.arrivals = Arrivals(nc, self._on_arrival, clock)
        self.recorder = DemandRecorder(nc, settings.history_interval)
        self.tasks: set[asyncio.Task[None]] = set()
        self.assess_due: dict[str, float] = {}
        """When each pool's prediction is judged next (``sim/forecast.py``); absent while it is being judged."""

    def active(self, pool: str) -> bool:
        return pool in self.states

    def start_time(self, pool: str) -> float:
        """Seconds the pool's agents took to start, as last measured in auto mode (0: not known)."""
        state = self.states.get(pool)
        return 0.0 if state is None else state.start_time

    def prediction(self, pool: str) -> str:
        """Whether the pool's prediction is active and why, in words (empty for a pool not in auto mode)."""
        state = self.states.get(pool)
        if state is None:
            return ""
        return state.profile.why or "inactive: not judged yet"

    async def engage(self, config: PoolConfig, desired: int) -> None:
        """Start deciding for ``config``'s pool, from ``desired`` agents; its prediction (if allowed) is judged
        from its history at its first decision."""
        if config.name in self.states:
            return
        state = AutoState(desired=desired)
        if config.auto.predict:
            self.assess_due[config.name] = self.clock.now()
        else:
            state = replace(state, profile=replace(state.profile, why=OFF.why))
        self.states[config.name] = state
        await self.arrivals.watch(config.name)
        self.recorder.begin(config.name, self.clock.now(), self.arrivals.submitted.get(config.name, 0))
        log.info("auto mode engaged", pool=config.name, desired=desired)

    async def disengage(self, pool: str) -> None:
        self.states.pop(pool, None)
        self.assess_due.pop(pool, None)
        self.published.pop(pool, None)
        self.recorder.forget(pool)
        await self.arrivals.unwatch(pool)

    def snapshot_arrived(self, pool: str, at: float) -> None:
        """A fresh snapshot, taken at ``at``, counts the tasks queued until then."""
        self.arrivals.snapshot_taken(pool, at)
        self.arrived_at_decision[pool] = 0

    async def decide(self, config: PoolConfig, desired: int, now: float) -> AutoOutcome:
        """The auto core's decision for the pool, from ``desired`` (the stored count) and what is known."""
        state = self.states.get(config.name) or AutoState(desired=desired)
        if state.desired != desired and not config.auto.dry_run:
            state = replace(state, desired=desired)  # the stored count is the truth (e.g. after a restart)
        view = self.view(config.name)
        arrived = self.arrivals.since_snapshot(config.name)
        obs = observation(view.pool, view.host, view.agents_fit, arrived, now, view.room_bound)
        decision, state = decide_auto(obs, config.auto, config.max_agents, state, now, config.name)
        self.states[config.name] = state
        self.arrived_at_decision[config.name] = arrived
        await self.recorder.note(config.name, decision, obs, now, self.arrivals.submitted.get(config.name, 0))
        if now >= self.assess_due.get(config.name, float("inf")):
            del self.assess_due[config.name]
            self._background(self._assess(config, now))
        key = (decision.rule, decision.limit)
        news = decision.changed or self.published.get(config.name) != key
        self.published[config.name] = key
        return AutoOutcome(decision, obs, news)

    def _on_arrival(self, pool: str) -> None:
        """Per submitted task: cheap unless the pool is at zero or a burst has come since the last decision."""
        state = self.states.get(pool)
        if state is None or pool in self.waking:
            return
        fresh = self.arrivals.since_snapshot(pool) - self.arrived_at_decision.get(pool, 0)
        if state.desired > 0 and fresh < max(BURST_MIN, state.desired):
            return
        self.waking.add(pool)
        delay = max(0.0, self.settings.wake_interval - (self.clock.monotonic() - self.last_wake.get(pool, 0.0)))
        self._background(self._wake(pool, delay))

    def _background(self, job: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _assess(self, config: PoolConfig, now: float) -> None:
        """Judge whether the pool's profile predicts, on its recorded samples of the last ``HISTORY`` seasons
        (the simulations run in a worker process: in a thread they would starve the event loop), and decide
        with the verdict from then on."""
        verdict, samples = OFF, []
        try:
            if config.auto.predict:
                samples = await read_samples(self.nc.jetstream(), config.name, now - HISTORY * config.auto.season)
                start = self.start_time(config.name) or UNKNOWN_START
                judge = Judge(start, config.max_agents)
                verdict = at_once(samples, config.auto) or await _in_a_process(assess, samples, config.auto, judge)
        except Exception as exc:  # the history is an aid: deciding goes on without prediction
            verdict = Verdict(False, f"inactive: could not judge the history ({exc})")
            log.warning("could not judge the prediction", pool=config.name, error=str(exc))
        state = self.states.get(config.name)
        if state is None or config.name in self.assess_due:
            return  # disengaged (and maybe engaged again) meanwhile
        self.states[config.name] = replace(state, profile=adopt(state.profile, verdict, samples))
        self.assess_due[config.name] = next_assessment(self.clock.now(), verdict)
        log.info("judged the prediction", pool=config.name, verdict=verdict.why)

    async def _wake(self, pool: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            self.last_wake[pool] = self.clock.monotonic()
            await self.wake_decision(pool)
        except Exception:
            log.exception("deciding on task arrivals failed", pool=pool)
        finally:
            self.waking.discard(pool)


async def _in_a_process(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a fresh simulating process (spawned at low priority, as ``optimize``'s workers are)."""
    executor = workers.simulating(1)
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
