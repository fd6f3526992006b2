"""The words of an agent's death and of a task given up on, and the attempts value that links the two."""

from __future__ import annotations

import signal

import pytest

from agentscaler.services.actuator.deaths import DRAIN_DEADLINE, OOM_KILLED, death_reason
from agentscaler.services.actuator.processes import UNKNOWN_EXIT
from agentscaler.services.agent.attempts import attempt_value, parse_attempt
from agentscaler.services.agent.deaths import gave_up
from agentscaler.services.agent.limits import EXIT_HUNG
from agentscaler.services.agent.main import EXIT_CONFIG, EXIT_RECYCLED


@pytest.mark.parametrize(
    ("count", "agent", "value"),
    [(1, "default-vm-0d94-4", b"1 default-vm-0d94-4"), (12, "", b"12")],
)
def test_an_attempt_value_names_its_agent_when_it_has_an_id(count: int, agent: str, value: bytes) -> None:
    assert attempt_value(count, agent) == value
    assert parse_attempt(value) == (count, agent)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (b"3", (3, "")),  # an older agent's bare count
        (b"3 a-1", (3, "a-1")),
        (b" 3  a-1 \n", (3, "a-1")),
        (b"", (0, "")),
        (None, (0, "")),
        (b"x a-1", (0, "")),
        (b"-2 a-1", (0, "a-1")),
    ],
)
def test_an_attempt_value_parses_leniently(value: bytes | None, parsed: tuple[int, str]) -> None:
    assert parse_attempt(value) == parsed


def test_a_clean_exit_is_no_death() -> None:
    assert death_reason(0) == ""
    assert death_reason(0, drained=True) == ""
    assert death_reason(-signal.SIGTERM, drained=True) == ""


def test_the_kernels_oom_kill_names_the_fix() -> None:
    reason = death_reason(-signal.SIGKILL, oom=True)
    assert reason == OOM_KILLED
    assert reason.startswith("killed by the kernel's OOM killer")
    assert "agent_memory_limit_mb" in reason and "max_agents" in reason
    assert death_reason(-signal.SIGKILL, drained=True, oom=True, killed_for=DRAIN_DEADLINE) == OOM_KILLED


@pytest.mark.parametrize(
    ("code", "killed_for", "reason"),
    [
        (-signal.SIGKILL, "", "killed by signal 9 (SIGKILL)"),
        (-signal.SIGSEGV, "", "killed by signal 11 (SIGSEGV)"),
        (-signal.SIGTERM, "", "killed by signal 15 (SIGTERM)"),  # not draining: someone else's signal
        (-200, "", "killed by signal 200"),
        (
            -signal.SIGKILL,
            "the registry declared it lost (x)",
            "killed by the actuator: the registry declared it lost (x)",
        ),
        (-signal.SIGSEGV, "the registry declared it lost (x)", "killed by signal 11 (SIGSEGV)"),  # died first
        (1, "", "exited with code 1"),
        (
            EXIT_HUNG,
            "",
            "exited with code 4 (its handler blocked the event loop past the task timeout and could not be "
            "interrupted)",
        ),
        (UNKNOWN_EXIT, "", "ended after its fork server died (its exit status is unknown)"),
    ],
)
def test_other_deaths_say_how_the_agent_ended(code: int, killed_for: str, reason: str) -> None:
    assert death_reason(code, killed_for=killed_for) == reason


def test_the_agents_own_exit_statuses_are_explained() -> None:
    assert "could not start" in death_reason(EXIT_CONFIG)
    assert "limit" in death_reason(EXIT_RECYCLED)
    assert death_reason(-signal.SIGKILL, drained=True, killed_for=DRAIN_DEADLINE) == (
        f"killed by the actuator: {DRAIN_DEADLINE}"
    )


def test_a_task_given_up_on_names_the_death_of_its_last_agent() -> None:
    assert gave_up(3, "p-h-ab12-7", OOM_KILLED) == (
        "gave up after 3 deliveries: the agent that ran it last (p-h-ab12-7) died: killed by the kernel's OOM "
        "killer (its pool's cgroup ran out of memory: raise the pool's agent_memory_limit_mb, or lower its "
        "max_agents)"
    )
    assert gave_up(2, "p-h-ab12-7", "exited with code 1").endswith("(p-h-ab12-7) died: exited with code 1")


@pytest.mark.parametrize(("agent", "reason"), [("", ""), ("p-h-ab12-7", ""), ("", "exited with code 1")])
def test_a_task_given_up_on_without_a_known_death_says_so_as_before(agent: str, reason: str) -> None:
    assert gave_up(3, agent, reason) == "gave up after 3 deliveries (agents died or timed out)"
