"""Commands to the policy (subject ``agentscaler.cmd``) and their replies: tagged unions on ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Tagged
from .pools import DEFAULT_POOL, AutoConfig, DesiredState, Mode, PoolConfig

Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class Scale(Tagged, frozen=True, kw_only=True, tag="scale"):
    """Scale a manual pool to ``count`` agents. ``direction`` states the intent (up or down) so that a
    mistyped number is refused instead of shrinking or growing the pool the wrong way."""

    pool: str = DEFAULT_POOL
    direction: Literal["up", "down"]
    count: Count


class SetPool(Tagged, frozen=True, kw_only=True, tag="set_pool"):
    """Create a pool or change its configuration (its stream and consumer are created or updated too)."""

    config: PoolConfig


class GetPool(Tagged, frozen=True, kw_only=True, tag="get_pool"):
    pool: str = DEFAULT_POOL


class ListPools(Tagged, frozen=True, kw_only=True, tag="list_pools"):
    pass


class SetMode(Tagged, frozen=True, kw_only=True, tag="set_mode"):
    """Hand a pool to the policy (``auto``) or take it back at its current size (``manual``). With ``auto``
    set, those settings are stored with the pool first; without, the stored ones apply."""

    pool: str = DEFAULT_POOL
    mode: Mode
    auto: AutoConfig | None = None


class HostCommand(Tagged, frozen=True, kw_only=True, tag="host"):
    """Hold a host, like ``kubectl cordon/drain``: ``cordon`` places no new agents there (those it runs stay),
    ``drain`` moves its agents to the other hosts (they drain: busy ones finish their task first), ``uncordon``
    lets it take agents again (it gets a share at the next decision, by the rebalancing bound)."""

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    action: Literal["cordon", "uncordon", "drain"]


Command = Scale | SetPool | GetPool | ListPools | SetMode | HostCommand


class Scaled(Tagged, frozen=True, kw_only=True, tag="scaled"):
    """The pool's desired count is now ``desired`` (it was ``previous``)."""

    pool: str
    previous: int
    desired: int
    note: str = ""
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class PoolInfo(Tagged, frozen=True, kw_only=True, tag="pool_info"):
    config: PoolConfig
    state: DesiredState
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class PoolList(Tagged, frozen=True, kw_only=True, tag="pool_list"):
    pools: list[PoolInfo]
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class HostHeld(Tagged, frozen=True, kw_only=True, tag="host_held"):
    """The host's hold now, and the shares it keeps (pool -> agents placed there) after the command."""

    host: str
    held: Literal["cordoned", "draining", "none"]
    shares: dict[str, int] = {}
    note: str = ""
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class Error(Tagged, frozen=True, kw_only=True, tag="error"):
    """A request that was refused or failed. ``code`` is stable for machines, ``message`` says what was wrong
    and what to do."""

    code: Literal[
        "bad_request", "unknown_pool", "unknown_host", "refused", "conflict", "too_little_history", "internal"
    ]
    message: str
    summary: str = ""
    """What was wrong, plainly, for people who are not at a shell (a chat bridge relays it): ``message``
    without its CLI advice, backticks or type names."""


CommandReply = Scaled | PoolInfo | PoolList | HostHeld | Error
