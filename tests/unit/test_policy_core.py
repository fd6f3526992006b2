"""The policy's pure decision core: manual scaling, host capacity and the decide() step."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.policy.core.capacity import Capacity, capacity
from agentscaler.services.policy.core.decide import decide
from agentscaler.services.policy.core.scaling import ScaleRefused, plan_scale
from agentscaler.shared.messages.commands import Scale
from agentscaler.shared.messages.snapshots import AgentCounts
from agentscaler.shared.numbers import MIB

from . import builders as b
from .builders import PROPERTY


def scale(direction: str, count: int, pool: str = "p") -> Scale:
    return Scale(pool=pool, direction=direction, count=count)  # type: ignore[arg-type]


# --- plan_scale -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "n", "current", "max_agents", "fit", "expected"),
    [
        pytest.param("up", 5, 2, 10, 3, 5, id="up-within-capacity"),
        pytest.param("up", 5, 2, 10, 100, 5, id="up-plenty-of-room"),
        pytest.param("up", 10, 0, 10, 10, 10, id="up-to-max-exactly"),
        pytest.param("up", 4, 4, 10, 0, 4, id="up-same-is-noop"),
        pytest.param("down", 1, 4, 10, 0, 1, id="down"),
        pytest.param("down", 0, 4, 10, 0, 0, id="down-to-zero"),
        pytest.param("down", 4, 4, 10, 0, 4, id="down-same-is-noop"),
        pytest.param("down", 3, 12, 5, 0, 3, id="down-below-lowered-max"),
        pytest.param("down", 2, 5, 10, -1, 2, id="down-ignores-capacity"),
    ],
)
def test_plan_scale_accepts(direction, n, current, max_agents, fit, expected):
    desired, note = plan_scale(
        scale(direction, n), b.pool_config(max_agents=max_agents), b.desired_state(desired=current), b.capacity(fit)
    )
    assert (desired, note) == (expected, "")


def mentions(message: str, needle: str) -> bool:
    """``needle`` appears in ``message``; a bare number must appear as a whole number (5 is not found in 15)."""
    if needle.isdigit():
        return re.search(rf"(?<![\d.]){needle}(?![\d.])", message) is not None
    return needle in message


@pytest.mark.parametrize(
    ("direction", "n", "current", "max_agents", "fit", "code", "needles"),
    [
        pytest.param(
            "up", 2, 5, 10, 10, "bad_request", ["2", "5", "below", "`agentscaler down 2 --pool p`"], id="up-below"
        ),
        pytest.param(
            "down", 7, 5, 10, 10, "bad_request", ["7", "5", "above", "`agentscaler up 7 --pool p`"], id="down-above"
        ),
        pytest.param("up", 11, 5, 10, 100, "refused", ["11", "max_agents", "10", "--max-agents 11"], id="up-above-max"),
        pytest.param("down", 8, 12, 5, 100, "refused", ["8", "max_agents", "5"], id="down-above-lowered-max"),
        pytest.param(
            "up",
            9,
            2,
            20,
            3,
            "refused",
            [
                "9",
                "7",
                "fits 3 more",
                "3000 MiB available",
                "1024 MiB reserved",
                "64 MiB",
                "`agentscaler up 5 --pool p`",
            ],
            id="up-above-capacity",
        ),
        pytest.param(
            "up", 3, 2, 20, 0, "refused", ["3", "1", "fits 0 more", "`agentscaler up 2 --pool p`"], id="host-full"
        ),
    ],
)
def test_plan_scale_refuses(direction, n, current, max_agents, fit, code, needles):
    with pytest.raises(ScaleRefused) as info:
        plan_scale(
            scale(direction, n), b.pool_config(max_agents=max_agents), b.desired_state(desired=current), b.capacity(fit)
        )
    assert info.value.code == code
    assert str(info.value) == info.value.message
    for needle in needles:
        assert mentions(info.value.message, needle), (needle, info.value.message)
    said = info.value.summary  # the plain line for people: what is wrong, no CLI advice
    assert said.startswith("pool p") and mentions(said, str(n)) and "`" not in said and "agentscaler" not in said


@pytest.mark.parametrize(
    ("direction", "n", "current", "fit"),
    [("up", 2, 5, 10), ("down", 7, 5, 10), ("up", 9, 2, 3)],
    ids=["up-below", "down-above", "up-above-capacity"],
)
def test_suggested_commands_name_the_pool(direction, n, current, fit):
    with pytest.raises(ScaleRefused) as info:
        plan_scale(
            scale(direction, n, pool="batch"),
            b.pool_config("batch", max_agents=20),
            b.desired_state("batch", desired=current),
            b.capacity(fit),
        )
    suggestions = re.findall(r"`(agentscaler (?:up|down) [^`]*)`", info.value.message)
    assert suggestions
    assert all("--pool batch" in command for command in suggestions), suggestions


@pytest.mark.parametrize("direction", ["up", "down"])
def test_plan_scale_refuses_auto_mode(direction):
    with pytest.raises(ScaleRefused) as info:
        plan_scale(scale(direction, 3), b.pool_config(), b.desired_state(desired=3, mode="auto"), b.capacity(10))
    assert info.value.code == "refused"
    assert "auto mode" in info.value.message
    assert "agentscaler manual --pool p" in info.value.message and "agentscaler auto" in info.value.message


def test_plan_scale_without_capacity_checks_max_only_and_says_so():
    desired, note = plan_scale(scale("up", 50), b.pool_config(max_agents=60), b.desired_state(desired=1), None)
    assert desired == 50
    assert "host capacity unknown" in note
    assert "max_agents only" in note


@pytest.mark.parametrize(("direction", "n"), [("down", 0), ("up", 1)])
def test_plan_scale_without_capacity_needs_no_note_when_not_growing(direction, n):
    assert plan_scale(scale(direction, n), b.pool_config(), b.desired_state(desired=1), None) == (n, "")


def test_plan_scale_without_capacity_still_enforces_max():
    with pytest.raises(ScaleRefused) as info:
        plan_scale(scale("up", 6), b.pool_config(max_agents=5), b.desired_state(desired=1), None)
    assert mentions(info.value.message, "max_agents")
    assert mentions(info.value.message, "5")


@PROPERTY
@given(
    direction=st.sampled_from(["up", "down"]),
    n=st.integers(0, 300),
    current=st.integers(0, 300),
    max_agents=st.integers(0, 200),
    fit=st.none() | st.integers(0, 150),
)
def test_accepted_commands_stay_within_bounds(direction, n, current, max_agents, fit):
    cap = None if fit is None else b.capacity(fit)
    try:
        desired, note = plan_scale(
            scale(direction, n), b.pool_config(max_agents=max_agents), b.desired_state(desired=current), cap
        )
    except ScaleRefused as exc:
        assert exc.code in {"bad_request", "refused"}
        assert exc.message
        return
    assert desired == n
    assert 0 <= desired <= max_agents
    if direction == "up":
        assert desired >= current
        if cap is not None:
            assert desired - current <= cap.agents_fit
    else:
        assert desired <= current
    assert (note != "") == (cap is None and desired > current)


# --- capacity -------------------------------------------------------------------------------------------


def test_capacity_is_none_without_fresh_snapshots():
    assert capacity([], now=100.0, max_age=30.0) is None
    assert capacity([b.snapshot(at=69.9)], now=100.0, max_age=30.0) is None


def test_capacity_sums_fresh_hosts_and_ignores_stale_ones():
    snaps = [
        b.snapshot(at=70.0, host=b.host_snapshot("h2", agents_fit=3, memory_available=100 * MIB)),  # exactly max_age
        b.snapshot(at=99.0, host=b.host_snapshot("h1", agents_fit=4, memory_available=200 * MIB)),
        b.snapshot(at=10.0, host=b.host_snapshot("stale", agents_fit=1000, memory_available=9000 * MIB)),
    ]
    cap = capacity(snaps, now=100.0, max_age=30.0)
    assert cap is not None
    assert cap.agents_fit == 7
    assert cap.memory_available == 300 * MIB
    assert cap.memory_reserve == 2 * 1024 * MIB
    assert cap.hosts == ("h1", "h2")


def test_capacity_budgets_the_largest_agent():
    snaps = [
        b.snapshot(host=b.host_snapshot("h1", agent_memory_budget=64 * MIB)),
        b.snapshot(host=b.host_snapshot("h2", agent_memory_budget=256 * MIB)),
    ]
    assert capacity(snaps, now=0.0, max_age=30.0).per_agent == 256 * MIB  # type: ignore[union-attr]


@pytest.mark.parametrize(("hosts", "verb"), [(("h1",), "h1 fits 5 more"), (("h1", "h2"), "h1, h2 fit 5 more")])
def test_capacity_explain(hosts, verb):
    text = Capacity(5, 2048 * MIB, 512 * MIB, 96 * MIB, hosts).explain()
    assert text == f"{verb} (2048 MiB available, 512 MiB reserved, ~96 MiB per agent)"


def test_capacity_sums_the_hosts_room_and_names_the_cpu_bound_ones():
    snaps = [
        b.snapshot(host=b.host_snapshot("h1", agents_fit=10)),
        b.snapshot(host=b.host_snapshot("h2", agents_fit=50, cpu_fit=2)),
    ]
    cap = capacity(snaps, now=0.0, max_age=30.0)
    assert cap is not None
    assert (cap.agents_fit, cap.cpu_bound, cap.bound) == (12, ("h2",), "memory and CPU")
    assert cap.explain().startswith("the hosts fit 12 more (h1 10, h2 2; bound by CPU on h2; ")


def test_a_command_is_refused_when_the_hosts_cpu_bound_room_is_smaller_than_asked():
    """The host's memory takes 50 more, its CPU 2: the policy checks the same room ``status`` shows."""
    cap = capacity([b.snapshot(host=b.host_snapshot("h1", agents_fit=50, cpu_fit=2))], now=0.0, max_age=30.0)
    assert cap is not None and cap.bound == "CPU"
    with pytest.raises(ScaleRefused) as info:
        plan_scale(scale("up", 5), b.pool_config(), b.desired_state(desired=1), cap)
    assert info.value.code == "refused"
    for needle in ["needs 4 more", "h1 fits 2 more", "bound by CPU on h1", "`agentscaler up 3 --pool p`"]:
        assert needle in info.value.message, (needle, info.value.message)
    assert plan_scale(scale("up", 3), b.pool_config(), b.desired_state(desired=1), cap)[0] == 3


@PROPERTY
@given(
    ages=st.lists(st.tuples(st.floats(0, 100), st.integers(0, 50)), max_size=8),
    max_age=st.floats(1, 60),
)
def test_capacity_counts_exactly_the_fresh_hosts(ages, max_age):
    now = 100.0
    snaps = [
        b.snapshot(at=now - age, host=b.host_snapshot(f"h{i}", agents_fit=fit)) for i, (age, fit) in enumerate(ages)
    ]
    fresh = [(i, fit) for i, (age, fit) in enumerate(ages) if now - (now - age) <= max_age]
    cap = capacity(snaps, now=now, max_age=max_age)
    if not fresh:
        assert cap is None
    else:
        assert cap is not None
        assert cap.agents_fit == sum(fit for _, fit in fresh)
        assert set(cap.hosts) == {f"h{i}" for i, _ in fresh}


# --- decide ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("snap", [None, b.pool_snapshot(agents=AgentCounts(ready=2, busy=3, starting=4))])
def test_decide_manual_holds_the_count(snap):
    state = b.desired_state(desired=6)
    decision, new_state = decide(snap, b.pool_config(max_agents=10), state, now=50.0)
    assert new_state is state
    assert not decision.changed
    assert (decision.pool, decision.previous, decision.desired, decision.rule) == ("p", 6, 6, "manual.hold")
    assert "holding 6 agents" in decision.reason
    assert ("(5 running)" in decision.reason) == (snap is not None)


def test_decide_clamps_to_a_lowered_max():
    decision, new_state = decide(None, b.pool_config(max_agents=4), b.desired_state(desired=9), now=50.0)
    assert decision.changed
    assert (decision.previous, decision.desired, decision.rule) == (9, 4, "manual.clamp_to_max")
    assert re.search(r"desired 9 is above max_agents 4", decision.reason)
    assert (new_state.desired, new_state.updated_at, new_state.reason) == (4, 50.0, decision.reason)
    assert new_state.traceparent == ""  # the old command's trace does not own this change
    assert new_state.mode == "manual"


@PROPERTY
@given(current=st.integers(0, 500), max_agents=st.integers(0, 500), now=st.floats(0, 1e9))
def test_decide_keeps_desired_within_max(current, max_agents, now):
    decision, state = decide(None, b.pool_config(max_agents=max_agents), b.desired_state(desired=current), now)
    assert state.desired == decision.desired == min(current, max_agents)
    assert decision.changed == (current > max_agents)
    # A second pass is a fixed point.
    again, same = decide(None, b.pool_config(max_agents=max_agents), state, now + 1)
    assert not again.changed
    assert same is state
