"""Auto mode: ``decide_auto(observation, config, max_agents, state, now) -> (decision, state)``.

Pure: the caller feeds the pool's latest observation and keeps the state it gets back. The rules:

1. **Demand** (``demand.py``): the larger of Little's law on the arrival rate (smoothed over
   ``rate_smoothing`` and no higher than the latest rate, so that a burst already served neither holds
   agents nor sizes the pool the next task wakes from zero) and the agents that start every queued task
   within the target wait; the
   p95 wait corrects it when tasks wait too long. Agents slower to start than the target wait come too
   late for a queued task, so for them the pool keeps the agents with which a task rarely waits past the
   target (Erlang C). The service time is remembered over ``SERVICE_MEMORY`` finishes, across quiet gaps:
   early in a batch only its short tasks have finished, so the observed mean understates it and the batch
   would be sized for tasks far shorter than its own; while the tasks in flight outnumber what the recent
   finishes account for (``SKEWED_FINISHES``), the remembered service time sizes the pool if longer.
2. **Prediction** (``profile.py``): where the load recurs at this time of the season, the learned level is
   a floor once the load's period is detected and the forecast beat the reactive rules on the recorded load
   (``Profile.active``, set by ``sim/forecast.py``). It only ever adds agents, and the decision says when it did.
3. **Scale up at once**, by at most ``max_step_up`` per decision, past a tolerance band.
4. **Scale down late**: to the highest count recommended over the scale-down window (at least
   ``DOWN_PER_START`` agent start times), and never below the agents busy right now (only idle agents go).
   **But not later than worth it**: the window holds idle agents for tasks that may come, and an idle agent
   no task comes for costs the whole window, at least three restarts. So once nothing queues and the window
   since the last scale-up has passed, the pool keeps only its busy agents plus an agent for each task the
   arrival rate (the latest, no higher than the smoothed one) brings within the window; a served burst lets
   its idle agents go at once instead of on the higher counts its backlog and its rate recommended. Agents
   slower to start than the target wait keep the window: a task queued for them misses the target.
5. **Anti-flap**: a scale-up soon after a scale-down is a flap (the scale-down was too early): within
   ``flap_window``, and within twice the scale-down window in force, since only a flap that a doubled window
   would have spared says the window is too short. (Tasks trickling in to a pool at zero wake it now and then;
   holding an agent through each gap would cost more than the starts, and is no cure the penalty should
   apply, least of all to the next burst's hundreds of agents.) Following noisy load costs a flap now and
   then, and a flap costs an agent start; a pool that flaps more than ``FLAP_ALLOWANCE`` times in
   ``FLAP_MEMORY`` flap windows is oscillating, and each flap beyond that doubles the scale-down window and
   widens the band it must clear.
6. **Limits**: never above the pool's maximum or the hosts' room (what their memory, or their CPU up to
   ``CPU_CEILING``, fits); no scale-up while the host's CPU or I/O is saturated, or while the last scale-up
   did not raise throughput while at least as many tasks queued as agents were added (an upstream limit,
   such as a rate-limited API; with fewer queued, the load bounds throughput): the decision says which limit
   held it. A pool with work and no agent always gets one (a CPU bound limits how many, never whether).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import msgspec

from agentscaler.shared.capacity import CPU_CEILING
from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.pools import AutoConfig

from .decide import Decision
from .demand import demand, slow_start
from .profile import Profile

IOWAIT_SATURATED = 40.0
"""Host I/O wait (% of CPU time) at and above which no agent is added."""
DOWN_PER_START = 3.0
"""The scale-down window is at least this many agent start times: a scale-down that noise proves wrong costs
a start's wait, so pools of slow-starting agents hold a lower count longer before shrinking to it."""
FLAP_MEMORY = 10
"""Flap windows over which flaps count towards the penalty."""
FLAP_ALLOWANCE = 10
"""Flaps within the memory that carry no penalty: a pool following noisy load reverses now and then, and
holding idle agents against that costs more than the agent starts it saves."""
MAX_PENALTY = 4
"""Flaps beyond which the anti-flap penalty stops growing (the window at most 16 times as long)."""
PLATEAU_SETTLE = 15.0
"""Seconds at least after a scale-up before its effect on throughput is judged (more for long tasks)."""
PLATEAU_GAIN = 0.25
"""A scale-up that raised throughput by less than this share of the proportional gain hit a plateau."""
PLATEAU_HOLD = 300.0
"""Seconds the pool stays capped after a plateau before the policy probes for more again."""
PLATEAU_PROBE = 1.0
"""The least a scale-up must add, as a share of the agents before it, for its throughput to be judged."""
PLATEAU_EVIDENCE = 20.0
"""The extra tasks a judged scale-up must be expected to finish over its settling time. A throughput is a
count of tasks in a window, and chance moves a count by its square root: more than a small step in a small
pool would. Judging such a step would cap a pool that is merely busy; under a real upstream limit the
queue grows until the backlog asks for a step big enough to tell."""
SKEWED_FINISHES = 2.0
"""In-flight tasks beyond this many times those the recent finishes account for (throughput x their mean
service time: Little's law) mean the finishes are the short tasks of a batch that just started, and their mean
understates the service time: the remembered one sizes the pool instead."""
SERVICE_MEMORY = 200.0
"""Finished tasks over which the remembered service time averages (it outlasts quiet gaps: no finish, no change)."""


@dataclass(frozen=True)
class Probe:
    """A scale-up made while tasks were queueing, to be judged by the throughput it brought."""

    before: int
    after: int
    throughput: float
    at: float
    settle: float


@dataclass(frozen=True)
class Ceiling:
    agents: int
    until: float
    reason: str


@dataclass(frozen=True)
class AutoState:
    desired: int = 0
    recommendations: tuple[tuple[float, int], ...] = ()
    """The running maximum of the counts recommended over the scale-down window: (time, count) pairs, each
    count higher than every later one, so the first is the window's maximum."""
    direction: int = 0
    """+1 after the last scale-up, -1 after the last scale-down, 0 before any."""
    changed_at: float = -math.inf
    """When the count last changed."""
    flaps: tuple[float, ...] = ()
    """When the pool scaled up within the flap window of a scale-down."""
    rate: float = 0.0
    """The smoothed arrival rate (tasks per second)."""
    rate_at: float | None = None
    probe: Probe | None = None
    ceiling: Ceiling | None = None
    profile: Profile = field(default_factory=Profile)
    start_time: float = 0.0
    """Seconds the pool's agents took to start, as last measured (0: not yet)."""
    service: float = 0.0
    """The mean service time of the pool's tasks, remembered over ``SERVICE_MEMORY`` finishes (0: none yet)."""
    since: float | None = None
    """When this state began observing: a policy that just took a pool over (or restarted) waits a whole
    window before it scales down."""


@dataclass(frozen=True)
class AutoDecision(Decision):
    predicted: int = 0
    """The floor prediction set (0 when it did not raise the count)."""
    limit: str = ""
    """What held the count below demand: ``max``, ``capacity``, ``cpu``, ``io``, ``plateau`` or ``step``."""
    demand: int = 0
    """Agents the queue and task figures called for, before prediction and limits."""
    steady: int = 0
    """The part of ``demand`` the arrivals alone need (Little's law): what the load profile learns."""


def decide_auto(
    obs: Observation | None, config: AutoConfig, max_agents: int, state: AutoState, now: float, pool: str = ""
) -> tuple[AutoDecision, AutoState]:
    current = state.desired
    high = max_agents if config.max_agents is None else min(config.max_agents, max_agents)
    low = min(config.min_agents, high)
    if obs is None:
        target = min(max(current, low), high)
        reason = "no recent snapshot of the pool: holding" + (f", within {low}..{high}" if target != current else "")
        return _Finish(pool, current, now, config.flap_window)(target, "auto.no_data", reason, state)

    rate = _smoothed(state, obs, now, config.rate_smoothing)
    start = obs.start_time or state.start_time  # a pool at zero agents has none starting to measure
    arrivals = min(rate, obs.arrival_rate)
    service, remembered = _service_time(state, obs, now)
    sized = obs if service == obs.service_time else msgspec.structs.replace(obs, service_time=service)
    need = demand(sized, config, arrivals, start)
    flaps = tuple(t for t in state.flaps if now - t < FLAP_MEMORY * config.flap_window)
    penalty = min(MAX_PENALTY, max(0, len(flaps) - FLAP_ALLOWANCE))
    window = max(config.scale_down_window, DOWN_PER_START * start) * 2**penalty
    done = _Finish(pool, current, now, min(config.flap_window, 2 * window), need.agents, need.steady)
    profile = state.profile  # its season is the load's period, as detected (``sim/forecast.py``)
    profile = profile.observe(now, need.steady) if config.predict else profile
    ceiling = _live_ceiling(state.ceiling, now)
    state = replace(
        state, profile=profile, ceiling=ceiling, rate=rate, rate_at=now, start_time=start, service=remembered
    )
    state = _judge_probe(state, obs, now)
    predicted = profile.predict(now) if config.predict and profile.active else 0
    wanted, signal, reason = need.agents, need.signal, need.reason
    if predicted > wanted:
        wanted, signal = predicted, "predict"
        reason = f"the load recurring at this time needed {predicted} (learned over earlier seasons); now {reason}"
    target, limit, limit_note = _limited(wanted, low, high, current, obs, state.ceiling)

    tolerance = min(0.5, config.tolerance * (1 + penalty))  # for scaling down: a scale-up answers work
    recommendations = _running_max(state.recommendations, now, target, window)
    since = now if state.since is None else state.since
    state = replace(state, recommendations=recommendations, flaps=flaps, since=since)
    predicted = predicted if signal == "predict" else 0

    if target > current and (current == 0 or target - current >= max(1, current * config.tolerance)):
        step = min(target, current + config.max_step_up)
        if step < target:
            limit, limit_note = "step", f"at most {config.max_step_up} more per decision"
        rule = "auto.scale_from_zero" if current == 0 else f"auto.{signal}"
        words = f"scale up {current} -> {step}: {reason}"
        if obs.pending > 0 and obs.throughput > 0 and state.probe is None:
            # The throughput seen came from every agent that worked lately, draining and departed ones too: as
            # many as it takes to finish that many tasks of that length (Little's law), not the count alone.
            before = max(current, obs.in_flight, math.ceil(obs.throughput * obs.service_time - 1e-9))
            state = replace(state, probe=Probe(before, step, obs.throughput, now, _settle(obs)))
        return done(step, rule, _with_limit(words, limit_note), state, predicted, limit)

    if target < current and now - since >= window:
        floor = max(recommendations[0][1], obs.busy, low)
        why = f"the most recommended over the last {window:g} s"
        settled = state.direction <= 0 or now - state.changed_at >= window
        if settled and not obs.pending and not slow_start(start, config):
            lean = max(obs.busy + math.ceil(arrivals * window - 1e-9), low)
            if lean < floor:
                floor = lean
                why = f"no task is expected for the idle agents beyond {arrivals * window:.1f} within {window:g} s"
        if floor < current and (floor == 0 or current - floor >= max(1, current * tolerance)):
            words = (
                f"scale down {current} -> {floor}: {why}"
                + (f" (anti-flap: {len(flaps)} quick re-scale-ups lately)" if penalty else "")
                + (f"; {obs.busy} busy agents stay" if floor == obs.busy and obs.busy > 0 else "")
                + f"; now {reason}"
            )
            rule = "auto.scale_to_zero" if floor == 0 else "auto.scale_down"
            return done(floor, rule, words, state)

    words = f"holding {current}: demand {need.agents} ({need.reason})"
    if predicted:
        words += f", predicted {predicted}"
    return done(current, "auto.hold", _with_limit(words, limit_note), state, 0, limit)


def _limited(
    wanted: int, low: int, high: int, current: int, obs: Observation, ceiling: Ceiling | None
) -> tuple[int, str, str]:
    """``wanted`` within the pool's bounds and the host's limits, with the limit that held it and why."""
    target, limit, note = max(wanted, low), "", ""
    if target > high:
        target, limit, note = high, "max", f"capped at the pool's maximum {high}"
    if target > current:
        # A pool with work and no agent always gets one: saturation limits how many, never whether.
        held = max(current, 1 if wanted > 0 else 0)
        if obs.agents_fit is not None and target > current + obs.agents_fit:
            fit = current + obs.agents_fit  # memory bounds it hard; a CPU bound is saturation
            target, limit = fit if obs.room_bound == "memory" else max(fit, held), "capacity"
            note = f"the hosts' room fits {obs.agents_fit} more (bound by {obs.room_bound})"
        if obs.cpu_percent is not None and obs.cpu_percent >= CPU_CEILING and target > held:
            target, limit = held, "cpu"
            note = f"host CPU at {obs.cpu_percent:.0f}%: more agents would not run faster"
        elif obs.iowait_percent is not None and obs.iowait_percent >= IOWAIT_SATURATED and target > held:
            target, limit = held, "io"
            note = f"host I/O wait at {obs.iowait_percent:.0f}%: more agents would not run faster"
        elif ceiling is not None and target > max(held, ceiling.agents):
            target, limit, note = max(held, ceiling.agents), "plateau", ceiling.reason
    return target, limit, note


def _judge_probe(state: AutoState, obs: Observation, now: float) -> AutoState:
    """After a scale-up has settled, cap the pool if throughput did not rise with it while work queued."""
    probe = state.probe
    if probe is None or now - probe.at < probe.settle:
        return state
    state = replace(state, probe=None)
    if obs.pending < probe.after - probe.before or obs.agents < probe.after or probe.before == 0:
        # The queue holds fewer tasks than the agents added (the load, not a limit, bounds throughput: a light
        # load queues a task now and then), or the agents are not all there: nothing to learn.
        return state
    expected = probe.after / probe.before - 1
    if expected < PLATEAU_PROBE or probe.throughput * expected * probe.settle < PLATEAU_EVIDENCE:
        return state  # too few extra tasks to tell a plateau from chance
    gained = obs.throughput / probe.throughput - 1
    if gained >= PLATEAU_GAIN * expected:
        return state
    reason = (
        f"adding agents {probe.before} -> {probe.after} raised throughput only {probe.throughput:.2f} -> "
        f"{obs.throughput:.2f} tasks/s with {obs.pending} still queued: an upstream limit or saturated host; "
        f"not adding more for {PLATEAU_HOLD:g} s"
    )
    return replace(state, ceiling=Ceiling(probe.after, now + PLATEAU_HOLD, reason))


def _service_time(state: AutoState, obs: Observation, now: float) -> tuple[float, float]:
    """The service time to size the pool with, and the remembered one after this observation.

    The observation's is the mean of the tasks that finished lately. Early in a batch only its short tasks have
    finished, so that mean understates the batch's; the in-flight tasks then outnumber what the finishes account
    for (``SKEWED_FINISHES``) and the remembered service time, if longer, sizes the pool. Otherwise the
    observation's is used and the memory moves towards it by the tasks finished since the last decision."""
    s, memory = obs.service_time, state.service
    if s <= 0:
        return s, memory
    if obs.in_flight > SKEWED_FINISHES * obs.throughput * s:
        return max(s, memory), memory
    finished = obs.throughput * (now - state.rate_at) if state.rate_at is not None and now > state.rate_at else 0.0
    weight = 1.0 if memory <= 0 else 1 - math.exp(-finished / SERVICE_MEMORY)
    return s, memory + weight * (s - memory)


def _smoothed(state: AutoState, obs: Observation, now: float, tau: float) -> float:
    """The arrival rate smoothed exponentially over ``tau`` seconds of decisions."""
    if state.rate_at is None or now <= state.rate_at:
        return obs.arrival_rate if state.rate_at is None else state.rate
    weight = 1 - math.exp(-(now - state.rate_at) / tau)
    return state.rate + weight * (obs.arrival_rate - state.rate)


def _running_max(
    points: tuple[tuple[float, int], ...], now: float, count: int, window: float
) -> tuple[tuple[float, int], ...]:
    """``points`` (a running maximum, see ``AutoState.recommendations``) with ``count`` recommended at ``now``
    and the points older than ``window`` dropped."""
    kept = [p for p in points if now - p[0] < window and p[1] > count]
    return (*kept, (now, count))


def _settle(obs: Observation) -> float:
    return max(PLATEAU_SETTLE, 3 * obs.service_time)


def _live_ceiling(ceiling: Ceiling | None, now: float) -> Ceiling | None:
    return ceiling if ceiling is not None and now < ceiling.until else None


def _with_limit(words: str, note: str) -> str:
    return f"{words}; {note}" if note else words


@dataclass(frozen=True)
class _Finish:
    """Ends a decision: the decision itself and the state after it."""

    pool: str
    current: int
    now: float
    flap_window: float
    demand: int = 0
    steady: int = 0

    def __call__(
        self, desired: int, rule: str, reason: str, state: AutoState, predicted: int = 0, limit: str = ""
    ) -> tuple[AutoDecision, AutoState]:
        now, current = self.now, self.current
        if desired != current:
            direction = 1 if desired > current else -1
            flapped = direction > 0 and state.direction < 0 and now - state.changed_at < self.flap_window
            flaps = (*state.flaps, now) if flapped else state.flaps
            state = replace(state, desired=desired, direction=direction, flaps=flaps, changed_at=now)
            if direction < 0:
                state = replace(state, probe=None)  # a scale-up's effect cannot be judged across a scale-down
        decision = AutoDecision(
            self.pool,
            current,
            desired,
            rule,
            reason,
            predicted=predicted,
            limit=limit,
            demand=self.demand,
            steady=self.steady,
        )
        return decision, state
