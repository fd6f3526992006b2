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
    labels: list[str] = []
    """What the host offers, as its operator names it (its ``labels`` setting: ``gpu``, ``zone=eu``): a pool's
    ``hosts`` patterns match these as well as the host name."""
    problems: dict[str, str] = {}
    """Pool name -> why this actuator runs none of its agents (a handler or env it does not allow, a
    handler that cannot be loaded)."""
    checked: dict[str, str] = {}
    """Pool name -> the handler this actuator has tried (a probe imports it as an agent would) or refused: for
    that handler, ``problems`` holds its verdict (no entry: it loads)."""
    at: float
    """When it was written (seconds since the epoch)."""
    interval: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds between its writes (its heartbeat)."""
    lost_after: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """Seconds without a write after which the host counts as lost (its ``lost_after`` setting): its pools'
    shares are placed on other hosts. 0 (an older actuator): three ``interval``s."""

    def live(self, now: float) -> bool:
        return now - self.at <= (self.lost_after or 3 * self.interval)


class Cordon(Message, frozen=True, kw_only=True):
    """An operator's hold on a host, in the ``agentscaler-cordons`` bucket under the host's name (written by the
    policy on ``agentscaler host cordon|drain``; deleted on ``uncordon``). A cordoned host gets no new agents but
    keeps those it runs; a drained one gives its agents back (they drain: busy ones finish their task) and they
    are placed on the other hosts."""

    host: str
    drain: bool = False
    at: float
    actor: str = ""
    """Who asked (the public key or name of the sender), when the bus vouches for it."""
