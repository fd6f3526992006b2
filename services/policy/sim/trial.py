"""One configuration's run over a workload: ``decide_auto`` driving the simulator, judged and priced."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.optimize import Trial
from agentscaler.shared.messages.pools import AutoConfig

from ..core.auto import AutoState, decide_auto
from ..core.profile import Profile
from .forecast import HISTORY, Recording, Verdict, adopt, assess, next_assessment
from .metrics import Metrics, measure
from .simulate import PoolView, simulate
from .workload import Workload

HOUR = 3600.0
UNKNOWN_START = 1.0
"""Seconds the judge's simulated agents take to start when the pool has not measured it."""


@dataclass
class AutoPolicy:
    """agentscaler's auto policy as a simulator policy: ``decide_auto`` on the simulated pool's observation,
    every ``period`` seconds and at once when a task arrives at a pool with no agent. ``offset`` is added
    to the simulator's clock (0-based) to give the policy's: the epoch second the run stands for, so that
    the load profile sees the real time of day.

    Like the live service, it records its demand samples and judges from them, now and then, whether its load
    profile predicts (``forecast.py``); ``assessing=False`` keeps the profile it was given (the judge's own runs)."""

    config: AutoConfig
    max_agents: int
    name: str = "agentscaler"
    period: float = 1.0
    wakes_on_arrival: bool = True
    offset: float = 0.0
    state: AutoState = field(default_factory=AutoState)
    rules: Counter[str] = field(default_factory=Counter)
    """How many times each rule changed the count."""
    assessing: bool = True
    verdicts: list[tuple[float, Verdict]] = field(default_factory=list)
    """Each verdict on prediction, with the policy's time it was given."""
    _recording: Recording | None = None
    _due: float | None = None

    def decide(self, pool: PoolView, now: float) -> int:
        obs, at = pool.observation(), now + self.offset
        decision, self.state = decide_auto(obs, self.config, self.max_agents, self.state, at)
        if decision.desired != pool.agents:
            self.rules[decision.rule] += 1
        if self.assessing:
            self._assess(obs, at, decision.steady)
        return decision.desired

    def _assess(self, obs: Observation, at: float, steady: int) -> None:
        """Record the demand sample and, when due, judge whether the profile predicts (as ``autopilot.py``)."""
        if self._recording is None:
            self._recording = Recording(keep=HISTORY * self.config.season)
            self._due = at  # as the live service: at the first decision, then ``forecast.next_assessment``
        self._recording.note(at, obs, steady)
        if self._due is not None and at >= self._due:
            judge = Judge(obs.start_time or UNKNOWN_START, self.max_agents, self.period)
            verdict = assess(self._recording.samples, self.config, judge)
            self.state = replace(self.state, profile=adopt(self.state.profile, verdict, self._recording.samples))
            self.verdicts.append((at, verdict))
            self._due = next_assessment(at, verdict)


@dataclass(frozen=True)
class Judge:
    """Simulates the auto policy from a given profile, without judging it again: ``forecast.Run``."""

    start_delay: float
    max_agents: int
    period: float = 1.0

    def __call__(self, workload: Workload, config: AutoConfig, profile: Profile, offset: float) -> Metrics:
        policy = AutoPolicy(
            config,
            self.max_agents,
            period=self.period,
            offset=offset,
            state=AutoState(profile=profile),
            assessing=False,
        )
        result = simulate(workload, policy, start_delay=self.start_delay, max_agents=self.max_agents)
        return measure(result, workload, config.target_wait)


@dataclass(frozen=True)
class Setup:
    """What every trial of one optimize run shares."""

    target_wait: float
    """Seconds of p95 wait that a minute must not exceed: the pool's target, whatever a trial sets."""
    max_agents: int
    """The pool's most agents."""
    start_delay: float
    """Seconds a simulated agent takes to start."""
    span: float
    """Seconds of recorded load (for the cost per hour)."""
    spawn_rate: float = 0.0
    """Agents a second the host starts at most (0: no limit)."""
    offset: float = 0.0
    """Epoch seconds of the workload's second 0."""
    period: float = 1.0
    """Seconds between the policy's decisions (the monitor's snapshot interval)."""
    minute: float = 60.0
    """Seconds of the windows whose p95 wait is judged against the target ("minutes over target")."""
    per_agent_hour: float = 0.0
    per_task: float = 0.0
    budget: float | None = None
    """The most a recommended configuration may cost an hour."""


def run_trial(workloads: Sequence[Workload], config: AutoConfig, setup: Setup) -> Trial:
    """Simulate ``config`` on each of ``workloads`` (draws of the same recorded load): its minutes over
    target, agent-seconds and cost are the mean over them, its p95 wait the highest. Several draws keep the
    search from picking settings that were lucky on one."""
    runs = []
    for workload in workloads:
        policy = AutoPolicy(config, setup.max_agents, period=setup.period, offset=setup.offset)
        result = simulate(
            workload, policy, start_delay=setup.start_delay, max_agents=setup.max_agents, spawn_rate=setup.spawn_rate
        )
        metrics = measure(result, workload, setup.target_wait, setup.minute)
        tasks = len(workload) - result.unfinished
        cost = metrics.agent_seconds / HOUR * setup.per_agent_hour + tasks * setup.per_task
        runs.append((metrics, cost))
    n = len(runs)
    agent_seconds = sum(m.agent_seconds for m, _ in runs) / n
    cost = sum(c for _, c in runs) / n
    return Trial(
        config=config,
        agent_seconds=round(agent_seconds, 3),
        cost=round(cost, 6),
        cost_per_hour=round(cost / (setup.span / HOUR), 6) if setup.span > 0 else 0.0,
        p95_wait=round(max(m.p95_wait for m, _ in runs), 3),
        minutes_over=round(sum(m.minutes_over for m, _ in runs) / n, 2),
        minutes=max(m.minutes for m, _ in runs),
        actions=round(sum(m.actions for m, _ in runs) / n),
        peak_agents=max(m.peak_agents for m, _ in runs),
        unfinished=max(m.unfinished for m, _ in runs),
    )
