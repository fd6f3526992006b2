"""What each actuator publishes about itself: the code and environment its host lets pools run, and why
pools it should run have no agents."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Message


class ActuatorInfo(Message, frozen=True, kw_only=True):
    """An actuator's entry in the ``agentscaler-hosts`` bucket, under its host name. Written at start, when
    its problems change and every ``interval`` seconds; deleted when it stops."""

    host: str
    handlers: list[str]
    """The handler patterns the host allows (the actuator's ``handlers`` setting)."""
    env_keys: list[str]
    """The pool environment keys the host allows (the actuator's ``env_keys`` setting)."""
    pools: list[str] = []
    """The pools this actuator runs; empty for all (its ``pools`` setting)."""
    problems: dict[str, str] = {}
    """Pool name -> why this actuator runs none of its agents (a handler or env it does not allow, a
    handler that cannot be loaded)."""
    checked: dict[str, str] = {}
    """Pool name -> the handler this actuator has tried (a probe imports it as an agent would) or refused: for
    that handler, ``problems`` holds its verdict (no entry: it loads)."""
    at: float
    """When it was written (seconds since the epoch)."""
    interval: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds between its writes: an entry older than three of them is an actuator gone."""

    def live(self, now: float) -> bool:
        return now - self.at <= 3 * self.interval
