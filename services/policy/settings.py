"""Policy settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from agentscaler.shared.messages.pools import DEFAULT_POOL
from agentscaler.shared.settings import DEFAULT_LEASE_TTL, CommonSettings, LeaseTtl


class PolicySettings(CommonSettings, frozen=True, kw_only=True):
    default_pool: Annotated[
        bool, msgspec.Meta(description=f"create the {DEFAULT_POOL!r} pool (example handler) if missing")
    ] = True
    rebalance_step: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=100_000,
            description="most agents moved between hosts at once to even a pool out (e.g. onto a new host)",
        ),
    ] = 10
    rebalance_interval: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="least seconds between two such moves of one pool's agents")
    ] = 5.0
    snapshot_max_age: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="seconds a host snapshot counts for capacity checks")
    ] = 30.0
    history_max_age: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=10 * 365 * 86400,
            description="seconds of decisions and demand samples kept (more than two seasons)",
        ),
    ] = 15 * 86400.0
    history_max_mb: Annotated[
        int, msgspec.Meta(gt=0, le=1 << 20, description="MiB the history stream may take; the oldest records go first")
    ] = 256
    audit_max_age: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=10 * 365 * 86400, description="seconds of audit records (commands, permission violations) kept"
        ),
    ] = 90 * 86400.0
    audit_max_mb: Annotated[
        int, msgspec.Meta(gt=0, le=1 << 20, description="MiB the audit stream may take; the oldest records go first")
    ] = 256
    actors: Annotated[
        str,
        msgspec.Meta(
            description="file naming the users audit records show (public key -> role: `auth init`'s actors.json)"
        ),
    ] = ""
    history_interval: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="seconds between an auto pool's demand samples in the history")
    ] = 30.0
    wake_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=3600, description="least seconds between decisions that task arrivals prompt for one pool"
        ),
    ] = 0.2
    optimize_workers: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=256, description="processes that simulate configurations for `optimize` (at low priority)"
        ),
    ] = 2
    optimize_draws: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100_000,
            description="random rebuilds of the recorded load each configuration is judged on (their mean)",
        ),
    ] = 2
    optimize_minute: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=3600,
            description="seconds of the windows `optimize` judges the p95 wait in (less for a sped-up replay)",
        ),
    ] = 60.0
    lease_ttl: LeaseTtl = DEFAULT_LEASE_TTL
