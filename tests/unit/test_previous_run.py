"""Agents of an actuator's previous run: which records a starting actuator reports gone, and how the
registry's table takes that word (at once, not after three missed heartbeats)."""

from __future__ import annotations

import msgspec

from agentscaler.services.actuator.previous_run import REASON, leftovers
from agentscaler.services.registry.table import AgentTable
from agentscaler.shared.messages.agents import Lost

from .builders import exited, record, register


def test_leftovers_are_the_agents_not_started_by_this_run_in_the_pools_it_runs() -> None:
    records = [record("old-1", pool="a"), record("new-1", pool="a"), record("old-2", pool="b")]
    ours = {"new-1"}
    assert [r.agent_id for r in leftovers(records, [], lambda r: r.agent_id in ours)] == ["old-1", "old-2"]
    assert [r.agent_id for r in leftovers(records, ["b"], lambda r: r.agent_id in ours)] == ["old-2"]


def test_an_exit_with_a_reason_makes_a_restored_agent_lost_at_once() -> None:
    table = AgentTable(lost_after=15.0, start_timeout=60.0)
    table.restore([record("old", state="ready", last_seen=0.0)], now=100.0)
    gone = msgspec.structs.replace(exited("old", at=100.5), reason=REASON)
    [event] = table.exited(gone, now=100.5)
    assert isinstance(event, Lost) and event.reason == REASON and event.agent.agent_id == "old"
    assert "old" not in table.agents
    assert table.sweep(101.0) == []


def test_an_exit_with_a_reason_for_an_unknown_agent_changes_nothing() -> None:
    table = AgentTable(lost_after=15.0, start_timeout=60.0)
    table.register(register("new"), now=1.0)
    assert table.exited(msgspec.structs.replace(exited("old"), reason=REASON), now=2.0) == []
    assert set(table.agents) == {"new"}
