"""End to end on a 3-node NATS cluster with replicas 3: a node killed mid-load loses no task, runs none twice,
and the services and agents go on with the other two."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import KeyNotFoundError

from agentscaler.shared import subjects
from agentscaler.shared.bus.local_cluster import LocalCluster
from agentscaler.shared.bus.server import EmbeddedServer
from tests.e2e.conftest import services_up
from tests.e2e.harness import System, agent_processes, make_pool, wait_until

pytestmark = pytest.mark.e2e

TASKS = 200
AGENTS = 20


@pytest.fixture
def cluster_system(nats_cluster: LocalCluster, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[System]:
    with services_up(nats_cluster.url, tmp_path, request, {"AGENTSCALER_REPLICAS": "3"}) as system:
        yield system


def status(system: System) -> dict:  # type: ignore[type-arg]
    return json.loads(system.cli("status", "--json", "--pool", "e2e").stdout)


def leader_of(system: System, stream: str) -> str:
    return next(s["leader"] for s in status(system)["cluster"]["streams"] if s["stream"] == stream)


async def stored_results(url: str, ids: list[str]) -> tuple[dict[str, str], int]:
    """Each task's stored result status (``ok``, ``failed``), and how many results the bucket's stream holds."""
    nc = await nats.connect(url.split(","))
    try:
        js = nc.jetstream()
        kv = await js.key_value(subjects.RESULTS_BUCKET)
        states = {}
        for task_id in ids:
            try:
                entry = await kv.get(subjects.result_key("e2e", task_id))
            except KeyNotFoundError:
                continue
            states[task_id] = json.loads(entry.value or b"{}")["status"]
        stored = (await js.stream_info(f"KV_{subjects.RESULTS_BUCKET}")).state.messages
        return states, stored
    finally:
        await nc.close()


def test_a_nats_node_killed_mid_load_loses_no_task(cluster_system: System, nats_cluster: LocalCluster) -> None:
    system = cluster_system
    make_pool(system, "e2e")
    system.cli("up", str(AGENTS), "--pool", "e2e", "--wait", "--timeout", "60")
    cluster = status(system)["cluster"]
    assert cluster["name"] == "agentscaler" and len(cluster["servers"]) == 3, cluster
    streams = {s["stream"]: s["replicas"] for s in cluster["streams"]}
    assert streams[subjects.task_stream("e2e")] == 3 and streams[f"KV_{subjects.POOLS_BUCKET}"] == 3, streams
    assert set(streams.values()) == {3}, streams

    ids = system.cli("submit", '{"sleep": 1}', "--count", str(TASKS), "--pool", "e2e").stdout.split()
    assert len(set(ids)) == TASKS
    wait_until(lambda: status(system)["pools"][0]["tasks"]["completed"] >= 2 * AGENTS, what="work under way")
    leader = leader_of(system, subjects.task_stream("e2e"))
    victim: EmbeddedServer = next(s for s in nats_cluster.servers if s.server_name == leader)
    assert victim.proc is not None
    victim.proc.kill()  # SIGKILL the task queue's leader mid-load
    victim.proc.wait()

    done = wait_until(
        lambda: (s := status(system))["pools"][0]["tasks"]["completed"] == TASKS and s,
        timeout=60,
        what=f"all {TASKS} tasks done",
    )
    pool = done["pools"][0]
    assert pool["tasks"]["failed"] == 0 and pool["queue"]["pending"] == 0 and pool["queue"]["in_flight"] == 0
    states, stored = asyncio.run(stored_results(system.url, ids))
    assert states == dict.fromkeys(ids, "ok"), "every task has its one result"
    assert stored == TASKS, "each result stored once: none completed twice"
    # The cluster goes on with two nodes: new leaders, the services and agents reconnected to the others.
    assert leader_of(system, subjects.task_stream("e2e")) not in ("", leader)
    assert all(proc.poll() is None for proc in system.procs.values()), "every service kept running"
    system.cli("down", str(AGENTS // 2), "--pool", "e2e", "--wait", "--timeout", "60")
    assert len(agent_processes(system.host)) == AGENTS // 2
    [late] = system.cli("submit", '{"sleep": 0}', "--pool", "e2e").stdout.split()
    wait_until(lambda: json.loads(system.cli("result", late, "--pool", "e2e").stdout)["state"] == "done", what="late")
    assert status(system)["pools"][0]["tasks"]["completed"] == TASKS + 1
