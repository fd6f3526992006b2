"""Pool configuration and desired state, both kept in JetStream KV."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Message
from .bounds import DAY, HOUR, MAX_AGENTS

Mode = Literal["manual", "auto"]

DEFAULT_HANDLER = "agentscaler.services.agent.examples.llm:simulate"

DEFAULT_POOL = "default"
"""The pool a command acts on when none is named, and the one the policy creates at start-up."""

Positive = Annotated[float, msgspec.Meta(gt=0)]
Share = Annotated[float, msgspec.Meta(ge=0, lt=1)]
Agents = Annotated[int, msgspec.Meta(ge=0, le=MAX_AGENTS)]
Window = Annotated[float, msgspec.Meta(ge=0.01, le=DAY)]
"""A time constant of the auto policy, in seconds: 10 ms (simulations run faster than life) to a day."""
MiB = Annotated[int, msgspec.Meta(ge=0, le=1_048_576)]
"""Up to 1 TiB."""
Price = Annotated[float, msgspec.Meta(ge=0, le=1e6)]
EnvKey = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, msgspec.Meta(pattern=r"^[^\x00]{0,4096}$")]
HostPattern = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.=*?\[\]!-]{1,128}$")]
"""A host name or label, or a shell pattern of them (``gpu-*``, ``zone=eu``)."""
"""An environment variable's value: up to 4096 characters, no NUL."""


class AutoConfig(Message, frozen=True, kw_only=True):
    """How the policy sizes a pool in auto mode (``agentscaler auto``). Stored with the pool's config."""

    min_agents: Agents = 0
    """The fewest agents the policy keeps, 0 to scale to zero when there is no work."""
    max_agents: Agents | None = None
    """The most agents the policy starts; None for the pool's ``max_agents``."""
    target_wait: Window = 5.0
    """Seconds a task should wait in the queue before an agent starts it (95th percentile)."""
    utilization: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    """Share of its agents a pool should keep busy under steady load. At 1 (the default) no agent is kept
    idle for arrival noise: a task that finds every agent busy waits a moment in the queue, and the backlog
    rule adds agents when the wait would exceed the target. Agents that take longer than ``target_wait`` to
    start get the headroom the target needs on their own (Erlang C). Lower it to trade idle agents for
    shorter waits."""
    rate_smoothing: Window = 15.0
    """Seconds over which the arrival rate is smoothed: a burst shows up as backlog at once, while a noisy rate
    must not move the count."""
    max_step_up: Annotated[int, msgspec.Meta(ge=1, le=MAX_AGENTS)] = 500
    """The most agents one decision adds."""
    scale_down_window: Window = 3.0
    """Seconds a lower count must be recommended throughout before the pool shrinks to it (at least three
    times the agents' start time). Agents forked from a warm server start in well under a second, so this
    can be far shorter than an HPA's 300 s: an idle agent held longer than a few starts costs more than
    starting it again would."""
    tolerance: Share = 0.1
    """Relative change below which the count is left alone (no scaling on noise)."""
    flap_window: Window = 60.0
    """A scale-up this soon (seconds) after a scale-down, and within twice the scale-down window in force, is a
    flap. Up to ten flaps in the last ten flap windows are noise being followed; each one beyond doubles the
    scale-down window (up to 16 times) and widens the tolerance a scale-down must clear."""
    predict: bool = True
    """Allow prediction: the policy finds the load's period in its history and raises the floor ahead of load
    that recurred at this time in earlier periods, whenever that forecast beats the reactive rules on the
    recorded load (simulated). False: never predict."""
    season: Annotated[float, msgspec.Meta(ge=1, le=28 * DAY)] = 86400.0
    """The longest period looked for in the history, in seconds: a day (86400) or a week (604800)."""
    dry_run: bool = False
    """Compute and publish decisions without applying them (forecast only)."""


class PoolConfig(Message, frozen=True, kw_only=True):
    """How a pool's agents run. Stored in the ``agentscaler-pools`` bucket under the pool's name."""

    name: str
    handler: Annotated[str, msgspec.Meta(max_length=256)] = DEFAULT_HANDLER
    """The task handler, ``module:function``: an async callable taking the payload, returning a JSON-able result."""
    max_agents: Agents = 100
    """The most agents this pool may run."""
    ack_wait: Annotated[float, msgspec.Meta(ge=1, le=DAY)] = 30.0
    """Seconds a task may go without an ack or in-progress signal before JetStream redelivers it."""
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    """Deliveries of a task (handler errors or agent deaths) before it is reported failed."""
    drain_timeout: Annotated[float, msgspec.Meta(ge=0.1, le=DAY)] = 60.0
    """Seconds a draining agent may take to finish its task before it is killed (its task is redelivered)."""
    task_timeout: Annotated[float, msgspec.Meta(ge=0.1, le=7 * DAY)] = 3600.0
    """Seconds a task's handler may run. Past it the task fails "timed out after N s" (not retried) and the agent
    is replaced by a fresh one, even when the handler ignores cancellation or blocks the event loop."""
    agent_memory_mb: Annotated[float, msgspec.Meta(ge=1, le=1_048_576)] = 16.0
    """Memory budgeted per agent before any agent has been measured. A forked agent costs ~10 MiB (PSS); set
    ~40 for pools with spawn = "exec"."""
    agent_memory_limit_mb: MiB = 256
    """Hard memory limit per agent, in MiB: each agent's data size (``RLIMIT_DATA``) is capped at this, so a handler
    that allocates past it fails its task "out of memory (limit N MiB)" and the agent is replaced. Where the
    actuator runs pools in cgroups, the pool's cgroup may also use this times its slots (``max_agents``, or the
    agents running if more, plus one for the fork server); past that the kernel's OOM killer ends the largest of
    its processes. 0 for no limit."""
    agent_pids_limit: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 32
    """Processes and threads allowed per agent slot in the pool's cgroup (pids.max), so a handler cannot
    fork-bomb the host. An agent uses one to a few (an exporter thread, the event loop's resolver threads).
    0 for no limit."""
    heartbeat_interval: Annotated[float, msgspec.Meta(ge=0.1, le=300)] = 15.0
    """Seconds between an agent's heartbeats (busy/ready changes are reported within a second anyway); the
    registry declares an agent lost after three missed beats. Each beat costs CPU: 1000 agents at 15 s are
    ~70 messages a second."""
    pull_timeout: Annotated[float, msgspec.Meta(ge=0.1, le=HOUR)] = 30.0
    """Seconds an idle agent's pull request waits for a task before it is renewed. A draining agent ends its
    pull at once, so a long one costs nothing at scale-down."""
    prefetch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    """Tasks an agent takes from the queue at once. 1 (the default) suits tasks of seconds or more: an agent
    holds no task it is not running. Raise it (e.g. 16) for many short tasks: one pull then serves several,
    at the cost of tasks queueing behind each other in one agent while another may be idle (a waiting task
    gets in-progress signals, so it is not redelivered meanwhile)."""
    env: Annotated[dict[EnvKey, EnvValue], msgspec.Meta(max_length=256)] = {}
    """Extra environment variables for the pool's agents (handler settings)."""
    auto: AutoConfig = AutoConfig()
    """The policy's settings for this pool in auto mode."""
    cost_per_agent_hour: Price = 0.0
    """What an agent of this pool costs an hour running, in any currency (0: not priced). ``status`` reports
    the pool's burn rate and the cost of its last hour and day from it."""
    cost_per_task: Price = 0.0
    """What a finished task costs on top (e.g. its LLM tokens), in the same currency (0: not priced)."""
    spawn: Literal["fork", "exec"] = "fork"
    """How agents start: forked from the pool's preloaded fork server (fast, small), or as fresh interpreters
    (for handlers that are not fork-safe, e.g. ones that start threads at import)."""
    placement: Literal["spread", "pack"] = "spread"
    """How the desired count is split across the hosts that run the pool: ``spread`` puts each agent where the
    most room is left; ``pack`` fills one host while it has room before the next (fewer hosts in use)."""
    hosts: Annotated[list[HostPattern], msgspec.Meta(max_length=64)] = []
    """The hosts that may run the pool: shell patterns (``gpu-*``) matched against each actuator's host name and
    the labels it announces (its ``labels`` setting, e.g. ``gpu`` or ``zone=eu``). Empty: any host."""


POOL_DEFAULTS = PoolConfig(name=DEFAULT_POOL)
"""Every pool setting at its default: what an agent started without the actuator's environment assumes, and
what the actuator assumes of a pool whose config it does not know (e.g. one deleted while its agents run:
they drain within the default ``drain_timeout``)."""


class DesiredState(Message, frozen=True, kw_only=True):
    """What a pool should look like. Written by the policy only; the actuator converges to it."""

    pool: str
    desired: Annotated[int, msgspec.Meta(ge=0)]
    mode: Mode = "manual"
    updated_at: float = 0.0
    reason: str = ""
    traceparent: str = ""
    """W3C trace context of the command that set this count, so the actuator's work joins its trace."""
    hosts: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = {}
    """Each host's share of ``desired`` (they sum to it), as the policy placed it: an actuator runs its own
    host's share. Empty when no actuator is known (or from an older policy): every actuator that runs the pool
    then runs all of it."""
