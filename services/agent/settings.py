"""Agent settings, set by the actuator through ``AGENTSCALER_*`` environment variables.

The pool's settings (pool, handler, ack_wait, ...) come from the pool's ``PoolConfig`` (see
``actuator.processes.agent_environment``); their defaults here are ``PoolConfig``'s, for an agent started by hand.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.messages.pools import DEFAULT_POOL, POOL_DEFAULTS
from agentscaler.shared.settings import CommonSettings

DEFAULT_SPAWN_CONCURRENCY = 100
"""Agents a fork server lets start at once; the actuator's ``spawn_concurrency`` defaults to it too."""


class AgentSettings(CommonSettings, frozen=True, kw_only=True):
    agent_id: Annotated[str, msgspec.Meta(description="this agent's id, unique in the system")] = ""
    pool: Annotated[str, msgspec.Meta(description="the pool whose tasks this agent pulls")] = DEFAULT_POOL
    handler: Annotated[str, msgspec.Meta(description="task handler as module:function")] = POOL_DEFAULTS.handler
    ack_wait: Annotated[
        float,
        msgspec.Meta(gt=0, le=86400, description="the consumer's ack wait; in-progress acks go every third of it"),
    ] = POOL_DEFAULTS.ack_wait
    max_attempts: Annotated[
        int, msgspec.Meta(ge=1, le=1000, description="deliveries of a task before it is reported failed")
    ] = POOL_DEFAULTS.max_attempts
    heartbeat_interval: Annotated[float, msgspec.Meta(gt=0, le=3600, description="seconds between heartbeats")] = (
        POOL_DEFAULTS.heartbeat_interval
    )
    pull_timeout: Annotated[
        float, msgspec.Meta(gt=0, le=3600, description="seconds a pull request waits for a task")
    ] = POOL_DEFAULTS.pull_timeout
    prefetch: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="tasks taken from the queue at once")] = (
        POOL_DEFAULTS.prefetch
    )
    task_timeout: Annotated[
        float, msgspec.Meta(gt=0, le=30 * 86400, description="seconds a task's handler may run")
    ] = POOL_DEFAULTS.task_timeout
    memory_limit_mb: Annotated[
        int, msgspec.Meta(ge=0, le=1 << 30, description="this agent's data size limit in MiB (RLIMIT_DATA), 0 for none")
    ] = POOL_DEFAULTS.agent_memory_limit_mb
    spawn_concurrency: Annotated[
        int,
        msgspec.Meta(ge=1, le=100_000, description="fork server: most agents starting at once (the rest wait, forked)"),
    ] = DEFAULT_SPAWN_CONCURRENCY
    creds_dir: Annotated[
        str,
        msgspec.Meta(description="directory holding <agent_id>.creds, this agent's own user (set by the actuator)"),
    ] = ""
    traceparent: Annotated[
        str, msgspec.Meta(description="W3C trace context of the command that started this agent")
    ] = ""


def with_own_credentials(settings: AgentSettings) -> AgentSettings:
    """``settings`` connecting as the agent's own user when the actuator signed it one (``creds_dir``)."""
    if not settings.creds_dir:
        return settings
    return msgspec.structs.replace(settings, creds=f"{settings.creds_dir}/{settings.agent_id}.creds")
