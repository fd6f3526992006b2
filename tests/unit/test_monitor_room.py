"""Room to grow, the one rule: how many more agents a host takes (memory or CPU bounds it) and how many more a
pool can have (its max, its auto max or the hosts), as the monitor puts them in its snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.monitor.room import cpu_fit, host_room, memory_fit, pool_room, with_room
from agentscaler.shared.capacity import CPU_CEILING
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import HostSnapshot
from agentscaler.shared.numbers import MIB

from . import builders as b
from .builders import PROPERTY

# --- one host -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory", "cpu", "room"),
    [
        pytest.param(42, 300, (42, "memory"), id="memory-bound"),
        pytest.param(90, 4, (4, "CPU"), id="cpu-bound"),
        pytest.param(42, None, (42, "memory"), id="cpu-unmeasured"),
        pytest.param(7, 7, (7, "memory"), id="tie-is-memory"),
        pytest.param(50, 0, (0, "CPU"), id="cpu-saturated"),
    ],
)
def test_host_room_is_the_smaller_fit_and_names_it(memory, cpu, room):
    assert host_room(memory, cpu) == room


@pytest.mark.parametrize(
    ("available", "reserve", "per_agent", "fit"),
    [(3000 * MIB, 1000 * MIB, 100 * MIB, 20), (500 * MIB, 1000 * MIB, 100 * MIB, 0), (3000 * MIB, 0, 0, 0)],
    ids=["fits", "inside-the-reserve", "no-budget"],
)
def test_memory_fit_keeps_the_reserve_free(available, reserve, per_agent, fit):
    assert memory_fit(available, reserve, per_agent) == fit


def test_cpu_fit_fills_up_to_the_shared_ceiling():
    assert cpu_fit(CPU_CEILING - 10.0, 2, 5.0) == 4  # 10% of 2 cores = 20% of a core, at 5% each
    assert cpu_fit(CPU_CEILING, 8, 5.0) == 0


# --- one pool -------------------------------------------------------------------------------------------


def hosts(*fits: tuple[int, int | None], **changes: Any) -> list[HostSnapshot]:
    """Hosts h1, h2, ... with these (memory fit, CPU fit) pairs."""
    return [b.host_snapshot(f"h{i}", agents_fit=m, cpu_fit=c, **changes) for i, (m, c) in enumerate(fits, 1)]


@pytest.mark.parametrize(
    ("pool", "fits", "room", "bound"),
    [
        pytest.param({}, [(20, None), (20, None)], 31, "the pool's max_agents 40", id="max"),
        pytest.param({}, [(10, None), (5, None)], 15, "memory on h1, h2: fits 15 more", id="memory-bound"),
        pytest.param({}, [(50, 1), (50, 3)], 4, "CPU on h1, h2: fits 4 more", id="cpu-bound"),
        pytest.param({}, [(10, None), (20, 2)], 12, "memory on h1, CPU on h2: fits 12 more", id="several-hosts"),
        pytest.param({}, [(50, 100), (50, 100)], 31, "the pool's max_agents 40", id="cpu-beyond-max"),
        pytest.param({}, [(3, None)], 3, "memory on h1: fits 3 more", id="cpu-unmeasured"),
        pytest.param(
            {"mode": "auto", "auto_max": 12}, [(20, None)], 3, "its auto max 12", id="auto-max-lower-than-max"
        ),
        pytest.param(
            {"mode": "auto", "auto_max": 60}, [(50, None)], 31, "the pool's max_agents 40", id="auto-max-higher"
        ),
        pytest.param({"auto_max": 12}, [(50, None)], 31, "the pool's max_agents 40", id="auto-max-not-in-force"),
        pytest.param({"desired": 50}, [(5, None)], 0, "the pool's max_agents 40", id="desired-above-limit"),
        pytest.param({}, [(1, None)] * 5, 5, "memory on h1, h2, h3 and 2 more: fits 5 more", id="names-three-hosts"),
        pytest.param({}, [], 31, "the pool's max_agents 40", id="no-host-known"),
    ],
)
def test_pool_room_is_the_smaller_of_its_limit_and_the_hosts(pool, fits, room, bound):
    args = {"mode": "manual", "desired": 9, "max_agents": 40, "auto_max": None} | pool
    r = pool_room(hosts=hosts(*fits), **args)
    assert (r.room, r.bound, r.cpu_hold) == (room, bound, "")


@pytest.mark.parametrize(
    ("mode", "cpus", "hold"),
    [
        pytest.param("auto", [97.0], "host CPU at 97%", id="one-host"),
        pytest.param("auto", [37.0, 98.0], "host CPU at 98% on h2", id="names-the-hot-host"),
        pytest.param("auto", [CPU_CEILING, 99.0], "host CPU at 99% on h1, h2", id="at-the-ceiling-counts"),
        pytest.param("auto", [94.9], "", id="below"),
        pytest.param("manual", [99.0], "", id="manual-mode-scales-anyway"),
    ],
)
def test_auto_mode_says_a_saturated_host_holds_it(mode, cpus, hold):
    listed = [b.host_snapshot(f"h{i}", cpu_percent=cpu) for i, cpu in enumerate(cpus, 1)]
    assert pool_room(mode, 9, 40, None, listed).cpu_hold == hold


def test_with_room_puts_the_figures_in_the_pool_snapshot():
    pool = b.pool_snapshot(mode="auto", auto=AutoConfig(max_agents=12), desired=9)
    snap = with_room(pool, hosts((20, 2), cpu_percent=96.0))
    assert (snap.room, snap.room_bound, snap.cpu_hold) == (2, "CPU on h1: fits 2 more", "host CPU at 96%")
    assert (snap.name, snap.desired) == (pool.name, pool.desired)


# --- properties -----------------------------------------------------------------------------------------

fit_pairs = st.lists(st.tuples(st.integers(0, 500), st.none() | st.integers(0, 500)), max_size=6)


@PROPERTY
@given(
    fits=fit_pairs,
    mode=st.sampled_from(["manual", "auto"]),
    desired=st.integers(0, 300),
    max_agents=st.integers(0, 300),
    auto_max=st.none() | st.integers(0, 300),
)
def test_room_is_never_negative_nor_above_either_bound(fits, mode, desired, max_agents, auto_max):
    listed = hosts(*fits)
    for h, (memory, cpu) in zip(listed, fits, strict=True):
        assert 0 <= h.room <= memory and (cpu is None or h.room <= cpu)
    limit = min(max_agents, auto_max) if mode == "auto" and auto_max is not None else max_agents
    r = pool_room(mode, desired, max_agents, auto_max, listed)
    assert 0 <= r.room <= max(limit - desired, 0)
    assert not listed or r.room <= sum(h.room for h in listed)
    assert r.room == (min(max(limit - desired, 0), sum(h.room for h in listed)) if listed else max(limit - desired, 0))
