"""Policy settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.settings import CommonSettings


class PolicySettings(CommonSettings, frozen=True, kw_only=True):
    default_pool: Annotated[
        bool, msgspec.Meta(description="create the 'default' pool (example handler) if missing")
    ] = True
    snapshot_max_age: Annotated[
        float, msgspec.Meta(gt=0, description="seconds a host snapshot counts for capacity checks")
    ] = 30.0
