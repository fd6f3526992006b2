"""A discrete-event simulation of one pool of agents serving a task trace, and the figures it is judged by.

Every policy runs in the same engine with the same rules, so that their figures compare:

- **Queue.** Tasks queue FIFO in arrival order. An idle *ready* agent takes the next task at once; a task's wait
  is its start minus its arrival.
- **Starting.** The host starts the agents a policy adds ``spawn_rate`` a second (all at once when 0, the
  default), each ready ``start_delay`` seconds after its start; meanwhile it is provisioned (and idle). Agents
  removed before they start give their turns back.
- **Scaling down never kills work.** Scaling down to N makes the non-draining count N: idle ready agents leave
  first (at once), then starting ones (the last added first); if that is not enough, busy agents (those whose
  task ends soonest) are marked draining: they take no new task and leave when their task finishes. A draining
  agent counts as provisioned until it leaves.
- **Agent-seconds** is the integral of the provisioned agents (starting, ready, busy and draining) from 0 to the
  end of the run: the later of the trace's last arrival and the last task's finish. **Slack** is the idle part
  of it (starting agents are idle; a draining agent leaves when its task ends, so it is never idle), i.e.
  ``1 - (sum of service times) / agent-seconds``.
- **Policy calls.** A policy is called at t = 0, then every ``period`` seconds of simulated time (on the grid
  ``k * period``), and, if it ``wakes_on_arrival``, also at once when a task arrives while the pool has no
  non-draining agent (scale from zero); and, if it has a ``next_call(now)`` method, also at the time that returns
  when it is later than ``now`` (a policy whose count changes at arbitrary times, such as the oracle). Its answer
  is the desired non-draining count, capped at ``max_agents`` and applied at once. A **scaling action** is a
  call whose answer differs from the previous one.
- **Observation.** A policy reading one (agentscaler's) gets: ``pending`` (arrived, not started), ``in_flight``
  (tasks on busy agents, draining ones included), ``agents`` (non-draining, starting ones included), ``busy``
  (non-draining agents running a task), ``arrival_rate`` over the last 10 s, ``service_time`` (the mean of the
  tasks that finished in the last 60 whole seconds, 0 if none), ``wait_p95`` (of the tasks started in the last
  30 s, 0 if none), ``throughput`` over the last 10 whole seconds and ``start_time`` (the start delay); no
  host figures (CPU, I/O, memory) are simulated, so those are None.
- **Waits.** The p95 queue wait is over all tasks. A *minute over target* is a minute of arrival (tasks grouped
  by ``floor(t / 60)``) whose tasks' p95 wait exceeds the target; minutes without an arrival do not count.
  Percentiles are nearest-rank: the p95 of n values is the ``ceil(0.95 n)``-th smallest.

Time advances from one policy call to the next. In between, the pool's agent count is fixed, so the tasks that
can start before the next call are dispatched in one pass over a heap of the agents' free times (the time each
is next idle: a busy agent's task end, a starting agent's ready time), one heap operation per task; finishes go
into per-second buckets for the recent-throughput figures. A week of a million tasks runs in seconds.

A run that cannot finish its tasks (a policy keeping too few agents) is cut ``OVERRUN`` seconds after the last
arrival; tasks never started count as unfinished, with the wait they had by then.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Protocol

from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.numbers import nearest_rank

from .workload import Workload

ARRIVAL_WINDOW = 10.0
"""Seconds over which the observation's arrival rate is measured."""
THROUGHPUT_WINDOW = 10
"""Whole seconds (the last completed ones) over which the observation's throughput is measured."""
SERVICE_WINDOW = 60
"""Whole seconds (the last completed ones) whose finished tasks give the observation's mean service time."""
WAIT_WINDOW = 30.0
"""Seconds over which started tasks give the observation's p95 wait."""
OVERRUN = 86400.0
"""Seconds past the last arrival a run may take to finish its tasks before it is cut off."""


class PoolView(Protocol):
    """What a policy may read of the simulated pool when it is called."""

    @property
    def agents(self) -> int: ...

    def pending(self) -> int: ...

    def in_flight(self) -> int: ...

    def backlog(self) -> int: ...

    def observation(self) -> Observation: ...


class SizingPolicy(Protocol):
    """A scaling policy under test: asked for the desired agent count at its calls (see the module docstring).
    A policy may also have a ``next_call(now) -> float`` method: the simulator then also calls it at the time
    that returns, when it is later than ``now``."""

    name: str
    period: float
    """Seconds between calls; ``math.inf`` for a single call at t = 0."""
    wakes_on_arrival: bool
    """Also called when a task arrives at a pool with no non-draining agent."""

    def decide(self, pool: PoolView, now: float) -> int: ...


@dataclass(frozen=True)
class RunResult:
    """What one policy did with one workload."""

    policy: str
    agent_seconds: float
    busy_seconds: float
    waits: list[float]
    """Per task, in arrival order; for a task never started, the wait until the run was cut off."""
    actions: int
    unfinished: int
    end: float
    peak_agents: int
    """The most non-draining agents the policy asked for at once."""


class Simulator:
    """One run of ``policy`` over ``workload``; :meth:`run` returns its :class:`RunResult`. The simulator is
    also the :class:`PoolView` the policy reads at each call."""

    def __init__(
        self,
        workload: Workload,
        policy: SizingPolicy,
        *,
        start_delay: float = 1.0,
        max_agents: int = 1000,
        spawn_rate: float = 0.0,
    ):
        self.workload = workload
        self.policy = policy
        self.start_delay = start_delay
        self.spawn_gap = 1 / spawn_rate if spawn_rate > 0 else 0.0
        self._spawn_free = 0.0  # when the host can start the next agent
        self.max_agents = max_agents
        self.now = 0.0
        self._cutoff = workload.end + OVERRUN
        self._free: list[float] = []  # heap: when each non-draining agent is next idle
        self._starting: deque[float] = deque()  # ready times of agents still starting, in order
        self._draining: list[float] = []  # heap: when each draining agent leaves
        self._started = 0  # tasks started: a prefix of the trace, as tasks start in arrival order
        self._arrived = 0  # tasks with arrival <= now
        self._waits: list[float] = []
        self._last_finish = 0.0
        buckets = int(self._cutoff + max(workload.services, default=0.0)) + 2
        self._finished = [0] * buckets  # tasks finishing in each second
        self._finished_service = [0.0] * buckets  # their service seconds
        self._finished_before = [0]  # [s]: tasks finished before second s (prefix sums, extended lazily)
        self._service_before = [0.0]  # [s]: their service seconds
        self._recent_arrival = 0  # first task arriving inside the arrival window
        self._recent_start = 0  # first task starting inside the wait window
        self._recent_queued = 0  # tasks with a positive wait in [_recent_start, _started)
        self._agent_seconds = 0.0
        self._desired = 0
        self._actions = 0
        self._peak = 0
        self._next_tick = 0  # index of the next grid call

    # The view a policy reads.

    @property
    def agents(self) -> int:
        """Non-draining agents, starting ones included."""
        return len(self._free)

    def pending(self) -> int:
        """Tasks arrived and not started."""
        return self._arrived - self._started

    def in_flight(self) -> int:
        """Tasks started and not finished, on non-draining and draining agents."""
        return self._busy() + len(self._draining)

    def backlog(self) -> int:
        """Every task arrived and not finished."""
        return self.pending() + self.in_flight()

    def observation(self) -> Observation:
        """The :class:`Observation` of the pool now, its recent figures over the windows defined above."""
        busy = self._busy()
        throughput, service_time = self._recent_finishes()
        return Observation(
            at=self.now,
            pending=self._arrived - self._started,
            in_flight=busy + len(self._draining),
            agents=len(self._free),
            busy=busy,
            arrival_rate=self._arrival_rate(),
            service_time=service_time,
            wait_p95=self._recent_wait_p95(),
            throughput=throughput,
            start_time=self.start_delay,
        )

    # The run.

    def run(self) -> RunResult:
        """Call the policy at t = 0, then alternate dispatching tasks and calling it until every task has
        finished (and the trace has ended), or the run is cut off."""
        self._call_policy()
        while True:
            until = min(self._next_call(), self._cutoff)
            self._dispatch(until)
            if self._started == len(self.workload):
                end = max(self.workload.end, self._last_finish)
                if until >= end:
                    self._advance(end)
                    break
            self._advance(until)
            if until >= self._cutoff:
                break
            self._call_policy()
        return self._result()

    def _next_call(self) -> float:
        """The next grid call, or the next arrival if the policy wakes on one and no agent would take it, or the
        call the policy asks for, whichever is soonest."""
        tick = self._next_tick * self.policy.period if self._next_tick else 0.0
        asked = getattr(self.policy, "next_call", None)
        if asked is not None and self._next_tick and (wanted := asked(self.now)) > self.now:
            tick = min(tick, wanted)
        if self.policy.wakes_on_arrival and not self._free and self._arrived < len(self.workload):
            return min(tick, self.workload.arrivals[self._arrived])
        return tick

    def _call_policy(self) -> None:
        """Ask the policy for the count now and apply it (capped at ``max_agents``)."""
        if self._next_tick == 0 or self.now >= self._next_tick * self.policy.period:
            self._next_tick += 1
        desired = min(max(self.policy.decide(self, self.now), 0), self.max_agents)
        if desired != self._desired:
            self._actions += 1
            self._desired = desired
            self._peak = max(self._peak, desired)
        if desired > len(self._free):
            self._grow(desired - len(self._free))
        elif desired < len(self._free):
            self._shrink(desired)

    def _dispatch(self, until: float) -> None:
        """Start, in arrival order, every task that an agent can take before ``until`` (the next call, when
        the count may change): each goes to the agent idle soonest, at its arrival or when that agent is free."""
        free = self._free
        if not free:
            return
        arrivals, services, waits = self.workload.arrivals, self.workload.services, self._waits
        finished, finished_service = self._finished, self._finished_service
        i, n, queued, last = self._started, len(arrivals), self._recent_queued, self._last_finish
        while i < n:
            arrival = arrivals[i]
            soonest = free[0]
            start = arrival if arrival >= soonest else soonest
            if start >= until:
                break
            service = services[i]
            finish = start + service
            heapq.heapreplace(free, finish)
            waits.append(start - arrival)
            if start > arrival:
                queued += 1
            second = int(finish)
            finished[second] += 1
            finished_service[second] += service
            if finish > last:
                last = finish
            i += 1
        self._started, self._recent_queued, self._last_finish = i, queued, last

    def _advance(self, to: float) -> None:
        """Move the clock to ``to``: count the agent-seconds on the way, note arrivals, started agents and
        draining agents that left."""
        self._agent_seconds += len(self._free) * (to - self.now)
        self.now = to
        arrivals = self.workload.arrivals
        while self._arrived < len(arrivals) and arrivals[self._arrived] <= to:
            self._arrived += 1
        while self._starting and self._starting[0] <= to:
            self._starting.popleft()
        while self._draining and self._draining[0] <= to:
            heapq.heappop(self._draining)

    def _grow(self, count: int) -> None:
        """Add ``count`` agents, started one per ``spawn_gap`` from when the host is free, each ready
        ``start_delay`` seconds after its start."""
        begin = max(self.now, self._spawn_free)
        for i in range(count):
            ready = begin + i * self.spawn_gap + self.start_delay
            heapq.heappush(self._free, ready)
            if ready > self.now:
                self._starting.append(ready)
        self._spawn_free = begin + count * self.spawn_gap

    def _shrink(self, target: int) -> None:
        """Leave ``target`` non-draining agents: idle ready ones leave first, then starting ones (the last added
        first), then busy ones are drained (those finishing soonest), counted as provisioned until they finish."""
        now = self.now
        remove = len(self._free) - target
        starting = Counter(self._starting)
        idle, busy = [], []
        for free_at in sorted(self._free):
            if free_at <= now:
                idle.append(free_at)
            elif starting[free_at] > 0:
                starting[free_at] -= 1
            else:
                busy.append(free_at)
        gone_idle = min(remove, len(idle))
        remove -= gone_idle
        while remove and self._starting:
            self._starting.pop()
            remove -= 1
        latest = self._starting[-1] - self.start_delay + self.spawn_gap if self._starting else now
        self._spawn_free = min(self._spawn_free, max(latest, now))
        for leaves in busy[:remove]:
            heapq.heappush(self._draining, leaves)
            self._agent_seconds += leaves - now
        self._free = idle[gone_idle:] + list(self._starting) + busy[remove:]
        heapq.heapify(self._free)

    def _result(self) -> RunResult:
        """The run's figures; tasks never started get the wait they had at the cut-off."""
        arrivals, n = self.workload.arrivals, len(self.workload)
        waits = self._waits + [self.now - arrivals[i] for i in range(self._started, n)]
        return RunResult(
            policy=self.policy.name,
            agent_seconds=self._agent_seconds,
            busy_seconds=math.fsum(self.workload.services[: self._started]),
            waits=waits,
            actions=self._actions,
            unfinished=n - self._started,
            end=self.now,
            peak_agents=self._peak,
        )

    # Recent figures for the observation.

    def _busy(self) -> int:
        """Non-draining agents running a task: free later than now, and not because they are starting."""
        now = self.now
        return sum(1 for free_at in self._free if free_at > now) - len(self._starting)

    def _arrival_rate(self) -> float:
        """Tasks per second that arrived in ``(now - ARRIVAL_WINDOW, now]``."""
        arrivals, since = self.workload.arrivals, self.now - ARRIVAL_WINDOW
        while self._recent_arrival < self._arrived and arrivals[self._recent_arrival] <= since:
            self._recent_arrival += 1
        return (self._arrived - self._recent_arrival) / ARRIVAL_WINDOW

    def _recent_finishes(self) -> tuple[float, float]:
        """Tasks per second that finished in the last ``THROUGHPUT_WINDOW`` whole seconds, and the mean service
        seconds of those that finished in the last ``SERVICE_WINDOW`` (0 if none). Buckets of past seconds are
        final (a task finishing before now started before now, so it was dispatched), so prefix sums over them
        are extended as the clock passes and each window is a difference of two."""
        second = int(self.now)
        count, service = self._finished_before, self._service_before
        for s in range(len(count) - 1, second):
            count.append(count[s] + self._finished[s])
            service.append(service[s] + self._finished_service[s])
        throughput = (count[second] - count[max(0, second - THROUGHPUT_WINDOW)]) / THROUGHPUT_WINDOW
        lo = max(0, second - SERVICE_WINDOW)
        finished = count[second] - count[lo]
        return throughput, (service[second] - service[lo]) / finished if finished else 0.0

    def _recent_wait_p95(self) -> float:
        """p95 wait of the tasks started in ``(now - WAIT_WINDOW, now]``; 0 if none. Most waits are 0, so
        only the positive ones are sorted, and only when they reach the top 5%."""
        arrivals, waits, since = self.workload.arrivals, self._waits, self.now - WAIT_WINDOW
        while self._recent_start < self._started and arrivals[self._recent_start] + waits[self._recent_start] <= since:
            if waits[self._recent_start] > 0:
                self._recent_queued -= 1
            self._recent_start += 1
        count = self._started - self._recent_start
        rank = nearest_rank(count, 95)
        zeros = count - self._recent_queued
        if rank <= zeros:
            return 0.0
        positive = sorted(w for w in waits[self._recent_start : self._started] if w > 0)
        return positive[rank - zeros - 1]


def simulate(
    workload: Workload,
    policy: SizingPolicy,
    *,
    start_delay: float = 1.0,
    max_agents: int = 1000,
    spawn_rate: float = 0.0,
) -> RunResult:
    """Run ``policy`` over ``workload`` (see :class:`Simulator`)."""
    return Simulator(workload, policy, start_delay=start_delay, max_agents=max_agents, spawn_rate=spawn_rate).run()
