"""The timing rules of a leadership lease, apart from any I/O: times are arguments, in seconds of the caller's
monotonic clock (or, for :func:`lapsed`, epoch seconds), so a test can play them on a clock of its own.

A holder renews every ``ttl / 3`` and stops acting ``ttl - margin`` after the start of its last successful
renewal; a standby takes the lease over only once it has seen the same revision for a full ``ttl`` on its own
clock. The holder's write happened after the holder's renewal started and before the standby first saw its
revision, so the old holder has stopped ``margin`` seconds before a standby may act: no two instances act at
once, with no clock shared between hosts (only their rates, which the margin covers).
"""

from __future__ import annotations

from dataclasses import dataclass

RENEWALS_PER_TTL = 3
"""Renewals a holder makes per ``ttl``: two may fail (time out) before it stops acting."""
MARGIN_SHARE = 0.25
"""Share of ``ttl`` between the moment a holder that cannot renew stops acting and the moment a standby may take
over: room for the holder to tear its service down, and for clocks that run at slightly different rates."""
LOOKS_PER_TTL = 6
"""How often per ``ttl`` a standby reads the lease (at least once a second)."""


@dataclass(frozen=True)
class LeaseTiming:
    """When a holder renews and when it must consider its lease lost."""

    ttl: float

    @property
    def renew_every(self) -> float:
        return self.ttl / RENEWALS_PER_TTL

    @property
    def margin(self) -> float:
        return self.ttl * MARGIN_SHARE

    @property
    def look_every(self) -> float:
        """Seconds between a standby's reads of the lease."""
        return min(1.0, self.ttl / LOOKS_PER_TTL)

    def renew_at(self, renewed: float) -> float:
        """When to renew a lease last renewed (the renewal's start) at ``renewed``."""
        return renewed + self.renew_every

    def lost_at(self, renewed: float) -> float:
        """When a holder whose last successful renewal started at ``renewed`` must stop acting."""
        return renewed + self.ttl - self.margin

    def held(self, renewed: float, now: float) -> bool:
        return now < self.lost_at(renewed)

    def next_wake(self, renewed: float, now: float) -> float:
        """When the holder has something to do next: renew (a renewal overdue, because the last one failed, is
        tried again every ``look_every``), or, should renewals keep failing, stop acting."""
        renew = self.renew_at(renewed)
        if renew <= now:
            renew = now + self.look_every
        return min(renew, self.lost_at(renewed))


@dataclass
class Sighting:
    """What a standby has seen of a lease it does not hold: the revision, and when it first saw that one."""

    revision: int = 0
    """0: nothing seen yet (or the lease was absent)."""
    seen_at: float = 0.0

    def saw(self, revision: int, now: float) -> None:
        """The lease read at ``now`` (the time the reply came) had ``revision``."""
        if revision != self.revision:
            self.revision, self.seen_at = revision, now

    def may_take(self, ttl: float, now: float) -> bool:
        """Whether the record seen has gone ``ttl`` seconds (its holder's promise) without a renewal, so its
        holder has stopped acting and a standby may take the lease over by compare-and-set on the revision."""
        return self.revision != 0 and now - self.seen_at >= ttl


def lapsed(renewed_at: float, ttl: float, now: float) -> bool:
    """Whether a lease record renewed at ``renewed_at`` (epoch seconds, the holder's clock) looks abandoned at
    ``now`` (the reader's clock): for display only, as it compares two hosts' clocks."""
    return now - renewed_at > ttl
