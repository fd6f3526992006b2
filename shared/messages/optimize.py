"""``agentscaler optimize``: the request on ``agentscaler.optimize``, its progress on
``agentscaler.evt.optimize.<pool>`` and its report (the reply, also kept in the ``agentscaler-optimize`` bucket
under the pool's name, which ``status`` shows)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Message, Tagged
from .bounds import HISTORY_DAYS
from .pools import DEFAULT_POOL, AutoConfig

DAY = 86400.0


class Optimize(Tagged, frozen=True, kw_only=True, tag="optimize"):
    """Tune a pool's auto settings to its recorded load: replay the load through the simulator over a search
    of the settings and report the best found beside the current ones."""

    pool: str = DEFAULT_POOL
    since: Annotated[float, msgspec.Meta(gt=0, le=HISTORY_DAYS * DAY)] = DAY
    """Seconds of history to replay, back from now (at most the days of history the policy keeps)."""
    budget: Annotated[float, msgspec.Meta(gt=0, le=1e9)] | None = None
    """The most the pool may cost an hour (in its price's currency): no configuration predicted to cost more
    is recommended. Needs the pool's ``cost_per_agent_hour``."""
    apply: bool = False
    """Store the recommended settings with the pool (in force at once if the pool is in auto mode)."""


class Trial(Message, frozen=True, kw_only=True):
    """One configuration's simulated run over the recorded load."""

    config: AutoConfig
    agent_seconds: float
    """Agent-seconds provisioned over the run: what the agents cost in time."""
    cost: float
    """What the run cost at the pool's prices (0 when unpriced)."""
    cost_per_hour: float
    """``cost`` per hour of the recorded span."""
    p95_wait: float
    """Seconds the tasks waited in the queue, 95th percentile over the whole run."""
    minutes_over: float
    """Minutes whose tasks' p95 wait exceeded the pool's target wait (the mean over the rebuilds of the
    load)."""
    minutes: int
    """Minutes with at least one arrival."""
    actions: int
    """Changes of the agent count."""
    peak_agents: int
    unfinished: int = 0
    """Tasks never started by the end of the run (too few agents)."""


class OptimizeProgress(Message, frozen=True, kw_only=True):
    """Published on ``agentscaler.evt.optimize.<pool>`` as configurations are evaluated."""

    pool: str
    evaluated: int
    """Configurations simulated so far."""
    best: Trial | None = None
    """The best one so far (by the search's order: within the budget, no more minutes over target than now,
    then the fewest agent-seconds)."""


class Optimized(Tagged, frozen=True, kw_only=True, tag="optimized"):
    """The report of an optimize run: the current settings and the recommended ones, each with its predicted
    figures over the recorded load, and the cost/latency trade-off found on the way."""

    pool: str
    at: float
    """When the run finished (epoch seconds)."""
    since: float
    """The start of the recorded load replayed (epoch seconds)."""
    span: float
    """Seconds of recorded load replayed."""
    samples: int
    """Demand samples the load was rebuilt from."""
    tasks: int
    """Tasks in the rebuilt load."""
    start_delay: float
    """Seconds the simulated agents take to start (the pool's measured start time)."""
    spawn_rate: float = 0.0
    """Agents a second the simulated host starts at most (the pool's measured pace; 0: no limit)."""
    target_wait: float
    """The target (the current settings') that minutes over are counted against."""
    budget: float | None = None
    per_agent_hour: float = 0.0
    per_task: float = 0.0
    evaluated: int
    """Configurations simulated."""
    seconds: float
    """Wall seconds the search took."""
    current: Trial
    recommended: Trial | None
    """The best configuration found; None when none fits the budget."""
    changes: list[str] = []
    """The recommended settings that differ from the current ones, e.g. ``scale_down_window 10 -> 5``."""
    front: list[Trial] = []
    """The cost/latency trade-off: the configurations no other beat on both cost and p95 wait, cheapest
    first."""
    note: str = ""
    """The outcome in words."""
    applied: bool = False
    """Whether the recommended settings were stored with the pool."""
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""
