"""How many more agents the hosts can take, from recent monitor snapshots: the hosts' ``room`` summed (the
monitor's one rule, memory or CPU bounding each host)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentscaler.shared.messages.snapshots import HostSnapshot, Snapshot
from agentscaler.shared.numbers import MIB


@dataclass(frozen=True)
class Capacity:
    agents_fit: int
    """How many more agents the hosts take: their ``room`` summed."""
    memory_available: int
    memory_reserve: int
    per_agent: int
    hosts: tuple[str, ...]
    cpu_bound: tuple[str, ...] = ()
    """The hosts whose CPU, not their memory, bounds their room."""
    rooms: tuple[tuple[str, int], ...] = ()
    """Each host's room, by name."""

    @property
    def bound(self) -> str:
        """What bounds ``agents_fit``: ``memory``, ``CPU`` or ``memory and CPU``."""
        if not self.cpu_bound:
            return "memory"
        return "CPU" if len(self.cpu_bound) == len(self.hosts) else "memory and CPU"

    def explain(self) -> str:
        cpu = f"bound by CPU on {', '.join(self.cpu_bound)}; " if self.cpu_bound else ""
        if len(self.rooms) < 2:
            fits = f"{', '.join(self.hosts)} fit{'s' if len(self.hosts) == 1 else ''} {self.agents_fit} more ("
        else:  # which host takes how many; a full one is skipped
            each = ", ".join(f"{host} {room}" if room > 0 else f"{host} 0 (full)" for host, room in self.rooms)
            fits = f"the hosts fit {self.agents_fit} more ({each}; "
        return (
            f"{fits}{cpu}{self.memory_available // MIB} MiB available, {self.memory_reserve // MIB} MiB reserved, "
            f"~{self.per_agent // MIB} MiB per agent)"
        )


def capacity(snapshots: Iterable[Snapshot], now: float, max_age: float) -> Capacity | None:
    """Capacity summed over hosts whose snapshot is at most ``max_age`` old; None when none is."""
    fresh: list[HostSnapshot] = [s.host for s in snapshots if now - s.at <= max_age]
    if not fresh:
        return None
    return Capacity(
        agents_fit=sum(h.room for h in fresh),
        memory_available=sum(h.memory_available for h in fresh),
        memory_reserve=sum(h.memory_reserve for h in fresh),
        per_agent=max(h.agent_memory_budget for h in fresh),
        hosts=tuple(sorted(h.host for h in fresh)),
        cpu_bound=tuple(sorted(h.host for h in fresh if h.room_bound == "CPU")),
        rooms=tuple(sorted((h.host, max(h.room, 0)) for h in fresh)),
    )
