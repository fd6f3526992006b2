"""How many agents a pool needs right now, from its queue and task figures, and which signal says so.

A fluid model of the queue: ``n`` busy agents finish ``n / s`` tasks a second (``s`` the mean service time),
so the last of ``pending`` queued tasks starts after ``pending * s / n`` seconds, and within the target wait
``w`` when ``n >= pending * s / w``; the queue does not grow when ``n >= rate * s`` (Little's law). The
pool needs the larger of the two: queued tasks use the wait budget instead of getting an agent each.

A small pool is the exception: its agents free up seconds apart (``s / n``), so a queued task waits its turn
longer than a new agent takes to start (about a second from a warm fork server). There each queued task gets
an agent of its own, which goes again once it is idle past the scale-down window.

Both rules rescue queued tasks with new agents, which works while agents start well within the target wait.
Where they start slower (``SLOW_START``), a task that finds every agent busy waits for one to free up, and the
pool keeps the agents that make such waits rare (Erlang C, ``staffing.py``) instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.pools import AutoConfig

from .staffing import agents_for_wait

WAIT_MARGIN = 0.5
"""Share of the target wait the backlog is sized for: the last queued task should start with time to spare."""
WAIT_BOOST_CAP = 1.5
"""The most the wait signal multiplies the busy agents by in one decision: waits lag behind scaling (they
are measured over tasks already started), so a late figure must not send the count soaring."""
OWN_AGENT_WAIT = 0.35
"""Share of the backlog's wait budget: when agents free up further apart than this (``service_time /
agents``), every queued task gets an agent of its own instead of waiting for one to free up."""
SLOW_START = 1.0
"""Share of the target wait: agents that take at least this long to start come too late for a queued task.
For them the arrivals rule staffs the pool for the target wait on its own. (Prediction does not depend on it:
the learned load profile raises the floor for any pool whose forecast beats the reactive rules, ``profile.py``.)"""
SLOW_START_MISS = 0.02
"""For slow-starting agents: the chance a task may wait past the target (the target is a 95th percentile;
the margin covers arrival rates that vary faster than the smoothing follows)."""


@dataclass(frozen=True)
class Demand:
    agents: int
    """Agents needed."""
    steady: int
    """The part that the arrivals alone need (Little's law): what the load profile learns."""
    signal: str
    """Which input set the figure: ``arrivals``, ``backlog`` or ``wait``."""
    reason: str


def slow_start(start: float, config: AutoConfig) -> bool:
    """Whether agents that take ``start`` seconds to start come too late for a task already queued."""
    return start >= config.target_wait * SLOW_START


def demand(obs: Observation, config: AutoConfig, rate: float, start: float = 0.0) -> Demand:
    """The agents needed to keep up with ``rate`` arrivals a second (smoothed by the caller) and start every
    queued task within the target wait, for agents that take ``start`` seconds to start (0: unknown, fast).

    - **Arrivals**: ``rate x service_time`` agents busy on average, divided by the target utilization. For
      slow-starting agents, at least the agents with which a task rarely waits past the target (Erlang C).
    - **Backlog**: enough agents that every queued task starts within the target wait (``WAIT_MARGIN`` of
      it); in a pool whose agents free up too far apart for that (``OWN_AGENT_WAIT``), an agent per queued
      task. Until a task has finished (service time unknown, e.g. scaling from zero), every unfinished task
      gets an agent.
    - **Wait**: when tasks queue and the 95th-percentile wait is over the target, the busy agents times how
      far over (at most 1.5 times).
    """
    s = obs.service_time
    if s <= 0:
        n = obs.in_flight + obs.pending
        return Demand(n, 0, "backlog", f"{obs.pending} queued + {obs.in_flight} in progress, service time unknown")
    exact = rate * s / config.utilization
    steady = math.ceil(exact - 1e-9)
    words = f"{rate:.2f} tasks/s x {s:.2f} s per task / {config.utilization:.0%} utilization"
    slow = slow_start(start, config)
    if slow:
        staffed = agents_for_wait(rate * s, s, config.target_wait, SLOW_START_MISS)
        if staffed > steady:
            steady = staffed
            words = (
                f"{rate:.2f} tasks/s x {s:.2f} s per task, staffed so a task rarely waits past "
                f"{config.target_wait:g} s: agents take {start:.1f} s to start"
            )
    best = Demand(steady, steady, "arrivals", words)
    if obs.pending:
        wait = config.target_wait * WAIT_MARGIN
        # never more agents than tasks to run: an agent per queued task starts them all at once
        each = obs.busy + obs.pending
        n = min(math.ceil(obs.pending * s / wait - 1e-9), each)
        words = f"{obs.pending} queued x {s:.2f} s per task, all to start within {wait:g} s"
        gap = s / max(obs.agents, 1)
        if gap > wait * OWN_AGENT_WAIT and not slow and each > n:
            n = each
            words = f"{obs.pending} queued, an agent each: agents free up {gap:.1f} s apart"
        if n > steady:
            best = Demand(n, steady, "backlog", words)
        if obs.wait_p95 > config.target_wait:
            boost = min(obs.wait_p95 / config.target_wait, WAIT_BOOST_CAP)
            n = math.ceil(max(obs.busy, 1) * boost)
            if n > best.agents:
                words = f"p95 wait {obs.wait_p95:.1f} s over the {config.target_wait:g} s target, {obs.pending} queued"
                best = Demand(n, steady, "wait", words)
    return best
