"""How many more agents the hosts can take, from recent monitor snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentscaler.shared.messages.snapshots import HostSnapshot, Snapshot
from agentscaler.shared.numbers import MIB


@dataclass(frozen=True)
class Capacity:
    agents_fit: int
    memory_available: int
    memory_reserve: int
    per_agent: int
    hosts: tuple[str, ...]

    def explain(self) -> str:
        return (
            f"{', '.join(self.hosts)} fit{'s' if len(self.hosts) == 1 else ''} {self.agents_fit} more "
            f"({self.memory_available // MIB} MiB available, {self.memory_reserve // MIB} MiB reserved, "
            f"~{self.per_agent // MIB} MiB per agent)"
        )


def capacity(snapshots: Iterable[Snapshot], now: float, max_age: float) -> Capacity | None:
    """Capacity summed over hosts whose snapshot is at most ``max_age`` old; None when none is."""
    fresh: list[HostSnapshot] = [s.host for s in snapshots if now - s.at <= max_age]
    if not fresh:
        return None
    return Capacity(
        agents_fit=sum(h.agents_fit for h in fresh),
        memory_available=sum(h.memory_available for h in fresh),
        memory_reserve=sum(h.memory_reserve for h in fresh),
        per_agent=max(h.agent_memory_budget for h in fresh),
        hosts=tuple(sorted(h.host for h in fresh)),
    )
