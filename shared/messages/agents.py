"""Agent registration, heartbeats, lifecycle events and registry queries."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Message, Tagged
from .bounds import AgentId, BeatInterval, Name, Pid, Tally, Timestamp

AgentState = Literal["starting", "ready", "busy", "draining"]


class Register(Message, frozen=True, kw_only=True):
    """Sent by an agent (request) once it is connected and about to pull tasks."""

    agent_id: AgentId
    pool: Name
    host: Name
    pid: Pid
    started_at: Timestamp
    traceparent: Annotated[str, msgspec.Meta(max_length=256)] = ""
    interval: BeatInterval = 0.0
    """The agent's heartbeat interval (see Heartbeat.interval)."""
    start_seconds: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 0.0
    """Seconds the agent took to start: from its process beginning to run (a forked agent: from the fork
    server letting it start) to this request; 0 when unknown."""


class Heartbeat(Message, frozen=True, kw_only=True):
    """Published by an agent every heartbeat interval, and at once when it starts draining."""

    agent_id: AgentId
    pool: Name
    host: Name
    pid: Pid
    state: AgentState
    completed: Tally = 0
    failed: Tally = 0
    busy_since: Timestamp = 0.0
    """When the task in progress started (0 when idle)."""
    held: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 0
    """Tasks the agent holds: the one running and any prefetched ones waiting their turn."""
    sent_at: Timestamp = 0.0
    interval: BeatInterval = 0.0
    """The agent's heartbeat interval: the registry allows three missed beats (0: the registry's default)."""


class Deregister(Message, frozen=True, kw_only=True):
    """Sent by an agent (request) after its last task, just before it exits."""

    agent_id: AgentId
    pool: Name
    completed: Tally = 0
    failed: Tally = 0


class Ack(Message, frozen=True, kw_only=True):
    ok: bool = True
    message: str = ""


class AgentRecord(Message, frozen=True, kw_only=True):
    """What the registry knows of one agent."""

    agent_id: str
    pool: str
    host: str
    pid: int
    state: AgentState
    started_at: float
    last_seen: float
    busy_since: float = 0.0
    held: int = 0
    """Tasks the agent holds (running and prefetched), from its last heartbeat."""
    completed: int = 0
    failed: int = 0
    traceparent: str = ""
    interval: float = 0.0
    """Seconds between the agent's heartbeats (0: unknown)."""
    start_seconds: float = 0.0
    """Seconds the agent took to start, as it said when registering; for one that did not say (registered by
    its heartbeat), from the actuator's ``spawned`` event to its registration; 0 when neither is known."""


class AgentsQuery(Message, frozen=True, kw_only=True):
    pool: Name | None = None
    host: Name | None = None
    after: str = ""
    """Page on: only agents whose id sorts after this (the previous reply's ``next``); empty for the first page."""


class AgentList(Message, frozen=True, kw_only=True):
    agents: list[AgentRecord]
    """At most ``AGENTS_PAGE`` agents, sorted by id: a reply stays under NATS's 1 MiB message limit."""
    next: str = ""
    """Non-empty when more agents follow: ask again with ``after`` set to it."""


AGENTS_PAGE = 1000
"""Agents in one registry reply (~270 bytes each)."""


# Lifecycle events on agentscaler.evt.agent.<type>.


class Spawned(Tagged, frozen=True, kw_only=True, tag="spawned"):
    """The actuator started an agent process; it is ``starting`` until it registers."""

    agent_id: str
    pool: str
    host: str
    pid: int
    at: float
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class Exited(Tagged, frozen=True, kw_only=True, tag="exited"):
    """The actuator reaped an agent process. ``code`` is the exit status, negative for a signal."""

    agent_id: str
    pool: str
    host: str
    pid: int
    code: int
    drained: bool
    """True when the actuator had asked the agent to drain."""
    at: float
    reason: str = ""
    """Set when the actuator did not reap the process itself, and why it is gone anyway (an agent of the
    actuator's previous run, which ended with it); ``code`` is then 0, as it is not known."""
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class Registered(Tagged, frozen=True, kw_only=True, tag="registered"):
    agent: AgentRecord
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class Deregistered(Tagged, frozen=True, kw_only=True, tag="deregistered"):
    agent: AgentRecord
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


class Lost(Tagged, frozen=True, kw_only=True, tag="lost"):
    """An agent stopped without deregistering: missed heartbeats, never registered, or died."""

    agent: AgentRecord
    reason: str
    summary: str = ""
    """One line for people (e.g. a chat bridge relays it); machines read the other fields."""


AgentEvent = Spawned | Exited | Registered | Deregistered | Lost
