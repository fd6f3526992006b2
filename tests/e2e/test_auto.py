"""End to end in auto mode: a pool at zero wakes on its first task and goes back to zero, with real agents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.harness import System, agent_processes, fork_servers, make_pool, wait_until

pytestmark = pytest.mark.e2e


def test_a_pool_at_zero_starts_its_first_task_within_a_second_and_returns_to_zero(system: System) -> None:
    make_pool(system, "e2e")
    out = system.cli("auto", "--pool", "e2e", "--max", "4", "--scale-down-window", "2", "--utilization", "0.9").stdout
    assert "auto mode" in out and "0..4" in out
    assert "'utilization': 0.9" in system.cli("pool", "show", "e2e").stdout  # stored with the pool
    wait_until(lambda: system.status("e2e")["mode"] == "auto", what="auto mode in status")
    wait_until(
        lambda: fork_servers(system.host) and '"fork server ready"' in system.log_text(),
        what="the auto pool's fork server, warm at zero agents",
    )
    assert not agent_processes(system.host)
    assert system.cli("up", "2", "--pool", "e2e", check=False).returncode != 0  # the policy sizes it now

    [task_id] = system.cli("submit", '{"sleep": 0.2}', "--pool", "e2e").stdout.split()
    result = json.loads(system.cli("result", task_id, "--pool", "e2e", "--wait", "30").stdout)
    assert result["state"] == "done"
    waited = result["started_at"] - result["submitted_at"]
    print(f"first task waited {waited:.3f}s")
    assert waited < 1.0, f"the first task waited {waited:.2f}s for the pool to wake"

    wait_until(lambda: system.status("e2e")["desired"] == 0, timeout=60, what="back to zero")
    wait_until(lambda: not agent_processes(system.host), timeout=30, what="every agent gone")

    def decisions() -> list[dict[str, Any]]:
        lines = system.cli("history", "--pool", "e2e", "--json").stdout.splitlines()
        return [json.loads(line) for line in lines]

    recorded = wait_until(
        lambda: (
            (d := decisions())
            and {"mode.auto", "auto.scale_from_zero", "auto.scale_to_zero"} <= {e["rule"] for e in d}
            and d
        ),
        what="the decisions in the history",
    )
    rules = [e["rule"] for e in recorded]
    assert rules.index("auto.scale_from_zero") < rules.index("auto.scale_to_zero"), rules
    # the registry timed the agent's start, and the policy decided the scale-down knowing it
    [down] = [e for e in recorded if e["rule"] == "auto.scale_to_zero"]
    assert 0 < down["inputs"]["start_time"] < 30, down["inputs"]

    assert "manual mode, holding 0 agents" in system.cli("manual", "--pool", "e2e").stdout
    wait_until(lambda: system.status("e2e")["mode"] == "manual", what="manual mode in status")
