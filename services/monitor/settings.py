"""Monitor settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.settings import CommonSettings


class MonitorSettings(CommonSettings, frozen=True, kw_only=True):
    interval: Annotated[float, msgspec.Meta(gt=0, le=3600, description="seconds between snapshots")] = 2.0
    stats_window: Annotated[
        float,
        msgspec.Meta(gt=0, le=86400, description="seconds of finished tasks behind throughput and latency figures"),
    ] = 60.0
    memory_reserve_mb: Annotated[
        float, msgspec.Meta(ge=0, le=1 << 30, description="memory kept free for the host, never given to agents")
    ] = 1024.0
    disk_path: Annotated[str, msgspec.Meta(description="file system whose usage is reported")] = "/"
    host_max_age: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="seconds a host not heard from stays in status replies")
    ] = 30.0
    impact_window: Annotated[
        float,
        msgspec.Meta(gt=0, le=400, description="seconds before and after a scaling change compared in status"),
    ] = 60.0
    impact_settle: Annotated[
        float,
        msgspec.Meta(ge=0, le=100, description="seconds after a change before its after-window starts"),
    ] = 5.0
    stuck_after: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=86400, description="seconds after a change of a pool's desired count before it is reported stuck"
        ),
    ] = 120.0
