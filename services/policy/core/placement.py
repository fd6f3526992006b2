"""Placement: a pool's desired count split across the hosts that may run it, as per-host shares that each
host's actuator converges to. Pure: the hosts and their room in, the shares out.

- Shares already placed stay where they are when they can: growing adds agents, shrinking removes them, and
  no agent moves without need. A host no longer among the candidates (gone, cordoned, refusing the pool)
  loses its share, which goes to the others.
- ``spread`` (the default, like Kubernetes' default scoring) adds each agent where the most room is left,
  and takes each one away from the host with the most of the pool's agents. Either way a shrinking pool gives
  back idle agents first, whichever host they are on, then busy ones (which finish their task first).
- ``pack`` fills the host that already runs the most of the pool's agents while it has room (to use fewer
  hosts), and takes agents away from the host with the fewest first (to free hosts).
- A host's room is its monitor's figure (how many more agents it fits; memory or CPU bounds it). A host
  whose room is unknown is placed on after those with room. Once no host has room left, agents still get
  placed (the policy refuses or limits counts beyond the hosts' room before they come here), evenly.
- A cordoned host keeps its share but gets no more; when every candidate is cordoned, the agents beyond their
  shares stay unplaced (the shares sum to less than the desired count) until a host may take them.
- Rebalancing moves at most ``moves`` agents, and idle ones only (a busy agent is never stopped for balance):
  with ``spread``, from the host with the most of the pool's agents to one with at least two fewer and at
  least two more free room (a new host gets its part this way; counts decide, so a noisy room figure alone
  never moves an agent); with ``pack``, from the host with the fewest to the fullest one with room left (to
  free hosts). A moved agent exits on its old host while its replacement starts on the new one.
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
    cordoned: bool = False
    """Keeps its share, takes no more."""
    idle: int = 0
    """The pool's agents there with no task: a shrinking pool gives these back first, from any host."""


def place(
    desired: int,
    candidates: Sequence[Candidate],
    current: Mapping[str, int],
    strategy: Strategy = "spread",
    moves: int = 0,
) -> dict[str, int]:
    """Each candidate host's share of ``desired`` (they sum to it, unless only cordoned hosts are left), from the
    ``current`` shares, with at most ``moves`` agents moved between hosts to even them out (``spread``) or free
    hosts (``pack``); {} with no candidate (then every actuator that runs the pool runs all of it, as with one
    host)."""
    if not candidates:
        return {}
    shares = {c.host: max(current.get(c.host, 0), 0) for c in candidates}
    free = {c.host: c.room for c in candidates}
    open_ = {c.host for c in candidates if not c.cordoned}
    idle = {c.host: min(c.idle, shares[c.host]) for c in candidates if c.idle > 0}
    total = sum(shares.values())
    while total > desired:
        host = _shrink({h: shares[h] for h in idle}, free, strategy) if idle else _shrink(shares, free, strategy)
        _take(shares, free, host)
        if host in idle:
            idle[host] -= 1
            if idle[host] <= 0:
                del idle[host]
        total -= 1
    while total < desired and open_:
        _give(shares, free, _grow({h: shares[h] for h in sorted(open_)}, free, strategy))
        total += 1
    for _ in range(moves):
        move = _move(shares, free, open_, strategy, idle)
        if move is None:
            break
        _take(shares, free, move[0])
        _give(shares, free, move[1])
        idle[move[0]] -= 1
        if idle[move[0]] <= 0:
            del idle[move[0]]
    return shares


def _give(shares: dict[str, int], free: dict[str, int | None], host: str) -> None:
    shares[host] += 1
    room = free[host]
    if room is not None:
        free[host] = room - 1


def _take(shares: dict[str, int], free: dict[str, int | None], host: str) -> None:
    shares[host] -= 1
    room = free[host]
    if room is not None:
        free[host] = room + 1


def _move(
    shares: Mapping[str, int],
    free: Mapping[str, int | None],
    open_: set[str],
    strategy: Strategy,
    idle: Mapping[str, int],
) -> tuple[str, str] | None:
    """The host an idle agent moves from and the one it moves to, or None when the placement is as even
    (``spread``) or as packed (``pack``) as the hosts' room and their idle agents allow: a busy agent is never
    moved, so none is stopped mid-task for balance."""

    def takes(host: str) -> bool:
        room = free[host]
        return host in open_ and (room is None or room > 0)

    placed = [h for h in shares if shares[h] > 0 and idle.get(h, 0) > 0]
    if not placed:
        return None
    if strategy == "pack":
        source = min(placed, key=lambda h: (shares[h], h))
        fuller = [h for h in open_ if h != source and shares[h] >= shares[source] and (free[h] or 0) > 0]
        if not fuller:
            return None
        return source, min(fuller, key=lambda h: (-shares[h], h))
    source = min(placed, key=lambda h: (-shares[h], _room(free, h), h))

    def roomier(host: str) -> bool:  # the spread rule: toward more free room (as far as both are known)
        there, here = free[host], free[source]
        return there is None or here is None or there - here >= 2

    targets = [h for h in shares if takes(h) and shares[source] - shares[h] >= 2 and roomier(h)]
    if not targets:
        return None
    return source, min(targets, key=lambda h: (-_room(free, h), shares[h], h))


def _room(free: Mapping[str, int | None], host: str) -> int:
    room = free[host]
    return 0 if room is None else room


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
