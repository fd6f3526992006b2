"""Agent settings, set by the actuator through ``AGENTSCALER_*`` environment variables."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.messages.pools import DEFAULT_HANDLER
from agentscaler.shared.settings import CommonSettings


class AgentSettings(CommonSettings, frozen=True, kw_only=True):
    agent_id: Annotated[str, msgspec.Meta(description="this agent's id, unique in the system")] = ""
    pool: Annotated[str, msgspec.Meta(description="the pool whose tasks this agent pulls")] = "default"
    handler: Annotated[str, msgspec.Meta(description="task handler as module:function")] = DEFAULT_HANDLER
    ack_wait: Annotated[
        float, msgspec.Meta(gt=0, description="the consumer's ack wait; in-progress acks go every third of it")
    ] = 30.0
    max_attempts: Annotated[
        int, msgspec.Meta(ge=1, description="deliveries of a task before it is reported failed")
    ] = 3
    heartbeat_interval: Annotated[float, msgspec.Meta(gt=0, description="seconds between heartbeats")] = 5.0
    pull_timeout: Annotated[float, msgspec.Meta(gt=0, description="seconds a pull request waits for a task")] = 5.0
    prefetch: Annotated[int, msgspec.Meta(ge=1, description="tasks taken from the queue at once")] = 1
    spawn_concurrency: Annotated[
        int, msgspec.Meta(ge=1, description="fork server: most agents starting at once (the rest wait, forked)")
    ] = 100
    traceparent: Annotated[
        str, msgspec.Meta(description="W3C trace context of the command that started this agent")
    ] = ""
