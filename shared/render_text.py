"""Short plain-text views of a snapshot and of the pools, for a chat message: a few lines, no colour, at most
``LIMIT`` characters (the chat endpoint's replies). The CLI's full tables are ``services/cli/render.py``."""

from __future__ import annotations

from .messages.commands import PoolInfo
from .messages.snapshots import PoolSnapshot, Snapshot

LIMIT = 3500
"""Characters a chat reply holds at most (chat services cut messages near 4,000)."""


def fit(text: str, limit: int = LIMIT) -> str:
    """``text`` cut to ``limit`` characters at a line end, saying so."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 40].rsplit("\n", 1)[0]
    return f"{cut}\n… ({len(text) - len(cut)} more characters cut)"


def pool_line(pool: PoolSnapshot) -> str:
    """One pool in one line: mode, agents up of desired, and the queue."""
    a, q = pool.agents, pool.queue
    parts = [f"{a.ready} ready", f"{a.busy} busy"]
    parts += [f"{n} {word}" for n, word in ((a.starting, "starting"), (a.draining, "draining")) if n]
    line = (
        f"{pool.name}: {pool.mode}, {a.ready + a.busy}/{pool.desired} agents ({', '.join(parts)}), "
        f"queue {q.pending} pending, {q.in_flight} in flight"
    )
    if pool.problems:
        line += f"; problem: {pool.problems[0]}"
    return line


def status_text(snapshot: Snapshot) -> str:
    """The pools, then the hosts, one line each."""
    lines = [pool_line(p) for p in snapshot.pools] or ["no pools"]
    hosts = snapshot.hosts or [snapshot.host]
    lines.append(
        "hosts: "
        + ", ".join(f"{h.host} (cpu {h.cpu_percent:.0f}%, mem {h.memory_percent:.0f}%, room {h.room})" for h in hosts)
    )
    return fit("\n".join(lines))


def pools_text(pools: list[PoolInfo]) -> str:
    """Each pool's mode and desired count, one line each."""
    lines = [f"{p.config.name}: {p.state.mode}, desired {p.state.desired} (max {p.config.max_agents})" for p in pools]
    return fit("\n".join(lines) or "no pools")
