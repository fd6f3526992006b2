"""The status view of several hosts: each host's resources, its agents' averages and how many more fit; the
pools' room and what bounds it. Built from messages; nothing here talks to NATS."""

from __future__ import annotations

from typing import Any

import pytest

from agentscaler.services.cli.render import render_status
from agentscaler.services.monitor.room import with_room
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import HostSnapshot, Snapshot
from agentscaler.shared.numbers import GIB, MIB

from . import builders as b


def hosts_snapshot(*hosts: HostSnapshot, **pool: Any) -> Snapshot:
    """A status reply listing ``hosts``, answered by the first, with one pool whose room the monitor's rule
    figures over ``hosts``."""
    pools = [with_room(b.pool_snapshot(**pool), hosts)]
    return Snapshot(at=0.0, host=hosts[0], pools=pools, hosts=list(hosts))


def test_every_host_has_its_block_with_used_free_and_per_agent_averages():
    busy = b.host_snapshot(
        "b-2",
        cpu_count=4,
        cpu_percent=80.0,
        iowait_percent=3.5,
        memory_total=32 * GIB,
        memory_available=8 * GIB,
        disk_total=100 * GIB,
        disk_free=40 * GIB,
        agents=20,
        agent_pss_avg=70 * MIB,
        agent_rss_avg=120 * MIB,
        agent_cpu_avg=12.5,
        agents_cpu_percent=62.5,
        cpu_fit=4,
        agents_fit=90,
    )
    text = render_status(hosts_snapshot(b.host_snapshot("a-1"), busy))
    block = text[text.index("host b-2") :]
    for figure in [
        "80% used, 20% free of 4 cores",
        "24.0 GiB used   8.0 GiB available of 32.0 GiB",
        "60.0 GiB used   40.0 GiB free of 100.0 GiB",
        "I/O wait 3.5%",
        "20 running, ~70 MiB each (PSS; RSS 120 MiB)",
        "CPU 12.5% of a core each, ~62% of the host together",
        "fits 4 more agents, bound by CPU (under 95% CPU at 12.5% each); memory takes 90",
    ]:
        assert figure in block, (figure, block)
    assert text.index("host a-1") < text.index("host b-2") < text.index("all 2 hosts")


def test_a_host_bound_by_memory_says_what_its_cpu_would_take():
    text = render_status(hosts_snapshot(b.host_snapshot(agents_fit=42, cpu_fit=300, agent_cpu_avg=1.5)))
    assert "fits 42 more agents, bound by memory (keeping 1024 MiB free); CPU takes 300" in text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"agent_cpu_avg": 0.0}, "CPU sets no bound (agents near idle or not measured yet)"),
        ({"agent_cpu_avg": 0.01}, "CPU sets no bound (agents near idle)"),
        ({"agents": 0}, "CPU sets no bound (no agent to measure)"),
    ],
)
def test_a_host_without_a_cpu_bound_says_why(changes, words):
    assert words in render_status(hosts_snapshot(b.host_snapshot(**changes)))


def test_no_hosts_listed_falls_back_to_the_answering_host():
    text = render_status(b.snapshot(host=b.host_snapshot("solo"), pools=[]))
    assert text.startswith("host solo") and "all " not in text


def test_several_hosts_add_up_to_one_line():
    one = b.host_snapshot("h1", cpu_count=8, cpu_percent=20.0, agents=3, agents_fit=10)
    two = b.host_snapshot("h2", cpu_count=24, cpu_percent=60.0, agents=5, agents_fit=50, cpu_fit=7)
    text = render_status(hosts_snapshot(one, two))
    assert (
        "all 2 hosts   cpu 50% used of 32 cores   memory 20.0 GiB used   12.0 GiB available   "
        "disk 246.0 GiB free of 1000.0 GiB   agents 8 running, fit 17 more"
    ) in text


@pytest.mark.parametrize(
    ("pool", "hosts", "room"),
    [
        pytest.param(
            {"desired": 9, "max_agents": 40},
            [{"agents_fit": 20}, {"agents_fit": 20}],
            "31 more agents (bound by the pool's max_agents 40)",
            id="max",
        ),
        pytest.param(
            {"desired": 9, "max_agents": 40, "mode": "auto", "auto": AutoConfig(max_agents=12)},
            [{"agents_fit": 20}, {"agents_fit": 20}],
            "3 more agents (bound by its auto max 12)",
            id="auto-max",
        ),
        pytest.param(
            {"desired": 9, "max_agents": 40},
            [{"agents_fit": 10}, {"agents_fit": 5}],
            "15 more agents (bound by memory on h1, h2: fits 15 more)",
            id="memory",
        ),
        pytest.param(
            {"desired": 9, "max_agents": 40},
            [{"agents_fit": 10}, {"agents_fit": 20, "cpu_fit": 2}],
            "12 more agents (bound by memory on h1, CPU on h2: fits 12 more)",
            id="memory-and-cpu",
        ),
        pytest.param(
            {"desired": 9, "max_agents": 40},
            [{"agents_fit": 50, "cpu_fit": 1}, {"agents_fit": 50, "cpu_fit": 3}],
            "4 more agents (bound by CPU on h1, h2: fits 4 more)",
            id="cpu",
        ),
        pytest.param(
            {"desired": 9, "max_agents": 40},
            [{"agents_fit": 50, "cpu_fit": 100}, {"agents_fit": 50, "cpu_fit": 100}],
            "31 more agents (bound by the pool's max_agents 40)",
            id="cpu-beyond-max",
        ),
    ],
)
def test_the_room_adds_up_the_hosts_and_names_the_bound(pool, hosts, room):
    snap = hosts_snapshot(*(b.host_snapshot(f"h{i}", **h) for i, h in enumerate(hosts, 1)), **pool)
    assert f"  room     {room}" in render_status(snap)


def test_the_room_names_at_most_three_hosts():
    hosts = [b.host_snapshot(f"h{i}", agents_fit=1) for i in range(1, 6)]
    assert "(bound by memory on h1, h2, h3 and 2 more: fits 5 more)" in render_status(hosts_snapshot(*hosts))


def test_a_saturated_host_among_several_is_named_in_auto_mode():
    hosts = [b.host_snapshot("h1"), b.host_snapshot("h2", cpu_percent=98.0)]
    text = render_status(hosts_snapshot(*hosts, mode="auto", auto=AutoConfig()))
    assert "host CPU at 98% on h2: auto mode adds none until it falls" in text


def test_the_room_lines_print_the_snapshot_figures_as_they_are():
    """The CLI only formats: the room, its bound and the CPU hold are the monitor's figures, not worked out
    again from the hosts."""
    host = b.host_snapshot("h1", agents_fit=40, cpu_fit=9, agent_cpu_avg=2.0, room=9, room_bound="CPU")
    pool = b.pool_snapshot(room=6, room_bound="CPU on h1, h7: fits 6 more", cpu_hold="host CPU at 99% on h7")
    text = render_status(Snapshot(at=0.0, host=host, pools=[pool], hosts=[host]))
    assert (
        "  room     6 more agents (bound by CPU on h1, h7: fits 6 more); host CPU at 99% on h7: auto mode adds "
        "none until it falls"
    ) in text
    assert "fits 9 more agents, bound by CPU (under 95% CPU at 2.0% each); memory takes 40" in text


def test_a_pool_from_an_older_monitor_has_no_room_figures():
    text = render_status(Snapshot(at=0.0, host=b.host_snapshot(), pools=[b.pool_snapshot()]))
    assert "  room     not reported (by a monitor older than the room figures)" in text


def test_a_pool_placed_on_several_hosts_shows_each_share() -> None:
    snapshot = Snapshot(at=0.0, host=b.host_snapshot(), pools=[b.pool_snapshot(placement={"vm-2": 4, "vm-1": 5})])
    assert "  placed   vm-1 5   vm-2 4" in render_status(snapshot).splitlines()
    one = Snapshot(at=0.0, host=b.host_snapshot(), pools=[b.pool_snapshot(placement={"vm-1": 9})])
    assert "placed" not in render_status(one)
