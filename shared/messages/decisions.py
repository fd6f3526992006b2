"""Policy decisions, published on ``agentscaler.evt.decision.<pool>``: every change of a pool's desired count,
and in auto mode every change of the rule that holds it (e.g. a hold because the host's CPU is saturated)."""

from __future__ import annotations

from typing import Literal

from .base import Message
from .pools import Mode


class Observation(Message, frozen=True, kw_only=True):
    """What the auto policy sees of a pool at one moment: built by the policy service from the latest
    monitor snapshot and the task submissions since, or by a simulator from its simulated queue."""

    at: float
    """When this was observed (epoch seconds, or the simulator's clock)."""
    pending: int
    """Tasks waiting in the queue, not yet delivered to an agent."""
    in_flight: int
    """Tasks delivered to an agent and not yet finished: work that scaling down must not drop."""
    agents: int
    """Agents running or starting, not draining."""
    busy: int
    """Agents running a task."""
    arrival_rate: float
    """Tasks submitted per second, recently."""
    service_time: float
    """Mean seconds an agent spends on a task, recently; 0 when no task has finished yet."""
    wait_p95: float
    """95th percentile of the seconds recent tasks waited in the queue before an agent started them."""
    throughput: float
    """Tasks finished per second, recently."""
    cpu_percent: float | None = None
    """Host CPU use, 0-100; None when unknown."""
    iowait_percent: float | None = None
    """Share of CPU time the host spent waiting for I/O, 0-100; None when unknown."""
    agents_fit: int | None = None
    """How many more agents the hosts take (their ``room`` summed, memory or CPU bounding each); None when
    unknown."""
    room_bound: str = "memory"
    """What bounds ``agents_fit``: ``memory``, ``CPU`` or ``memory and CPU``."""
    start_time: float = 0.0
    """Seconds the pool's agents took from being started to ready (registered), recently; 0 when
    unknown."""

    @property
    def backlog(self) -> int:
        """Every task not yet finished: the queued ones and the ones in progress."""
        return self.pending + self.in_flight


class DecisionEvent(Message, frozen=True, kw_only=True):
    pool: str
    previous: int
    desired: int
    rule: str
    """The rule that fired, e.g. ``manual.scale`` or ``manual.clamp_to_max``."""
    reason: str
    """The decision in words."""
    trigger: Literal["command", "snapshot", "config", "arrival", "mode"]
    """What prompted it: a command, a monitor snapshot, a pool config change, a task arriving (auto pools
    react to submissions at once), or a change of mode."""
    at: float
    mode: Mode = "manual"
    applied: bool = True
    """False for a dry run (``agentscaler auto --dry-run``): computed and published, not applied."""
    predicted: int = 0
    """The floor that prediction set, when it raised the count (0 otherwise)."""
    limit: str = ""
    """What held the count below demand: ``max``, ``capacity``, ``cpu``, ``io``, ``plateau`` or ``step``."""
    demand: int = 0
    """Agents the queue and task figures called for, before prediction and limits (auto mode)."""
    prediction: str = ""
    """Whether the load profile's prediction is active and why (auto mode; empty otherwise), e.g. ``active:
    period 1h detected, the forecast beats reactive on the recorded 6h: ...``, ``inactive: no period in the 2d of
    history``, ``inactive: period 1d detected, the forecast does not beat reactive ...``, ``off by setting``."""
    inputs: Observation | None = None
    """What an auto decision saw."""
    actor: str = ""
    """Who sent the command that made it (as in the audit record; empty for the policy's own decisions and
    for commands sent on bare subjects)."""
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class DemandSample(Message, frozen=True, kw_only=True):
    """An auto pool's load over a sampling interval, recorded on ``agentscaler.history.<pool>``."""

    pool: str
    at: float
    demand: int
    """The most agents the queue and task figures called for during the interval."""
    agents: int
    desired: int
    pending: int
    in_flight: int
    arrival_rate: float
    service_time: float
    steady: float | None = None
    """The mean agents the arrivals alone needed over the interval (Little's law): what the load profile
    learns. None in samples without it; the profile then learns ``demand``."""
    interval: float | None = None
    """Seconds the sample covers (it ends at ``at``). None in samples without it."""
    arrived: int | None = None
    """Tasks submitted to the pool during the interval, counted as they were published: with ``interval``
    and ``service_mean``, a record of the load that can be replayed. None in samples without it."""
    service_mean: float | None = None
    """Mean service time (seconds) over the interval's observations that had one; None when none had."""
    arrivals: list[tuple[float, int]] | None = None
    """When in the interval the tasks came: at each decision that saw new ones, (seconds since the interval
    began, tasks submitted since the previous entry). A replay puts each entry's tasks between it and the one
    before, so that a burst keeps its shape. None in samples without it."""
    start_time: float | None = None
    """Seconds the pool's agents took to start, as the policy last knew it (0: not known). None in samples
    without it."""
