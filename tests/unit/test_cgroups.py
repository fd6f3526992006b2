"""The pure cgroup decisions: a pool's limits, the pool cgroup's name, where this process's cgroups are (from the
text of /proc/self/cgroup and /proc/self/mountinfo) and where pool cgroups go under cgroup v2."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.actuator.cgroupplan import (
    Hierarchy,
    Limits,
    cgroup_name,
    locate,
    place_v2,
    pool_limits,
)
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.numbers import MIB

from .builders import PROPERTY

# --- limits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "running", "limits"),
    [
        pytest.param(PoolConfig(name="p"), 0, Limits(101 * 256 * MIB, 101 * 32), id="defaults-fork"),
        pytest.param(
            PoolConfig(name="p", spawn="exec", max_agents=10), 0, Limits(10 * 256 * MIB, 10 * 32), id="exec-no-server"
        ),
        pytest.param(
            PoolConfig(name="p", max_agents=4, agent_memory_limit_mb=64, agent_pids_limit=8),
            0,
            Limits(5 * 64 * MIB, 5 * 8),
            id="per-agent-allowances",
        ),
        pytest.param(PoolConfig(name="p", max_agents=4), 3, Limits(5 * 256 * MIB, 5 * 32), id="fewer-running"),
        pytest.param(PoolConfig(name="p", max_agents=4), 7, Limits(8 * 256 * MIB, 8 * 32), id="draining-overlap"),
        pytest.param(PoolConfig(name="p", max_agents=0), 0, Limits(256 * MIB, 32), id="zero-agents-one-server"),
        pytest.param(PoolConfig(name="p", spawn="exec", max_agents=0), 0, Limits(0, 0), id="zero-agents-exec-nothing"),
        pytest.param(PoolConfig(name="p", agent_memory_limit_mb=0), 0, Limits(None, 101 * 32), id="no-memory-limit"),
        pytest.param(PoolConfig(name="p", agent_pids_limit=0), 0, Limits(101 * 256 * MIB, None), id="no-pids-limit"),
    ],
)
def test_pool_limits(pool: PoolConfig, running: int, limits: Limits) -> None:
    assert pool_limits(pool, running) == limits


@PROPERTY
@given(
    max_agents=st.integers(0, 10_000),
    running=st.integers(0, 20_000),
    memory_mb=st.integers(1, 1 << 16),
    pids=st.integers(1, 1024),
    spawn=st.sampled_from(["fork", "exec"]),
)
def test_pool_limits_cover_every_running_agent_and_never_shrink_as_agents_are_added(
    max_agents: int, running: int, memory_mb: int, pids: int, spawn: str
) -> None:
    pool = PoolConfig(
        name="p", max_agents=max_agents, agent_memory_limit_mb=memory_mb, agent_pids_limit=pids, spawn=spawn
    )
    limits, more = pool_limits(pool, running), pool_limits(pool, running + 1)
    assert limits.memory_bytes is not None and limits.pids is not None
    assert limits.memory_bytes >= running * memory_mb * MIB and limits.pids >= running * pids
    assert limits.memory_bytes % 4096 == 0  # page-aligned: v1 reads back what was written
    assert more.memory_bytes is not None and more.pids is not None
    assert more.memory_bytes >= limits.memory_bytes and more.pids >= limits.pids


@pytest.mark.parametrize(
    ("host", "pool", "name"),
    [
        ("vm", "default", "agentscaler-vm-default"),
        ("web-1_a", "summ_2", "agentscaler-web-1_a-summ_2"),
        ("odd host/x", "p", "agentscaler-odd-host-x-p"),
    ],
)
def test_cgroup_name(host: str, pool: str, name: str) -> None:
    assert cgroup_name(host, pool) == name


# --- locate ---------------------------------------------------------------------------------------------

HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/
"""
HYBRID_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2_CGROUP = "0::/system.slice/agentscaler.service\n"
V2_MOUNTS = """\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw
25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""
# A container whose cgroup mount shows only its own subtree (no cgroup namespace).
CONTAINER_CGROUP = "0::/docker/c0ffee/app\n"
CONTAINER_MOUNTS = "600 590 0:23 /docker/c0ffee /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n"
ESCAPED_MOUNTS = "25 22 0:23 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n"
OTHER_SUBTREE_MOUNTS = "600 590 0:23 /docker/other /sys/fs/cgroup rw - cgroup2 cgroup rw\n"


def h(mount: str, own: str) -> Hierarchy:
    return Hierarchy(mount=Path(mount), own=Path(own))


@pytest.mark.parametrize(
    ("proc_cgroup", "mountinfo", "expected"),
    [
        pytest.param(
            HYBRID_CGROUP,
            HYBRID_MOUNTS,
            {
                "unified": h("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified"),
                "pids": h("/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids"),
                "memory": h("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/process_api/abc"),
                "cpu": h("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
                "cpuacct": h("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
                "name=systemd": h("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd"),
            },
            id="hybrid-v1-and-v2",
        ),
        pytest.param(
            V2_CGROUP,
            V2_MOUNTS,
            {"unified": h("/sys/fs/cgroup", "/sys/fs/cgroup/system.slice/agentscaler.service")},
            id="pure-v2",
        ),
        pytest.param(
            CONTAINER_CGROUP,
            CONTAINER_MOUNTS,
            {"unified": h("/sys/fs/cgroup", "/sys/fs/cgroup/app")},
            id="mount-of-a-subtree",
        ),
        pytest.param("0::/\n", ESCAPED_MOUNTS, {"unified": h("/mnt/my cgroups", "/mnt/my cgroups")}, id="escaped"),
        pytest.param(CONTAINER_CGROUP, OTHER_SUBTREE_MOUNTS, {}, id="mount-not-showing-us"),
        pytest.param(V2_CGROUP, HYBRID_MOUNTS.replace("cgroup2 cgroup2", "tmpfs tmpfs"), {}, id="v2-not-mounted"),
        pytest.param("", "", {}, id="nothing"),
    ],
)
def test_locate(proc_cgroup: str, mountinfo: str, expected: dict[str, Hierarchy]) -> None:
    assert locate(proc_cgroup, mountinfo) == expected


# --- place_v2 -------------------------------------------------------------------------------------------

SERVICE = h("/sys/fs/cgroup", "/sys/fs/cgroup/system.slice/agentscaler.service")
TOP = h("/sys/fs/cgroup", "/sys/fs/cgroup")
BOTH = {"memory", "pids"}


@pytest.mark.parametrize(
    ("unified", "controllers", "subtree", "own_writable", "parent_writable", "expected"),
    [
        pytest.param(SERVICE, BOTH | {"cpu"}, set(), True, True, (SERVICE.own.parent, False), id="beside-in-parent"),
        pytest.param(SERVICE, BOTH, BOTH, True, True, (SERVICE.own, False), id="own-children-have-them"),
        pytest.param(TOP, BOTH, set(), True, False, (TOP.own, True), id="top-enable-them"),
        pytest.param(TOP, BOTH, BOTH, True, False, (TOP.own, False), id="top-already-enabled"),
        pytest.param(TOP, BOTH, set(), False, False, "not writable", id="top-read-only"),
        pytest.param(SERVICE, {"memory"}, set(), True, True, "pids not delegated", id="pids-missing"),
        pytest.param(SERVICE, set(), set(), True, True, "(cgroup.controllers: none)", id="none-delegated"),
        pytest.param(SERVICE, BOTH, set(), True, False, "DelegateSubgroup", id="parent-closed"),
    ],
)
def test_place_v2(
    unified: Hierarchy,
    controllers: set[str],
    subtree: set[str],
    own_writable: bool,
    parent_writable: bool,
    expected: tuple[Path, bool] | str,
) -> None:
    placed = place_v2(unified, controllers, subtree, own_writable, parent_writable)
    if isinstance(expected, str):
        assert isinstance(placed, str) and expected in placed, placed
    else:
        assert placed == expected
