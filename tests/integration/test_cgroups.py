"""Pool cgroups for real, on this machine's cgroup files (v2, else v1): limits written and read back, processes
moved in, memory and pids limits enforced by the kernel, and an actuator's agents started inside their pool's
cgroup. Skipped only where no writable cgroup backend exists."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import msgspec
import pytest
from nats.aio.client import Client
from structlog.testing import capture_logs

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.cgroupplan import Limits, cgroup_name, pool_limits
from agentscaler.services.actuator.cgroups import Backend, PoolCgroup, PoolCgroups, detect
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, put_struct
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.children import die_with_parent
from agentscaler.shared.messages.agents import Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.numbers import MIB
from tests.conftest import eventually
from tests.e2e.harness import agent_processes, fork_servers
from tests.services import agent_events, next_event, running

UNLIMITED_V1 = 1 << 62
"""v1 reads back "no memory limit" as the largest page-aligned counter, which is above this."""


@pytest.fixture
def backend() -> Backend:
    found, reason = detect("auto")
    if found is None:
        pytest.skip(f"no writable cgroup backend on this machine: {reason}")
    return found


@pytest.fixture
def make_cgroup(backend: Backend) -> Iterator[Callable[[str], PoolCgroup]]:
    """A pool cgroup handle by name; after the test, whatever is left of it goes (its processes killed first),
    even if the test failed."""
    made: list[PoolCgroup] = []

    def make(name: str) -> PoolCgroup:
        made.append(PoolCgroup(backend, name))
        return made[-1]

    yield make
    for group in made:
        destroy(group)


def destroy(group: PoolCgroup) -> None:
    deadline = time.monotonic() + 10
    for path in group.paths:
        while path.exists():
            for pid in members(path):
                os.kill(pid, signal.SIGKILL)
            try:
                path.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def members(path: Path) -> set[int]:
    try:
        return {int(pid) for pid in (path / "cgroup.procs").read_text().split()}
    except FileNotFoundError:
        return set()


def in_every_hierarchy(group: PoolCgroup) -> set[int]:
    """The processes of the cgroup in all its hierarchies (v1 has one directory per controller)."""
    return set.intersection(*(members(path) for path in group.paths))


def read_limits(group: PoolCgroup) -> Limits:
    v1 = group.backend.version == "v1"
    memory = (group.dirs["memory"] / ("memory.limit_in_bytes" if v1 else "memory.max")).read_text().strip()
    pids = (group.dirs["pids"] / "pids.max").read_text().strip()
    return Limits(
        memory_bytes=None if memory == "max" or int(memory) >= UNLIMITED_V1 else int(memory),
        pids=None if pids == "max" else int(pids),
    )


def start_in(group: PoolCgroup, *argv: str) -> subprocess.Popen[bytes]:
    """A child started the way the actuator starts agents: joining the cgroup before its program runs."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, preexec_fn=group.joining(die_with_parent()))
    group.add(proc.pid)
    return proc


def swap_kib() -> int:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return int(meminfo["SwapTotal"].split()[0])


def unique_name() -> str:
    return cgroup_name("it", uuid.uuid4().hex[:8])


def test_a_pool_cgroup_is_made_limited_joined_and_removed(make_cgroup: Callable[[str], PoolCgroup]) -> None:
    group = make_cgroup(unique_name())
    group.create()
    group.create()  # one left behind by a crashed actuator is reused
    group.limit(Limits(memory_bytes=96 * MIB, pids=10))
    assert read_limits(group) == Limits(memory_bytes=96 * MIB, pids=10)

    joined = start_in(group, "sleep", "30")  # moved in before exec
    added = subprocess.Popen(["sleep", "30"], preexec_fn=die_with_parent())  # moved in after the start
    group.add(added.pid)
    try:
        assert {joined.pid, added.pid} <= in_every_hierarchy(group)
        assert os.getpid() not in in_every_hierarchy(group)
        group.limit(Limits(memory_bytes=None, pids=None))
        assert read_limits(group) == Limits(memory_bytes=None, pids=None)
    finally:
        for proc in (joined, added):
            proc.kill()
            proc.wait()
    group.remove()
    assert not any(path.exists() for path in group.paths)


def test_the_pids_limit_stops_a_process_from_starting_more_threads(make_cgroup: Callable[[str], PoolCgroup]) -> None:
    group = make_cgroup(unique_name())
    group.create()
    group.limit(Limits(memory_bytes=None, pids=4))
    script = (
        "import threading, time\n"
        "started = 0\n"
        "try:\n"
        "    for _ in range(20):\n"
        "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "        started += 1\n"
        "except RuntimeError:\n"
        "    pass\n"
        "print(started)\n"
    )
    proc = start_in(group, sys.executable, "-c", script)
    out, _ = proc.communicate(timeout=30)
    assert int(out) == 3  # the main thread and three more make four tasks


def test_the_memory_limit_has_the_kernel_kill_a_process_that_takes_more(
    make_cgroup: Callable[[str], PoolCgroup],
) -> None:
    if swap_kib():
        pytest.skip("this machine has swap, which would take the overflow instead of the OOM killer")
    group = make_cgroup(unique_name())
    group.create()
    group.limit(Limits(memory_bytes=64 * MIB, pids=None))
    proc = start_in(group, sys.executable, "-c", "data = b'x' * (256 << 20); print('survived')")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and out == b""


def test_a_cgroup_that_cannot_be_made_leaves_the_pool_unlimited_not_the_actuator_down(
    backend: Backend, tmp_path: Path
) -> None:
    nowhere = Backend(backend.version, dict.fromkeys(backend.bases, tmp_path / "missing"))
    cgroups = PoolCgroups(nowhere, host="it")
    with capture_logs() as logs:
        cgroups.ensure(PoolConfig(name="p"), running=1)
        cgroups.ensure(PoolConfig(name="p"), running=2)  # not tried (and logged) again
    assert cgroups.get("p") is None
    assert [entry["event"] for entry in logs] == ["cannot create the pool cgroup; its agents run without cgroup limits"]
    assert "delegated cgroup" in logs[0]["fix"]

    elsewhere = PoolCgroup(nowhere, "gone")
    with capture_logs() as logs:
        elsewhere.add(os.getpid())
        elsewhere.add(os.getpid())  # the same failure again is not repeated as a warning
    assert [entry["log_level"] for entry in logs].count("warning") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("spawn", ["fork", "exec"])
async def test_an_actuators_agents_run_in_their_pools_cgroup(
    spawn: Literal["fork", "exec"],
    backend: Backend,
    make_cgroup: Callable[[str], PoolCgroup],
    nats_server: EmbeddedServer,
    nc: Client,
) -> None:
    host = f"it-{uuid.uuid4().hex[:8]}"
    pool = PoolConfig(
        name="limited",
        spawn=spawn,
        max_agents=3,
        agent_memory_limit_mb=128,
        agent_pids_limit=16,
        heartbeat_interval=0.5,
        pull_timeout=1.0,
        drain_timeout=20,
    )
    group = make_cgroup(cgroup_name(host, pool.name))
    js = nc.jetstream()
    await ensure_task_queue(js, pool)
    await put_struct(await bucket(js, subjects.POOLS_BUCKET), pool.name, pool)
    events = await agent_events(nc)
    settings = ActuatorSettings(nats_url=nats_server.url, host=host, reconcile_interval=0.1)
    async with running(actuator.run, settings):
        await put_struct(await bucket(js, subjects.DESIRED_BUCKET), pool.name, DesiredState(pool=pool.name, desired=2))
        spawned = {(await next_event(events, Spawned)).pid for _ in range(2)}
        servers = {p.pid for p in fork_servers(host)}
        assert len(servers) == (1 if spawn == "fork" else 0)
        assert spawned == {p.pid for p in agent_processes(host)}
        assert spawned | servers <= in_every_hierarchy(group)
        assert (
            read_limits(group)
            == pool_limits(pool)
            == Limits(memory_bytes=(3 + len(servers)) * 128 * MIB, pids=(3 + len(servers)) * 16)
        )

        changed = msgspec.structs.replace(pool, max_agents=5, agent_pids_limit=8)
        await put_struct(await bucket(js, subjects.POOLS_BUCKET), pool.name, changed)

        async def limits_follow_the_config() -> bool:
            return read_limits(group) == pool_limits(changed)

        await eventually(limits_follow_the_config, what="the new config's limits in the cgroup files")
    assert not any(path.exists() for path in group.paths)  # removed once its agents were gone
