"""End to end: two policies and two registries. One of each leads, the other stands by silent; both leaders
SIGKILLed in the middle of a scale-up, the standbys take over within 10 s, the pool reaches its count and no
decision is made twice."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from tests.e2e.harness import System, make_pool, wait_until

POOL = "led"
LEASED = ("policy", "registry")


def leaders(system: System) -> dict[str, Any]:
    """The status reply's ``leaders``: service -> lease record (or None)."""
    return json.loads(system.cli("status", "--json").stdout)["leaders"]


def leading_pids(system: System) -> dict[str, int]:
    """Each leased service's leader's pid, once both have one."""
    shown = leaders(system)
    assert all(shown.get(name) for name in LEASED), shown
    return {name: shown[name]["pid"] for name in LEASED}


def decisions(system: System) -> list[dict[str, Any]]:
    out = system.cli("history", "--pool", POOL, "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_standbys_take_over_from_killed_leaders_within_ten_seconds(system: System) -> None:
    for name in LEASED:
        system.start(f"{name}-2", name)
    make_pool(system, POOL)
    pids = wait_until(lambda: leading_pids(system), what="a leader of each")
    names = {proc.pid: name for name, proc in system.procs.items()}
    leader = {service: names[pid] for service, pid in pids.items()}  # the instance that won the race
    standby = {service: f"{service}-2" if name == service else service for service, name in leader.items()}
    logs = {service: (system.logs / f"{name}.log").read_text() for service, name in standby.items()}
    assert all("standing by for the lease" in text for text in logs.values()), logs
    assert "policy ready" not in logs["policy"] and "registry ready" not in logs["registry"], logs

    system.cli("up", "4", "--pool", POOL)
    wait_until(lambda: system.status(POOL)["agents"]["starting"] + system.status(POOL)["agents"]["ready"] >= 1,
               what="the scale-up under way")  # fmt: skip
    for name in leader.values():
        system.stop(name, signal.SIGKILL)
    killed = time.monotonic()
    # While no instance holds the leases the standbys answer nothing: no subscriber on the command subject.
    refused = system.cli("pool", "list", check=False)
    assert refused.returncode != 0 and "no policy service is listening" in refused.stderr, refused

    expected = {service: system.procs[name].pid for service, name in standby.items()}
    wait_until(lambda: leading_pids(system) == expected, timeout=15, interval=0.2, what="the standbys leading")
    took = time.monotonic() - killed
    assert took < 10, f"the standbys took {took:.1f}s to take over"

    wait_until(lambda: system.status(POOL)["agents"]["ready"] == 4, timeout=30, what="four agents ready")
    system.cli("up", "5", "--pool", POOL, "--wait", "--timeout", "30")  # the new policy serves commands

    changes = [(d["previous"], d["desired"], d["trigger"]) for d in decisions(system)]
    assert changes.count((0, 4, "command")) == 1 and changes.count((4, 5, "command")) == 1, changes
    assert len(changes) == len(set(changes)), f"a decision made twice: {changes}"
