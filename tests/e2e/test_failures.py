"""End to end: failing handlers, malformed tasks and broken pools never lose work or take a service down."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import nats
import psutil
import pytest

from agentscaler.shared.bus.server import EmbeddedServer
from tests.e2e.harness import System, agent_processes, make_pool, one_agent_busy, wait_until

pytestmark = pytest.mark.e2e


def result(system: System, pool: str, task_id: str) -> dict:  # type: ignore[type-arg]
    """The task's result as `result` prints it; its exit status says the same (1 for a failed task)."""
    done = system.cli("result", task_id, "--pool", pool, check=False)
    shown = json.loads(done.stdout)
    assert done.returncode == (1 if shown["state"] == "failed" else 0), (done.returncode, shown, done.stderr)
    return shown


def test_a_failing_task_is_retried_then_reported_failed(system: System) -> None:
    make_pool(system, "e2e", "--max-attempts", "2")
    system.cli("up", "2", "--pool", "e2e", "--wait", "--timeout", "60")
    [bad] = system.cli("submit", '{"sleep": 0, "fail": "boom"}', "--pool", "e2e").stdout.split()
    [good] = system.cli("submit", '{"sleep": 0}', "--pool", "e2e").stdout.split()
    failed = wait_until(lambda: (r := result(system, "e2e", bad))["state"] == "failed" and r, what="failed result")
    assert failed["attempts"] == 2 and failed["error"] == "SimulatedFailure: boom"
    assert result(system, "e2e", good)["state"] == "done"
    wait_until(
        lambda: (t := system.status("e2e")["tasks"])["completed"] == 1 and t["failed"] == 1, what="1 ok and 1 failed"
    )


def test_a_malformed_task_is_reported_failed_and_the_agent_goes_on(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "1", "--pool", "e2e", "--wait", "--timeout", "60")

    async def publish_junk() -> None:
        nc = await nats.connect(system.url)
        await nc.jetstream().publish("agentscaler.tasks.e2e", b"{not a task", headers={"Nats-Msg-Id": "junk-1"})
        await nc.close()

    asyncio.run(publish_junk())
    junk = wait_until(lambda: (r := result(system, "e2e", "junk-1"))["state"] == "failed" and r, what="junk reported")
    assert "malformed JSON" in junk["error"]
    [ok] = system.cli("submit", '{"sleep": 0}', "--pool", "e2e").stdout.split()
    wait_until(lambda: result(system, "e2e", ok)["state"] == "done", what="next task done")


def test_pool_set_reports_a_handler_the_host_cannot_load(system: System) -> None:
    make_pool(system, "e2e")  # the system answers
    for handler, error in (
        ("no_such_module_anywhere:run", "cannot import handler module 'no_such_module_anywhere'"),
        ("agentscaler.services.agent.examples.llm:parse_latency", "must be an async function"),
    ):
        out = system.cli("pool", "set", "bad", "--handler", handler, check=False)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"pool bad is saved, but host {system.host} cannot run it" in out.stderr and error in out.stderr
        problems = system.status("bad")["problems"]
        assert any(error in problem for problem in problems), problems
    fixed = system.cli("pool", "set", "bad", "--handler", "agentscaler.services.agent.examples.llm:simulate")
    assert "cannot run it" not in fixed.stderr
    wait_until(lambda: system.status("bad")["problems"] == [], what="the problem gone from status")


def test_a_pool_with_a_broken_handler_backs_off_instead_of_spinning(system: System) -> None:
    make_pool(system, "broken", "--handler", "no_such_module_anywhere:run")
    system.cli("up", "3", "--pool", "broken")
    wait_until(
        lambda: "cannot import handler module 'no_such_module_anywhere'" in system.log_text(), what="clear error"
    )
    time.sleep(4)
    logs = system.log_text()
    starts = logs.count('"event": "agent cannot start"')
    assert 3 <= starts <= 30, f"crash-looping agents must back off, saw {starts} failed starts in ~5 s"
    assert "backing off" in logs
    assert system.status("broken")["agents"]["ready"] == 0
    # The rest of the system is unaffected.
    make_pool(system, "fine")
    system.cli("up", "1", "--pool", "fine", "--wait", "--timeout", "60")


def test_a_nats_restart_mid_work_loses_no_task(system: System, nats_server: EmbeddedServer) -> None:
    make_pool(system, "e2e")
    system.cli("up", "3", "--pool", "e2e", "--wait", "--timeout", "60")
    ids = system.cli("submit", '{"sleep": 0.3}', "--count", "30", "--pool", "e2e").stdout.split()
    wait_until(lambda: system.status("e2e")["tasks"]["completed"] >= 3, what="work under way")
    nats_server.stop()
    time.sleep(1.5)
    nats_server.start()
    done = wait_until(
        lambda: (s := system.status("e2e"))["tasks"]["completed"] == 30 and s, timeout=90, what="all 30 tasks done"
    )
    assert done["tasks"]["failed"] == 0
    assert all(result(system, "e2e", t)["state"] == "done" for t in ids[::5])
    assert all(proc.poll() is None for proc in system.procs.values()), "every service kept running"


def test_a_hung_agent_is_declared_lost_killed_and_replaced(system: System) -> None:
    task_id, hung = one_agent_busy(system, "e2e", 4)  # long enough to be stopped mid-task, CLI polls and all
    hung.send_signal(signal.SIGSTOP)  # alive but silent: no heartbeats, no progress
    done = wait_until(
        lambda: (r := result(system, "e2e", task_id))["state"] == "done" and r, timeout=60, what="task done elsewhere"
    )
    assert done["attempts"] == 2
    logs = system.log_text()
    assert "agent declared lost but still running; killing it" in logs
    assert not hung.is_running() or hung.status() == psutil.STATUS_ZOMBIE
    wait_until(lambda: len(agent_processes(system.host)) == 1, what="replacement agent")


def test_invalid_task_ids_are_reported_not_retried(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "1", "--pool", "e2e", "--wait", "--timeout", "60")

    async def publish() -> None:
        nc = await nats.connect(system.url)
        body = b'{"id": "bad id/1", "pool": "e2e", "payload": {}, "submitted_at": 0}'
        await nc.jetstream().publish("agentscaler.tasks.e2e", body, headers={"Nats-Msg-Id": "hdr-1"})
        await nc.close()

    asyncio.run(publish())
    failed = wait_until(lambda: (r := result(system, "e2e", "hdr-1"))["state"] == "failed" and r, what="reported")
    assert "invalid task id 'bad id/1'" in failed["error"]
    wait_until(lambda: system.status("e2e")["tasks"]["failed"] == 1, what="counted once")
