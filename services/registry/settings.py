"""Registry settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.settings import DEFAULT_LEASE_TTL, CommonSettings, LeaseTtl


class RegistrySettings(CommonSettings, frozen=True, kw_only=True):
    lost_after: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="seconds without a heartbeat before an agent is lost")
    ] = 15.0
    start_timeout: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="seconds a spawned agent has to register")
    ] = 60.0
    sweep_interval: Annotated[
        float, msgspec.Meta(gt=0, le=3600, description="seconds between checks for lost agents")
    ] = 1.0
    lease_ttl: LeaseTtl = DEFAULT_LEASE_TTL
