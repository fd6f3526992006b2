"""The agent table: pure bookkeeping of agents, fed messages and the time, returning the events to emit."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from agentscaler.shared.messages.agents import (
    AgentRecord,
    Deregister,
    Deregistered,
    Exited,
    Heartbeat,
    Lost,
    Register,
    Registered,
    Spawned,
)

Event = Registered | Deregistered | Lost


@dataclass
class AgentTable:
    """Every known agent by id. ``departed`` remembers agents that left, so a heartbeat that arrives after
    the goodbye does not bring a ghost back."""

    lost_after: float
    start_timeout: float
    tombstone_ttl: float = 120.0
    agents: dict[str, AgentRecord] = field(default_factory=dict)
    departed: dict[str, float] = field(default_factory=dict)

    def spawned(self, ev: Spawned, now: float) -> list[Event]:
        if ev.agent_id in self.agents or ev.agent_id in self.departed:
            return []
        self.agents[ev.agent_id] = AgentRecord(
            agent_id=ev.agent_id,
            pool=ev.pool,
            host=ev.host,
            pid=ev.pid,
            state="starting",
            started_at=ev.at,
            last_seen=now,
        )
        return []

    def misnamed(self, req: Register) -> str | None:
        """Why ``req`` cannot stand, when the actuator started this agent for another pool or host than the
        registration names (an agent's credentials let it speak only as itself, not only for its pool)."""
        known = self.agents.get(req.agent_id)
        if known is None or (known.pool, known.host) == (req.pool, req.host):
            return None
        return (
            f"agent {req.agent_id!r} was started for pool {known.pool!r} on host {known.host!r}, "
            f"but registers for pool {req.pool!r} on host {req.host!r}"
        )

    def register(self, req: Register, now: float) -> list[Event]:
        self.departed.pop(req.agent_id, None)
        known = self.agents.get(req.agent_id)
        record = AgentRecord(
            agent_id=req.agent_id,
            pool=req.pool,
            host=req.host,
            pid=req.pid,
            state="ready",
            started_at=req.started_at,
            last_seen=now,
            traceparent=req.traceparent,
            interval=req.interval,
            start_seconds=req.start_seconds or _start_seconds(known, now),
        )
        self.agents[req.agent_id] = record
        return [Registered(agent=record)]

    def heartbeat(self, hb: Heartbeat, now: float) -> list[Event]:
        if hb.agent_id in self.departed:
            return []
        known = self.agents.get(hb.agent_id)
        if known is None or known.state == "starting":
            # A heartbeat from an agent we had not seen register (the registry restarted, or the register
            # request was lost): it is alive and working, so it counts as registered.
            record = AgentRecord(
                agent_id=hb.agent_id,
                pool=hb.pool,
                host=hb.host,
                pid=hb.pid,
                state=hb.state,
                started_at=known.started_at if known else now,
                last_seen=now,
                busy_since=hb.busy_since,
                held=hb.held,
                completed=hb.completed,
                failed=hb.failed,
                interval=hb.interval,
                start_seconds=_start_seconds(known, now),
            )
            self.agents[hb.agent_id] = record
            return [Registered(agent=record)]
        self.agents[hb.agent_id] = msgspec.structs.replace(
            known,
            state=hb.state,
            last_seen=now,
            busy_since=hb.busy_since,
            held=hb.held,
            completed=hb.completed,
            failed=hb.failed,
            interval=hb.interval or known.interval,
        )
        return []

    def deregister(self, req: Deregister, now: float) -> list[Event]:
        record = self.agents.pop(req.agent_id, None)
        self.departed[req.agent_id] = now
        if record is None:
            return []
        record = msgspec.structs.replace(record, last_seen=now, completed=req.completed, failed=req.failed)
        return [Deregistered(agent=record)]

    def exited(self, ev: Exited, now: float) -> list[Event]:
        record = self.agents.pop(ev.agent_id, None)
        self.departed[ev.agent_id] = now
        if record is None:
            return []
        if ev.reason:  # not reaped, but known gone: an agent of the actuator's previous run
            return [Lost(agent=record, reason=ev.reason)]
        if ev.code == 0:
            # A clean exit: the agent said goodbye on its way out, and its goodbye may arrive after the
            # actuator's word of the exit (they come on different subjects, e.g. when a thousand leave at once).
            return [Deregistered(agent=msgspec.structs.replace(record, last_seen=now))]
        how = f"killed by signal {-ev.code}" if ev.code < 0 else f"exited with code {ev.code}"
        return [Lost(agent=record, reason=f"process {how} without deregistering")]

    def sweep(self, now: float) -> list[Event]:
        """Declare lost the agents that never registered in time or stopped sending heartbeats."""
        events: list[Event] = []
        for agent_id, record in list(self.agents.items()):
            if record.state == "starting":
                if now - record.started_at > self.start_timeout:
                    reason = f"did not register within {self.start_timeout:g}s of being spawned"
                else:
                    continue
            elif now - record.last_seen > (limit := max(self.lost_after, 3 * record.interval)):
                reason = f"no heartbeat for {now - record.last_seen:.1f}s (limit {limit:g}s)"
            else:
                continue
            del self.agents[agent_id]
            self.departed[agent_id] = now
            events.append(Lost(agent=record, reason=reason))
        for agent_id, at in list(self.departed.items()):
            if now - at > self.tombstone_ttl:
                del self.departed[agent_id]
        return events

    def restore(self, records: list[AgentRecord], now: float) -> None:
        """Load persisted agents after a restart; each gets a full heartbeat period to show up."""
        for record in records:
            self.agents[record.agent_id] = msgspec.structs.replace(record, last_seen=now)

    def select(
        self, pool: str | None = None, host: str | None = None, after: str = "", limit: int | None = None
    ) -> tuple[list[AgentRecord], str]:
        """The agents of ``pool`` on ``host`` (None: any) whose id sorts after ``after``, by id, at most ``limit``
        of them; and the id to page on from when more follow ("" when none)."""
        found = sorted(
            (
                r
                for r in self.agents.values()
                if r.agent_id > after and (pool is None or r.pool == pool) and (host is None or r.host == host)
            ),
            key=lambda r: r.agent_id,
        )
        if limit is None or len(found) <= limit:
            return found, ""
        return found[:limit], found[limit - 1].agent_id


def _start_seconds(known: AgentRecord | None, now: float) -> float:
    """For an agent that did not time its own start: the seconds it took from being seen spawning (``known``,
    still ``starting``) to registering at ``now``; what was known before for one registering again; 0 for one
    never seen starting."""
    if known is None:
        return 0.0
    if known.state != "starting":
        return known.start_seconds
    return round(max(now - known.started_at, 0.0), 4)
