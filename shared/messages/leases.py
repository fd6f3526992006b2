"""Leadership leases, kept in the ``agentscaler-leases`` bucket under the service's name: which instance of a
service that must act alone (the policy, the registry) leads it now."""

from __future__ import annotations

from .base import Message

LEASED_SERVICES = ("policy", "registry")
"""The services that run as one leader and any number of standbys."""


class LeaseRecord(Message, frozen=True, kw_only=True):
    """The lease of one service, written by its leader when it takes the lease and at each renewal."""

    service: str
    """The service led (the record's key)."""
    holder: str
    """The leading instance: ``<host>:<pid>:<random token>``, unique to one process's life."""
    host: str
    """The host the leader runs on."""
    pid: int
    """The leader's process id on its host."""
    since: float
    """When this holder took the lease (epoch seconds)."""
    renewed_at: float
    """When the holder last renewed it (epoch seconds, its own clock: shown to people, never compared)."""
    ttl: float
    """Seconds the lease holds without a renewal: a standby that has seen the record unchanged this long (on its
    own clock) may take it over; the holder stops acting sooner, ``ttl`` less a margin after its last renewal."""
