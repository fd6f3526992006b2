"""The oracle: a clairvoyant policy that knows every future arrival and service time, and a lower bound on what
any policy could do. Policies' agent-seconds are reported as a ratio to it.

**The problem.** Under the simulator's rules (``simulate``'s module docstring), a policy that keeps every task's
wait within the target ``W`` starts task ``i`` at some ``s_i`` in ``[a_i, d_i]``, where ``d_i = max(a_i + W, D)``
(``D`` the start delay: no agent is ready before ``D``, so a task arriving earlier may wait until then). Every
agent costs ``D`` while it starts, then its tasks' service times, then the time it is kept idle. So the
agent-seconds are ``work + D * launches + idle``: between two tasks on one agent, an idle gap ``g`` costs
``min(g, D)`` at best (keep the agent, or let it go and start a fresh one ``D`` before it is needed).

**The feasible schedule** (:func:`plan`). The FIFO queue is replayed as the simulator dispatches it: a task goes
to an idle ready agent at its arrival (the one idle since latest, so that the others' gaps grow long enough to be
let go), else waits for the busy agent free soonest if that is by its deadline, else an agent is launched for it.
An agent idle for longer than ``D`` before its next task (or after its last) leaves when it went idle. A
:class:`Rule` sets the choices: an agent launched for a task nobody queues behind is ready just in time (its
first task ends when the next task arrives) or at the task's deadline, so that it idles less; with *patience*,
idle agents leave rather than take a task that a busy agent can take by its deadline; with *relief*, an agent
needed by a task queued behind others is ready when the queue began (no earlier than the task before it started,
nor than ``D`` before the task) and the queue's tasks are replayed with it, so that one launch serves the whole
queue (at most ``QUEUE_REPLAY`` tasks are replayed, keeping the replay's cost bounded). Each launch is ready no
earlier than the task before started, or a task still queued would take it first: so the plan is exactly what
the simulator does with its count. The oracle replays the :data:`RULES` and keeps the cheapest plan, a count
that changes only at launches and departures, which the simulator applies when the oracle asks for them
(``next_call``), so the oracle's figures are the simulator's own. It assumes agents start all at once
(``spawn_rate`` 0); a count above ``max_agents`` is capped by the simulator, making it infeasible
(``Oracle.feasible`` says so). On 300 random traces of up to 6 tasks it is optimal on 297 and within 1.08x on
the rest (tests/unit/test_oracle.py).

**The lower bound** (``oracle_bound.lower_bound``). Let ``r(t)`` be the ready agents (not starting) of any
feasible run and ``b(t) <= r(t)`` its busy ones. Each agent that becomes ready cost ``D`` before, and ``r``
rises by one only when one does, so agent-seconds ``>= integral(r) + D * rises(r)``. Task ``i`` runs over
``[d_i, a_i + p_i)`` whatever its start, so ``b >= b_f``, the count of these forced intervals. Split a count
into levels ``{r >= k}``: the minimum of ``integral(r) + D' * rises(r)`` over ``r >= b_f`` is, level by level,
the forced time plus ``D'`` for the level's first on-period plus ``min(gap, D')`` for each gap between its
on-periods. Since also ``integral(r) >= integral(b) = work``, for every ``l`` in [0, 1], agent-seconds
``>= l * work + (1 - l) * integral(r) + D * rises(r) >= D * peak(b_f) + l * work + (1 - l) * integral(b_f) +
sum over gaps of min((1 - l) * gap, D)`` (the level split with ``D' = D / (1 - l)``); the bound is the most of
that over ``l``, and at least ``work + D`` when there is a task. The same level split gives, for fixed starts,
the exact cheapest count (the tests' brute force enumerates starts and uses it).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

from .oracle_bound import deadline, lower_bound
from .simulate import PoolView
from .workload import Workload


@dataclass(frozen=True)
class Rule:
    """How :func:`plan` replays the queue (module docstring)."""

    just_in_time: bool
    """A launched agent is ready so that its first task ends when the next task arrives (within the first's
    arrival and deadline); if not, at the first task's deadline."""
    patience: float = math.inf
    """Idle agents leave (when they went idle) rather than take a task that a busy agent can take by its
    deadline, if the latest of them has been idle this many start delays."""
    relieve: bool = False
    """When a task queued behind others would need a new agent, the agent is ready when the queue began and the
    queue's tasks are replayed with it (else it is ready no earlier than the task before started)."""


QUEUE_REPLAY = 500
"""The most tasks of one queue replayed when an agent is added to it: past that, the queue is replayed only from
the task where it passed this length (keeping each replay's cost bounded)."""

RULES = [
    Rule(just_in_time=True, patience=0.0),
    Rule(just_in_time=True, patience=0.5, relieve=True),
    Rule(just_in_time=False, relieve=True),
]
"""The rules the oracle replays, keeping the cheapest plan: on small traces each alone is optimal less often."""


@dataclass(frozen=True)
class Plan:
    """A count schedule: agent launches and departures, sorted, and what it costs."""

    launches: list[float]
    departures: list[float]
    agent_seconds: float

    def count(self, now: float) -> int:
        """Agents provisioned at ``now`` (launches and departures at ``now`` included)."""
        return bisect_right(self.launches, now) - bisect_right(self.departures, now)

    def next_change(self, now: float) -> float:
        """The first launch or departure after ``now``; ``math.inf`` if none."""
        up, down = bisect_right(self.launches, now), bisect_right(self.departures, now)
        return min(
            self.launches[up] if up < len(self.launches) else math.inf,
            self.departures[down] if down < len(self.departures) else math.inf,
        )

    @property
    def peak(self) -> int:
        """The most agents provisioned at once (the count is highest just after a launch)."""
        return max((up + 1 - bisect_right(self.departures, at) for up, at in enumerate(self.launches)), default=0)


def plan(workload: Workload, *, target_wait: float, start_delay: float, rule: Rule) -> Plan:
    """Replay the queue as ``rule`` says (module docstring)."""
    arrivals, services, delay = workload.arrivals, workload.services, start_delay
    patience = rule.patience * delay if rule.patience < math.inf else math.inf
    idle: deque[float] = deque()  # since when each idle agent is idle, oldest first
    busy: list[float] = []  # heap: when each busy (or starting) agent is next free
    launches: list[float] = []
    departures: list[float] = []
    last = 0.0  # the previous task's start: tasks start in arrival order
    queue = -1  # the first task of the current queue (tasks that found no idle agent); -1 if none
    saved: tuple[list[float], int, int, float] = (busy, 0, 0, last)  # the state before that task
    relief: list[float] = []  # launches of the agents added to the current queue
    replayed = -1  # the task whose launch set off the latest replay: no idle agent leaves early until past it

    def late(start: float, arrival: float) -> bool:  # as the simulator works out the wait, rounding included
        return start - arrival > target_wait and start > delay

    def launch_at(ready: float, arrival: float) -> float:  # the simulator readies it at ``at + delay``
        at = ready - delay
        while at > 0 and late(at + delay, arrival):
            at = math.nextafter(at, -math.inf)
        return at

    i = 0
    while i < len(arrivals):
        arrival, service = arrivals[i], services[i]
        while busy and busy[0] <= arrival:
            idle.append(heapq.heappop(busy))
        while idle and idle[0] + delay < arrival:
            departures.append(idle.popleft())
        # (Not those idle since the arrival itself: the simulator would give them the task before they leave.)
        waited = arrival - idle[-1] if idle and i > replayed else -math.inf
        if waited > 0 and waited >= patience and busy and not late(busy[0], arrival):
            departures += idle
            idle.clear()
        if idle:
            idle.pop()
            heapq.heappush(busy, arrival + service)
            last, queue, i = arrival, -1, i + 1
            continue
        if queue >= 0 and i - queue > QUEUE_REPLAY:  # a long queue: only its latest tasks are replayed
            queue, saved, relief = i, (busy.copy(), len(launches), len(departures), last), []
        if busy and not late(busy[0], arrival):
            if queue < 0 and rule.relieve:  # the first task to wait: a queue begins
                queue, saved, relief = i, (busy.copy(), len(launches), len(departures), last), []
            last, i = busy[0], i + 1
            heapq.heapreplace(busy, last + service)
            continue
        due = deadline(arrival, target_wait, delay)
        if queue < 0:  # no task queued: the agent is ready when the rule says
            ready = arrivals[i + 1] - service if rule.just_in_time and i + 1 < len(arrivals) else due
            launches.append(launch_at(min(max(ready, arrival, last, delay), due), arrival))
            last, i = launches[-1] + delay, i + 1
            heapq.heappush(busy, last + service)
            continue
        # The tasks queued since the queue began are replayed with one more agent, ready then.
        # Not before the task before the queue started (it would take the agent first), nor so early that the
        # agent would leave idle before this task arrives.
        busy, kept, gone, last = saved
        relief.append(launch_at(max(arrivals[queue], last, delay, arrival - delay), arrival))
        replayed = max(replayed, i)
        busy = busy.copy()
        del launches[kept:], departures[gone:]
        launches += relief
        for launched in relief:
            heapq.heappush(busy, launched + delay)
        i = queue
    departures += idle
    departures += busy
    # A departure is asked for just after the agent goes idle: the simulator dispatches the tasks starting at a
    # call's time after the call, so a zero-length task ending then must not lose its agent.
    departures = sorted(math.nextafter(at, math.inf) for at in departures)
    launches.sort()
    return Plan(launches, departures, math.fsum(departures) - math.fsum(launches))


class Oracle:
    """The clairvoyant policy: the cheapest of the :data:`RULES` plans, applied by the simulator at each change
    of its count; ``lower_bound`` is what no policy that keeps every wait within the target can beat."""

    name = "oracle"
    period = math.inf
    wakes_on_arrival = False

    def __init__(self, workload: Workload, *, target_wait: float, start_delay: float, max_agents: int):
        plans = [plan(workload, target_wait=target_wait, start_delay=start_delay, rule=rule) for rule in RULES]
        self.plan = min(plans, key=lambda p: p.agent_seconds)
        self.feasible = self.plan.peak <= max_agents
        """Whether ``max_agents`` allows the plan's peak (if not, the simulator caps it and waits exceed)."""
        self.lower_bound = lower_bound(workload, target_wait=target_wait, start_delay=start_delay)

    def decide(self, pool: PoolView, now: float) -> int:
        """The plan's count at ``now``."""
        return self.plan.count(now)

    def next_call(self, now: float) -> float:
        """The plan's next change of count."""
        return self.plan.next_change(now)
