"""Placement: a pool's desired count split across the hosts that may run it, as per-host shares that each
host's actuator converges to. Pure: the hosts and their room in, the shares out.

- Shares already placed stay where they are when they can: growing adds agents, shrinking removes them, and
  no agent moves without need. A host no longer among the candidates (gone, cordoned, refusing the pool)
  loses its share, which goes to the others.
- ``spread`` (the default, like Kubernetes' default scoring) adds each agent where the most room is left,
  and takes each one away from the host with the most of the pool's agents.
- ``pack`` fills the host that already runs the most of the pool's agents while it has room (to use fewer
  hosts), and takes agents away from the host with the fewest first (to free hosts).
- A host's room is its monitor's figure (how many more agents it fits; memory or CPU bounds it). A host
  whose room is unknown is placed on after those with room. Once no host has room left, agents still get
  placed (the policy refuses or limits counts beyond the hosts' room before they come here), evenly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["spread", "pack"]


@dataclass(frozen=True)
class Candidate:
    host: str
    room: int | None = None
    """More agents the host fits now; None when no monitor of it reported lately."""


def place(
    desired: int, candidates: Sequence[Candidate], current: Mapping[str, int], strategy: Strategy = "spread"
) -> dict[str, int]:
    """Each candidate host's share of ``desired`` (they sum to it), from the ``current`` shares; {} with no
    candidate (then every actuator that runs the pool runs all of it, as with one host)."""
    if not candidates:
        return {}
    shares = {c.host: max(current.get(c.host, 0), 0) for c in candidates}
    free = {c.host: c.room for c in candidates}
    total = sum(shares.values())
    while total < desired:
        host = _grow(shares, free, strategy)
        shares[host] += 1
        room = free[host]
        if room is not None:
            free[host] = room - 1
        total += 1
    while total > desired:
        host = _shrink(shares, free, strategy)
        shares[host] -= 1
        room = free[host]
        if room is not None:
            free[host] = room + 1
        total -= 1
    return shares


def _grow(shares: Mapping[str, int], free: Mapping[str, int | None], strategy: Strategy) -> str:
    """The host the next agent goes to."""

    def has_room(host: str) -> bool:
        room = free[host]
        return room is not None and room > 0

    roomy = [h for h in shares if has_room(h)]
    unknown = [h for h in shares if free[h] is None]
    if strategy == "pack":
        return min(roomy or unknown or list(shares), key=lambda h: (-shares[h], h))
    if roomy:
        return min(roomy, key=lambda h: (-(free[h] or 0), shares[h], h))
    return min(unknown or list(shares), key=lambda h: (shares[h], h))


def _shrink(shares: Mapping[str, int], free: Mapping[str, int | None], strategy: Strategy) -> str:
    """The host the next agent is taken from."""
    placed = [h for h in shares if shares[h] > 0]
    if strategy == "pack":
        return min(placed, key=lambda h: (shares[h], h))
    return min(placed, key=lambda h: (-shares[h], free[h] if free[h] is not None else 0, h))
