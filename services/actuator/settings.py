"""Actuator settings."""

from __future__ import annotations

import sys
from typing import Annotated

import msgspec

from agentscaler.shared.settings import CommonSettings


class ActuatorSettings(CommonSettings, frozen=True, kw_only=True):
    reconcile_interval: Annotated[
        float, msgspec.Meta(gt=0, description="seconds between reconcile passes when nothing changes")
    ] = 1.0
    spawn_batch: Annotated[int, msgspec.Meta(ge=1, description="most agents started per pool in one pass")] = 100
    spawn_pause: Annotated[
        float,
        msgspec.Meta(ge=0, description="seconds between passes while agents are still to start (paces NATS connects)"),
    ] = 0.1
    pools: Annotated[list[str], msgspec.Meta(description="pools this actuator runs; empty for all")] = []
    min_uptime: Annotated[
        float, msgspec.Meta(gt=0, description="an agent exiting sooner than this counts as a crash for backoff")
    ] = 10.0
    max_backoff: Annotated[
        float, msgspec.Meta(gt=0, description="longest wait before restarting a crashing pool's agents")
    ] = 30.0
    python: Annotated[str, msgspec.Meta(description="interpreter that runs agents")] = sys.executable
    agent_log: Annotated[
        str, msgspec.Meta(description="file the agents' output goes to; empty to share the actuator's")
    ] = ""
