"""How many agents a pool needs right now, from its queue and task figures, and which signal says so."""

from __future__ import annotations

import math
from dataclasses import dataclass

from agentscaler.shared.messages.decisions import Observation
from agentscaler.shared.messages.pools import AutoConfig

WAIT_BOOST_CAP = 2.0
"""The most the wait signal multiplies the busy agents by in one decision: waits lag behind scaling (they
are measured over tasks already started), so a late figure must not send the count soaring."""


@dataclass(frozen=True)
class Demand:
    agents: int
    """Agents needed."""
    signal: str
    """Which input set the figure: ``arrivals`` (Little's law), ``backlog`` or ``wait``."""
    reason: str


def demand(obs: Observation, config: AutoConfig) -> Demand:
    """The agents needed to keep up with arrivals and start every queued task within the target wait.

    - **Arrivals** (Little's law): ``arrival_rate x service_time`` agents are busy on average; divided by the
      target utilization, so the rest absorb the noise of arrivals.
    - **Backlog**: the tasks in progress keep their agents; the queued ones need ``pending x service_time /
      target_wait`` more agents to all start within the target wait. Until a task has finished (service
      time unknown, e.g. scaling from zero), every unfinished task gets an agent.
    - **Wait**: when tasks are queueing and the 95th-percentile wait is over the target, the busy agents
      times how far over (at most twice).
    """
    s = obs.service_time
    if s <= 0:
        n = obs.backlog
        return Demand(n, "backlog", f"{obs.pending} queued + {obs.in_flight} in progress, service time not yet known")
    arrivals = math.ceil(obs.arrival_rate * s / config.utilization - 1e-9)
    queued = math.ceil(obs.pending * s / config.target_wait - 1e-9)
    backlog = max(obs.in_flight, arrivals) + queued
    candidates = [
        Demand(
            arrivals,
            "arrivals",
            f"{obs.arrival_rate:.2f} tasks/s x {s:.2f} s per task / {config.utilization:.0%} utilization",
        ),
        Demand(
            backlog,
            "backlog",
            f"{obs.pending} queued x {s:.2f} s / {config.target_wait:g} s target wait on top of "
            f"{max(obs.in_flight, arrivals)} busy",
        ),
    ]
    if obs.pending > 0 and obs.wait_p95 > config.target_wait:
        boost = min(obs.wait_p95 / config.target_wait, WAIT_BOOST_CAP)
        candidates.append(
            Demand(
                math.ceil(max(obs.busy, 1) * boost),
                "wait",
                f"p95 wait {obs.wait_p95:.1f} s over the {config.target_wait:g} s target with {obs.pending} queued",
            )
        )
    return max(candidates, key=lambda d: d.agents)
