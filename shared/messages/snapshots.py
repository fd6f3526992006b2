"""Monitor snapshots: the host's resources and every pool's agents, queue and task figures."""

from __future__ import annotations

from typing import Literal

from .base import Message
from .bounds import Name
from .cluster import ClusterView
from .decisions import DecisionEvent
from .hosts import Cordon
from .leases import LeaseRecord
from .optimize import Optimized
from .pools import AutoConfig, Mode

RoomBound = Literal["memory", "CPU"]
"""The host resource that bounds how many more agents a host takes."""


class HostSnapshot(Message, frozen=True, kw_only=True):
    host: str
    cpu_count: int
    cpu_percent: float
    """Host CPU use over the last sample interval, 0-100."""
    load1: float
    iowait_percent: float = 0.0
    """Share of CPU time spent waiting for I/O over the last sample interval, 0-100 (0 where not reported)."""
    memory_total: int
    memory_available: int
    memory_percent: float
    disk_total: int
    disk_free: int
    disk_read_bps: float
    disk_write_bps: float
    agents: int
    """Agent processes measured on this host."""
    agent_rss_avg: int
    """Mean resident memory of this host's agents in bytes, shared pages counted in full (0 when none run)."""
    agent_pss_avg: int = 0
    """Mean proportional memory of this host's agents in bytes: shared pages split among their sharers."""
    agent_memory_budget: int
    """Bytes budgeted per new agent: the mean PSS measured now or, when no agent runs, last time; the pools'
    configured figure before any agent was measured."""
    memory_reserve: int
    """Bytes kept free for the host itself."""
    agents_fit: int
    """How many more agents fit in available memory, after the reserve."""
    agent_cpu_avg: float = 0.0
    """Mean CPU of this host's sampled agents over the last interval, in percent of one core (0 when none was
    measured twice yet)."""
    agents_cpu_percent: float = 0.0
    """Estimated share of the host's CPU all its agents use, 0-100: ``agent_cpu_avg`` x ``agents`` over the
    cores."""
    cpu_fit: int | None = None
    """How many more agents the CPU takes at ``agent_cpu_avg`` each while the host stays under
    ``shared.capacity.CPU_CEILING``; None when no per-agent CPU was measured or it is about 0."""
    room: int = 0
    """How many more agents the host takes: the smaller of ``agents_fit`` and ``cpu_fit`` (when measured). The
    one figure the policy checks scale-ups against and ``status`` shows (0 from a monitor older than it)."""
    room_bound: RoomBound = "memory"
    """What bounds ``room``: ``memory`` (``agents_fit``) or ``CPU`` (``cpu_fit``, when it is the smaller)."""


class AgentCounts(Message, frozen=True, kw_only=True):
    starting: int = 0
    ready: int = 0
    busy: int = 0
    draining: int = 0


class QueueStats(Message, frozen=True, kw_only=True):
    pending: int = 0
    """Tasks waiting in the stream, not yet delivered."""
    in_flight: int = 0
    """Tasks delivered to an agent and not yet acknowledged."""
    waiting_pulls: int = 0
    """Pull requests from idle agents waiting for tasks."""
    submitted: int = 0
    """Tasks ever queued in the pool's stream (its last sequence): the monitor's arrival count."""


class TaskStats(Message, frozen=True, kw_only=True):
    completed: int = 0
    failed: int = 0
    throughput: float = 0.0
    """Tasks finished per second over the stats window."""
    latency_p50: float = 0.0
    """Seconds from submission to result, median over the stats window."""
    latency_p95: float = 0.0
    wait_p95: float = 0.0
    """Seconds from submission to start, 95th percentile over the stats window."""
    window: float = 0.0
    service_mean: float = 0.0
    """Seconds from start to finish, mean over the stats window (0 when no task finished in it)."""
    arrival_rate: float = 0.0
    """Tasks submitted per second since the previous snapshot."""


class PoolCost(Message, frozen=True, kw_only=True):
    """What a priced pool costs (``PoolConfig.cost_per_agent_hour`` and ``cost_per_task``), in its currency."""

    per_agent_hour: float
    per_task: float
    burn_rate: float
    """Cost per hour at the current agents and throughput."""
    last_hour: float
    """Cost of the agent-seconds and finished tasks of the last hour (whole minutes)."""
    last_day: float
    """The same over the last day."""
    covered: float
    """Seconds back that the monitor has seen the pool (at most a day): the figures cover no more."""


class WindowFigures(Message, frozen=True, kw_only=True):
    """Tasks finished in a window of whole seconds."""

    throughput: float
    """Tasks finished per second."""
    latency_mean: float
    """Mean seconds from submission to finish (0 when none finished)."""
    wait_mean: float
    """Mean seconds from submission to start."""
    tasks: int


class ScalingImpact(Message, frozen=True, kw_only=True):
    """What a change of a pool's count did: its figures in a window before and in one after it."""

    at: float
    previous: int
    desired: int
    rule: str
    before: WindowFigures
    after: WindowFigures | None
    """None until the window after the change has passed."""
    per_agent_before: float
    """Throughput per agent before the change (tasks per second over ``previous`` agents)."""
    per_agent_after: float
    flags: list[str] = []
    """``no_gain``: a scale-up whose throughput rose by less than a quarter of its share (an upstream limit,
    a saturated host, or no more work); ``degraded``: a scale-up after which throughput per agent fell below
    three quarters of before."""
    cost_per_hour: float = 0.0
    """What the change adds to the pool's cost an hour (negative: saves), at its price per agent-hour."""


class PoolSnapshot(Message, frozen=True, kw_only=True):
    name: str
    mode: Mode
    desired: int
    placement: dict[str, int] = {}
    """Each host's share of ``desired``, as the policy placed it (empty: not placed, every host runs all)."""
    idle: dict[str, int] = {}
    """The pool's agents with no task (ready or still starting) on each host that has any: the ones a scale-down
    takes first."""
    max_agents: int
    agents: AgentCounts
    queue: QueueStats
    tasks: TaskStats
    start_time: float = 0.0
    """Seconds the pool's agents took from being started to registering, the median over the latest ones to
    start (0 when none was seen starting)."""
    spawn_rate: float = 0.0
    """Agents a second the hosts brought up while many of the pool's were wanted at once (the median over
    the last hour): the pace a burst's agents arrive at. 0 when not seen."""
    auto: AutoConfig | None = None
    """The pool's auto-mode settings (stored with it; in force when ``mode`` is ``auto``)."""
    last_decision: DecisionEvent | None = None
    """The policy's latest decision for the pool: its rule, trigger, counts and reason."""
    cost: PoolCost | None = None
    """What the pool costs, when it is priced."""
    impacts: list[ScalingImpact] = []
    """The pool's latest changes of count and what they did, newest first."""
    optimized: Optimized | None = None
    """The report of the pool's latest ``optimize`` run, without its trade-off points (``front``); None when
    it was never optimized."""
    room: int = 0
    """How many more agents the pool can have: its limit (``max_agents``, or in auto mode the auto max when
    lower) less ``desired``, or the fresh hosts' ``room`` summed when that is smaller."""
    room_bound: str = ""
    """What bounds ``room``, in words: ``the pool's max_agents 40``, ``its auto max 12``, or the hosts'
    resources, naming them (``memory on h1, CPU on h2: fits 12 more``). Empty from a monitor older than it."""
    cpu_hold: str = ""
    """In auto mode, the hosts whose CPU is at or above ``shared.capacity.CPU_CEILING``, in words (``host CPU
    at 97%``, with ``on h2`` when several hosts are known): auto mode adds no agent until it falls. Empty
    otherwise."""
    problems: list[str] = []
    """Why the pool's agents cannot run, as each live actuator that runs the pool reports it: a handler or env
    its host does not allow (the actuator's ``handlers`` / ``env_keys``), or a handler that cannot be loaded."""


class Snapshot(Message, frozen=True, kw_only=True):
    at: float
    host: HostSnapshot
    """The machine of the monitor that took the snapshot."""
    pools: list[PoolSnapshot]
    hosts: list[HostSnapshot] = []
    """In a status reply, every host whose monitor was heard lately, sorted by name (``host`` among them);
    empty in the snapshots the monitors publish."""
    leaders: dict[str, LeaseRecord | None] = {}
    """In a status reply, each leased service (policy, registry) and the lease of the instance that leads it;
    null when none does (no lease, or one not renewed within its ``ttl`` by the monitor's clock). Empty in the
    snapshots the monitors publish."""
    cluster: ClusterView | None = None
    """In a status reply, the NATS servers and the replicas and leader of each of agentscaler's streams and
    buckets; None in the snapshots the monitors publish."""
    cordons: dict[str, Cordon] = {}
    """In a status reply, the hosts an operator cordoned or drained (``agentscaler host``), by name."""


class StatusQuery(Message, frozen=True, kw_only=True):
    pool: Name | None = None
