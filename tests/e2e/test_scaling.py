"""End to end: up, down, tasks and status with real agent processes."""

from __future__ import annotations

import json
import signal

import psutil
import pytest

from tests.e2e.harness import System, agent_processes, fork_servers, make_pool, one_agent_busy, wait_until

pytestmark = pytest.mark.e2e


def running(status: dict) -> int:  # type: ignore[type-arg]
    a = status["agents"]
    return int(a["ready"] + a["busy"])


def test_up_5_gives_5_ready_agents(system: System) -> None:
    make_pool(system, "e2e")
    out = system.cli("up", "5", "--pool", "e2e", "--wait", "--timeout", "60")
    assert "desired 5 agents (was 0)" in out.stdout
    status = system.status("e2e")
    assert status["desired"] == 5 and status["mode"] == "manual"
    assert running(status) == 5 and status["agents"]["starting"] == 0
    agents = json.loads(system.cli("agents", "--pool", "e2e", "--json").stdout)["agents"]
    pids = {a["pid"] for a in agents}
    assert len(agents) == 5 and len(pids) == 5
    assert pids == {p.pid for p in agent_processes(system.host)}


def test_200_tasks_all_complete_once(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "5", "--pool", "e2e", "--wait", "--timeout", "60")
    ids = system.cli("submit", '{"sleep": 0.02}', "--count", "200", "--pool", "e2e").stdout.split()
    assert len(set(ids)) == 200
    status = wait_until(
        lambda: (s := system.status("e2e"))["tasks"]["completed"] == 200 and s, timeout=90, what="200 completions"
    )
    assert status["tasks"]["failed"] == 0
    assert status["queue"] == {
        "pending": 0,
        "in_flight": 0,
        "waiting_pulls": status["queue"]["waiting_pulls"],
        "submitted": 200,
    }
    for task_id in ids[::40]:
        result = json.loads(system.cli("result", task_id, "--pool", "e2e").stdout)
        assert result["state"] == "done" and result["result"]["latency"] == 0.02


def test_down_0_with_tasks_in_flight_loses_none(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "4", "--pool", "e2e", "--wait", "--timeout", "60")
    # Tasks long enough that the drain reaches the agents while their first task runs, even on a loaded
    # machine where each CLI call takes a second to start.
    ids = system.cli("submit", '{"sleep": 3}', "--count", "12", "--pool", "e2e").stdout.split()
    wait_until(lambda: system.status("e2e")["queue"]["in_flight"] == 4, what="4 tasks in flight")
    pids = [p.pid for p in agent_processes(system.host)]
    system.cli("down", "0", "--pool", "e2e", "--wait", "--timeout", "60")
    assert agent_processes(system.host) == []
    logs = system.log_text()
    assert logs.count('"agent exited after draining"') == 4, "every agent exits 0 after draining"
    assert "agent exited unexpectedly" not in logs
    assert "killing it" not in logs
    status = system.status("e2e")
    # The 4 tasks in flight finished during the drain; on a loaded machine an agent may have taken a second
    # task before the drain reached it, which it finished too. None is in flight, the rest wait.
    done = status["tasks"]["completed"]
    assert done >= 4, "the tasks in flight finished during the drain"
    assert status["queue"]["pending"] == 12 - done and status["queue"]["in_flight"] == 0
    # The rest waited in the queue, none lost: a new agent finishes them.
    system.cli("up", "2", "--pool", "e2e", "--wait", "--timeout", "60")
    wait_until(lambda: system.status("e2e")["tasks"]["completed"] == 12, timeout=60, what="all 12 done")
    results = [json.loads(system.cli("result", t, "--pool", "e2e").stdout) for t in ids]
    assert all(r["state"] == "done" and r["attempts"] == 1 for r in results), "no task ran twice"
    assert len(pids) == 4


def test_sigkilled_agent_task_is_redelivered_and_completed(system: System) -> None:
    task_id, victim = one_agent_busy(system, "e2e", 2)
    victim_id = victim.environ()["AGENTSCALER_AGENT_AGENT_ID"]
    victim.send_signal(signal.SIGKILL)
    result = wait_until(
        lambda: (r := json.loads(system.cli("result", task_id, "--pool", "e2e").stdout))["state"] == "done" and r,
        timeout=60,
        what="redelivered task done",
    )
    assert result["attempts"] == 2 and result["agent_id"] != victim_id
    logs = system.log_text()
    assert "agent lost" in logs and "killed by signal 9" in logs
    wait_until(lambda: running(system.status("e2e")) == 1, what="crashed agent replaced")
    assert system.status("e2e")["tasks"]["completed"] == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "killed"])
def test_restarted_actuator_converges_without_extra_agents(system: System, sig: int) -> None:
    make_pool(system, "e2e")
    system.cli("up", "3", "--pool", "e2e", "--wait", "--timeout", "60")
    before = {p.pid for p in agent_processes(system.host)}
    assert len(before) == 3
    system.stop("actuator", sig)
    # Its agents go with it (drained on SIGTERM, parent-death signal on SIGKILL): no orphans.
    wait_until(lambda: agent_processes(system.host) == [], what="old agents gone")
    system.start("actuator")
    wait_until(lambda: len(agent_processes(system.host)) == 3, what="3 agents again")
    system.cli("up", "3", "--pool", "e2e", "--wait", "--timeout", "60")
    after = {p.pid for p in agent_processes(system.host)}
    assert len(after) == 3 and not (after & before)
    for _ in range(10):  # it stays there: no extra agents appear
        assert len(agent_processes(system.host)) == 3
        assert running(system.status("e2e")) == 3


def test_exec_spawning_still_works_for_pools_that_need_it(system: System) -> None:
    make_pool(system, "plain", "--spawn", "exec")
    system.cli("up", "2", "--pool", "plain", "--wait", "--timeout", "60")
    agents = agent_processes(system.host)
    assert len(agents) == 2 and all("agentscaler.services.agent" in p.cmdline() for p in agents)
    assert fork_servers(system.host) == []
    system.cli("down", "0", "--pool", "plain", "--wait", "--timeout", "60")


def test_a_killed_fork_server_takes_no_task_and_leaves_no_orphan(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "3", "--pool", "e2e", "--wait", "--timeout", "60")
    ids = system.cli("submit", '{"sleep": 1}', "--count", "6", "--pool", "e2e").stdout.split()
    wait_until(lambda: system.status("e2e")["queue"]["in_flight"] == 3, what="3 tasks in flight")
    [server] = fork_servers(system.host)
    before = {p.pid for p in agent_processes(system.host)}
    server.kill()
    # Its agents get the parent-death signal, finish their tasks and exit; the actuator reaps them (it is
    # their subreaper), starts a new fork server and new agents.
    wait_until(lambda: not (before & {p.pid for p in agent_processes(system.host)}), what="old agents gone")
    wait_until(lambda: len(agent_processes(system.host)) == 3, what="3 new agents")
    assert len(fork_servers(system.host)) == 1
    wait_until(lambda: system.status("e2e")["tasks"]["completed"] == 6, timeout=60, what="all 6 tasks done")
    results = [json.loads(system.cli("result", t, "--pool", "e2e").stdout) for t in ids]
    assert all(r["state"] == "done" for r in results)
    actuator = psutil.Process(system.procs["actuator"].pid)
    wait_until(
        lambda: not any(p.status() == psutil.STATUS_ZOMBIE for p in actuator.children(recursive=True)),
        what="every exited agent reaped",
    )


def test_100_agents_up_and_down_with_work_in_flight_lose_nothing(system: System) -> None:
    make_pool(system, "e2e", "--max-agents", "100", "--heartbeat-interval", "2", "--pull-timeout", "10")
    system.cli("up", "100", "--pool", "e2e", "--wait", "--timeout", "120")
    assert len(agent_processes(system.host)) == 100
    ids = system.cli("submit", '{"sleep": 1}', "--count", "300", "--pool", "e2e").stdout.split()
    wait_until(lambda: system.status("e2e")["queue"]["in_flight"] >= 50, what="agents busy")
    system.cli("down", "0", "--pool", "e2e", "--wait", "--timeout", "120")
    assert agent_processes(system.host) == []
    logs = system.log_text()
    assert logs.count('"agent exited after draining"') == 100 and "killing it" not in logs
    # Every task either finished during the drain or is still queued: none in flight, none lost.
    wait_until(
        lambda: (
            (s := system.status("e2e"))["tasks"]["completed"] + s["queue"]["pending"] == 300
            and s["queue"]["in_flight"] == 0
        ),
        timeout=10,
        what="completed + pending == 300",
    )
    system.cli("up", "20", "--pool", "e2e", "--wait", "--timeout", "120")
    wait_until(lambda: system.status("e2e")["tasks"]["completed"] == 300, timeout=120, what="all 300 done")
    assert system.status("e2e")["tasks"]["failed"] == 0
    assert len(set(ids)) == 300
