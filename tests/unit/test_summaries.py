"""The one-line ``summary`` of replies and events, and the plain form of refusals: tables of wordings."""

from __future__ import annotations

import msgspec
import pytest

from agentscaler.shared.bus.rpc import Refused
from agentscaler.shared.messages.agents import Deregistered, Lost, Registered
from agentscaler.shared.messages.commands import Error, HostHeld, PoolInfo, PoolList, Scaled
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.optimize import Optimized, Trial
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.summaries import plain, summarize, summed

from . import builders as b


def decision(previous: int, desired: int, reason: str = "3 tasks waiting over 5s", applied: bool = True):
    return DecisionEvent(
        pool="x", previous=previous, desired=desired, rule="r", reason=reason, trigger="snapshot", at=0, applied=applied
    )


def trial(p95: float, agent_seconds: float, max_agents: int | None = None) -> Trial:
    return Trial(config=AutoConfig(max_agents=max_agents), agent_seconds=agent_seconds, cost=0, cost_per_hour=0,
                 p95_wait=p95, minutes_over=0, minutes=1, actions=0, peak_agents=1)  # fmt: skip


def optimized(recommended: Trial | None, changes: list[str], applied: bool = False) -> Optimized:
    return Optimized(pool="x", at=0, since=0, span=60, samples=1, tasks=1, start_delay=0, target_wait=1, budget=2.5,
                     evaluated=40, seconds=1, current=trial(4.0, 1200), recommended=recommended, changes=changes,
                     applied=applied)  # fmt: skip


def pool(name: str, desired: int, mode: str = "manual") -> PoolInfo:
    return PoolInfo(config=b.pool_config(name, max_agents=10), state=b.desired_state(name, desired, mode=mode))


def left(completed: int, failed: int) -> Deregistered:
    return Deregistered(agent=msgspec.structs.replace(b.record("x-h-1", pool="x"), completed=completed, failed=failed))


@pytest.mark.parametrize(
    ("msg", "line"),
    [
        (Scaled(pool="x", previous=2, desired=5), "pool x: desired 5 agents (was 2)"),
        (Scaled(pool="x", previous=1, desired=1), "pool x: desired stays 1 agent"),
        (pool("x", 3), "pool x (manual): desired 3 agents, at most 10"),
        (pool("x", 1, "auto"), "pool x (auto): desired 1 agent, the policy keeps it within 0-10"),
        (PoolList(pools=[]), "no pools"),
        (PoolList(pools=[pool("a", 2), pool("b", 0, "auto")]), "2 pools, desired agents: a 2 (manual), b 0 (auto)"),
        (PoolList(pools=[pool(f"p{i}", i) for i in range(7)]),
         "7 pools, desired agents: p0 0 (manual), p1 1 (manual), p2 2 (manual), p3 3 (manual), p4 4 (manual) "
         "and 2 more"),
        (HostHeld(host="h1", held="cordoned", shares={"b": 1, "a": 2}),
         "host h1 cordoned: it takes no new agents (agents there: a 2, b 1)"),
        (HostHeld(host="h1", held="draining"), "host h1 draining: its agents move to other hosts"),
        (HostHeld(host="h1", held="none"), "host h1 takes agents again"),
        (Error(code="refused", message="no; `agentscaler up 1`"), "no"),
        (decision(2, 5), "pool x scaled up from 2 to 5 agents: 3 tasks waiting over 5s"),
        (decision(5, 1, "idle"), "pool x scaled down from 5 to 1 agent: idle"),
        (decision(2, 5, applied=False), "pool x would scale (dry run) up from 2 to 5 agents: 3 tasks waiting over 5s"),
        (decision(4, 4, "holding: CPU saturated"), "pool x stays at 4 agents: holding: CPU saturated"),
        (decision(0, 3, ""), "pool x scaled up from 0 to 3 agents"),
        (optimized(None, []), "pool x, 40 settings tried: none fits the budget of 2.5 an hour"),
        (optimized(trial(4.0, 1200), []), "pool x, 40 settings tried: the current settings are the best found"),
        (optimized(trial(1.5, 900, 8), ["max_agents None -> 8"]),
         "pool x, 40 settings tried: recommended max_agents None -> 8 (p95 wait 4.0s -> 1.5s, "
         "1200 -> 900 agent-seconds)"),
        (optimized(trial(1.5, 900, 8), ["max_agents None -> 8"], applied=True),
         "pool x, 40 settings tried: applied max_agents None -> 8 (p95 wait 4.0s -> 1.5s, 1200 -> 900 agent-seconds)"),
        (b.spawned("x-h-1", pool="x", host="h"), "agent x-h-1 of pool x started on host h (pid 100)"),
        (b.exited("x-h-1", pool="x", drained=True), "agent x-h-1 of pool x exited after draining on host h"),
        (b.exited("x-h-1", pool="x", code=3), "agent x-h-1 of pool x exited with code 3 on host h"),
        (b.exited("x-h-1", pool="x", code=-9), "agent x-h-1 of pool x was killed by signal 9 on host h"),
        (msgspec.structs.replace(b.exited("x-h-1", pool="x"), reason="its actuator restarted"),
         "agent x-h-1 of pool x is gone: its actuator restarted"),
        (Registered(agent=b.record("x-h-1", pool="x")), "agent x-h-1 of pool x is ready on host h"),
        (Registered(agent=msgspec.structs.replace(b.record("x-h-1", pool="x"), start_seconds=1.25)),
         "agent x-h-1 of pool x is ready on host h after 1.2s starting"),
        (left(1, 0), "agent x-h-1 of pool x left host h: 1 task done, 0 failed"),
        (left(7, 2), "agent x-h-1 of pool x left host h: 7 tasks done, 2 failed"),
        (Lost(agent=b.record("x-h-1", pool="x"), reason="no heartbeat for 45s"),
         "agent x-h-1 of pool x lost: no heartbeat for 45s"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else "",
)  # fmt: skip
def test_summaries(msg: msgspec.Struct, line: str) -> None:
    assert summarize(msg) == line
    assert "\n" not in line and "`" not in line
    assert summed(msg) == msgspec.structs.replace(msg, summary=line)


def test_a_message_without_a_summary_is_refused() -> None:
    with pytest.raises(TypeError, match="no summary for Trial"):
        summarize(trial(1, 1))


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("unknown pool 'x' (known: a, b); create it with `agentscaler pool set x --handler module:function`",
         "unknown pool 'x' (known: a, b)"),
        ("11 agents exceeds max_agents=10 of pool 'x'; raise it with `agentscaler pool set x --max-agents 11`",
         "11 agents exceeds max_agents=10 of pool 'x'"),
        ("pool 'x' is in auto mode, where the policy sets its size: take it back with `agentscaler manual --pool x` "
         "first, or change the policy's bounds with `agentscaler auto --pool x --max N`",
         "pool 'x' is in auto mode, where the policy sets its size"),
        ("no host may take agents of pool 'x' (h1 is cordoned; hosts: h1): `agentscaler host uncordon NAME`, or ...",
         "no host may take agents of pool 'x' (h1 is cordoned; hosts: h1)"),
        ("no recorded load for pool 'x' in the last 60 s: none. The load is recorded while the pool is in auto mode "
         "(`agentscaler auto --pool x`): let it run, or look further back with --since.",
         "no recorded load for pool 'x' in the last 60 s: none"),
        ("unknown host 'h9' (known: h1); a host is known while its actuator runs: see `agentscaler status`",
         "unknown host 'h9' (known: h1); a host is known while its actuator runs"),
        ("`agentscaler up 3` first", "agentscaler up 3 first"),
        ("invalid pool name 'a b': use 1-64 letters", "invalid pool name 'a b': use 1-64 letters"),
        ('`count` must be an integer from 0 to 9 (got "ten")', 'count must be an integer from 0 to 9 (got "ten")'),
        ("the monitor has taken no snapshot yet", "the monitor has taken no snapshot yet"),
    ],
)  # fmt: skip
def test_plain_drops_the_cli_advice(message: str, line: str) -> None:
    assert plain(message) == line


def test_a_refusal_has_a_plain_summary_unless_given_one() -> None:
    derived = Refused("refused", "too many; raise it with `agentscaler pool set x --max-agents 9`")
    assert (derived.code, derived.summary) == ("refused", "too many")
    assert Refused("refused", "x `agentscaler y`", summary="said plainly").summary == "said plainly"
