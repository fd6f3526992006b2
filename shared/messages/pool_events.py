"""Pool events for people, on ``agentscaler.evt.pool.<kind>.<pool>``: a pool reached its desired count, has not
reached it in time, or was refused a scale-up. Each carries a one-line ``summary`` a chat bot can relay as is."""

from __future__ import annotations

from .base import Message
from .snapshots import AgentCounts


class PoolConverged(Message, frozen=True, kw_only=True):
    """The pool's agents match its desired count (ready + busy == desired, none starting or draining) after a
    change of that count; published once per change, by the monitor (``converged``)."""

    pool: str
    desired: int
    seconds: float
    """Seconds from the monitor seeing the change to seeing the pool match it."""
    at: float
    summary: str


class PoolStuck(Message, frozen=True, kw_only=True):
    """The pool has not reached its desired count within the monitor's ``stuck_after`` seconds of a change;
    published once per change, by the monitor (``stuck``)."""

    pool: str
    desired: int
    agents: AgentCounts
    seconds: float
    """Seconds since the monitor saw the change."""
    at: float
    summary: str


class PoolRefused(Message, frozen=True, kw_only=True):
    """The policy refused a scale-up of the pool (its reply's code was ``refused``), published by the policy
    (``refused``)."""

    pool: str
    count: int
    """The count asked for."""
    reason: str
    """The refusal's message: what was wrong and what to do."""
    actor: str = ""
    """Who asked (empty for a bare subject)."""
    at: float
    summary: str


def converged(pool: str, desired: int, seconds: float, at: float) -> PoolConverged:
    summary = f"pool {pool} reached {desired} agents in {seconds:.0f}s"
    return PoolConverged(pool=pool, desired=desired, seconds=seconds, at=at, summary=summary)


def stuck(pool: str, desired: int, agents: AgentCounts, seconds: float, at: float) -> PoolStuck:
    have = agents.ready + agents.busy
    summary = (
        f"pool {pool} has {have} of {desired} agents after {seconds:.0f}s "
        f"({agents.starting} starting, {agents.draining} draining): see `agentscaler status --pool {pool}`"
    )
    return PoolStuck(pool=pool, desired=desired, agents=agents, seconds=seconds, at=at, summary=summary)


def refused(pool: str, count: int, reason: str, actor: str, at: float) -> PoolRefused:
    line = " ".join(reason.split())  # one line: the whole text is in ``reason``
    short = line if len(line) <= 160 else line[:157] + "..."
    summary = f"scale-up of pool {pool} to {count} refused: {short}"
    return PoolRefused(pool=pool, count=count, reason=reason, actor=actor, at=at, summary=summary)
