"""The NATS cluster under agentscaler, as a status reply shows it: the servers, and the copies (replicas) of
each of agentscaler's streams and buckets with the server that leads each."""

from __future__ import annotations

from .base import Message


class StreamReplicas(Message, frozen=True, kw_only=True):
    stream: str
    """The stream's name (a bucket's is ``KV_<bucket>``)."""
    replicas: int
    """The copies JetStream keeps of it."""
    leader: str = ""
    """The name of the server that leads it; empty when it has none now (an election under way, or no quorum)."""
    current: int = 1
    """Its copies that are up to date, the leader's included."""


class ClusterView(Message, frozen=True, kw_only=True):
    name: str = ""
    """The NATS cluster's name; empty for a single server."""
    connected: str = ""
    """The URL of the server the monitor is connected to."""
    server: str = ""
    """That server's name (as stream leaders are named)."""
    servers: list[str] = []
    """Every server URL the monitor's connection knows: those it was given and those the cluster told it of,
    where it reconnects should its server go."""
    replicas: int = 1
    """The monitor's ``replicas`` setting: what the streams and buckets should have."""
    streams: list[StreamReplicas] = []
    """agentscaler's streams and buckets that exist, by name."""
