"""The one-line ``summary`` of every reply and event: a plain sentence for people (a chat bridge relays it,
a log line quotes it) while machines read the fields. Pure: the producers call :func:`summed` on what they
send."""

from __future__ import annotations

import re
from functools import singledispatch
from typing import TypeVar

import msgspec

from .agents import AgentRecord, Deregistered, Exited, Lost, Registered, Spawned
from .commands import Error, HostHeld, PoolInfo, PoolList, Scaled
from .decisions import DecisionEvent
from .optimize import Optimized

M = TypeVar("M", bound=msgspec.Struct)

LISTED = 5
"""Pools a pool list's summary names before it says how many more there are."""

_ADVICE = re.compile(r"`agentscaler\b")
_CLAUSE_ENDS = ("; ", ": ", ". ", ", or ")


def summed(msg: M) -> M:
    """``msg`` with its ``summary`` filled in."""
    return msgspec.structs.replace(msg, summary=summarize(msg))  # type: ignore[call-arg]


def plain(message: str) -> str:
    """``message`` for people who are not at a shell: without the trailing clause that advises an
    ``agentscaler`` command (from the clause break before the first such command on) and without backticks.
    A message that is all advice keeps its words, without backticks."""
    found = _ADVICE.search(message)
    head = message
    if found:
        cut = max(message.rfind(end, 0, found.start()) for end in _CLAUSE_ENDS)
        if cut > 0:
            head = message[:cut]
    return head.replace("`", "").strip().rstrip(";:,.").strip()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@singledispatch
def summarize(msg: object) -> str:
    """The one line that says what ``msg`` means."""
    raise TypeError(f"no summary for {type(msg).__name__}")


@summarize.register
def _scaled(msg: Scaled) -> str:
    if msg.desired == msg.previous:
        return f"pool {msg.pool}: desired stays {_plural(msg.desired, 'agent')}"
    return f"pool {msg.pool}: desired {_plural(msg.desired, 'agent')} (was {msg.previous})"


@summarize.register
def _pool_info(msg: PoolInfo) -> str:
    config, state = msg.config, msg.state
    if state.mode == "auto":
        high = config.max_agents if config.auto.max_agents is None else config.auto.max_agents
        bounds = f"the policy keeps it within {config.auto.min_agents}-{high}"
    else:
        bounds = f"at most {config.max_agents}"
    return f"pool {config.name} ({state.mode}): desired {_plural(state.desired, 'agent')}, {bounds}"


@summarize.register
def _pool_list(msg: PoolList) -> str:
    if not msg.pools:
        return "no pools"
    named = [f"{p.config.name} {p.state.desired} ({p.state.mode})" for p in msg.pools[:LISTED]]
    more = f" and {len(msg.pools) - LISTED} more" if len(msg.pools) > LISTED else ""
    return f"{_plural(len(msg.pools), 'pool')}, desired agents: {', '.join(named)}{more}"


_HOLDS = {
    "cordoned": "cordoned: it takes no new agents",
    "draining": "draining: its agents move to other hosts",
    "none": "takes agents again",
}


@summarize.register
def _host_held(msg: HostHeld) -> str:
    shares = ", ".join(f"{pool} {n}" for pool, n in sorted(msg.shares.items()))
    return f"host {msg.host} {_HOLDS[msg.held]}" + (f" (agents there: {shares})" if shares else "")


@summarize.register
def _error(msg: Error) -> str:
    return plain(msg.message)


@summarize.register
def _decision(msg: DecisionEvent) -> str:
    if msg.desired == msg.previous:
        change = f"stays at {_plural(msg.desired, 'agent')}"
    else:
        way = "up" if msg.desired > msg.previous else "down"
        verb = "scaled" if msg.applied else "would scale (dry run)"
        change = f"{verb} {way} from {msg.previous} to {_plural(msg.desired, 'agent')}"
    return f"pool {msg.pool} {change}: {plain(msg.reason)}" if msg.reason else f"pool {msg.pool} {change}"


@summarize.register
def _optimized(msg: Optimized) -> str:
    head = f"pool {msg.pool}, {_plural(msg.evaluated, 'setting')} tried"
    if msg.recommended is None:
        return f"{head}: none fits the budget of {msg.budget:g} an hour"
    if not msg.changes:
        return f"{head}: the current settings are the best found"
    cur, rec = msg.current, msg.recommended
    done = "applied" if msg.applied else "recommended"
    return (
        f"{head}: {done} {', '.join(msg.changes)} (p95 wait {cur.p95_wait:.1f}s -> {rec.p95_wait:.1f}s, "
        f"{cur.agent_seconds:.0f} -> {rec.agent_seconds:.0f} agent-seconds)"
    )


def _agent(agent_id: str, pool: str) -> str:
    return f"agent {agent_id} of pool {pool}"


@summarize.register
def _spawned(msg: Spawned) -> str:
    return f"{_agent(msg.agent_id, msg.pool)} started on host {msg.host} (pid {msg.pid})"


@summarize.register
def _exited(msg: Exited) -> str:
    who = _agent(msg.agent_id, msg.pool)
    if msg.reason:
        return f"{who} is gone: {msg.reason}"
    if msg.code < 0:
        how = f"was killed by signal {-msg.code}"
    else:
        how = "exited" if msg.code == 0 else f"exited with code {msg.code}"
    return f"{who} {how}" + (" after draining" if msg.drained else "") + f" on host {msg.host}"


def _record(agent: AgentRecord) -> str:
    return _agent(agent.agent_id, agent.pool)


@summarize.register
def _registered(msg: Registered) -> str:
    took = f" after {msg.agent.start_seconds:.1f}s starting" if msg.agent.start_seconds else ""
    return f"{_record(msg.agent)} is ready on host {msg.agent.host}{took}"


@summarize.register
def _deregistered(msg: Deregistered) -> str:
    done = f"{_plural(msg.agent.completed, 'task')} done, {msg.agent.failed} failed"
    return f"{_record(msg.agent)} left host {msg.agent.host}: {done}"


@summarize.register
def _lost(msg: Lost) -> str:
    return f"{_record(msg.agent)} lost: {msg.reason}"
