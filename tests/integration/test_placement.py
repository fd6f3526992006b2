"""Placement across hosts, live: two hosts (an actuator and a monitor each, with their own host names, on this
machine) share one pool. The policy splits the desired count across them and each actuator runs its own share:
``up 10`` is 10 agents in all, on both hosts (``spread``) or on one (``pack``); a host that stops has its share
placed on the other."""

from __future__ import annotations

from nats.aio.client import Client as Nats

from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.pools import PoolConfig
from tests.conftest import eventually
from tests.e2e.harness import agent_processes
from tests.integration.fleet import FAST, shares, two_hosts


async def test_up_10_on_two_hosts_runs_10_in_all_spread_over_both(nats_server: EmbeddedServer, nc: Nats) -> None:
    async with two_hosts(nats_server.url, nc) as h:
        await h.client.set_pool(PoolConfig(name="wide", max_agents=20, **FAST))  # type: ignore[arg-type]
        await h.client.scale("wide", "up", 10)

        async def spread() -> dict[str, int] | None:
            # The same machine's room for both. A policy that had not yet heard one host's room places all on the
            # other, then evens the pool out by its rebalancing step once it hears it.
            placed = await shares(nc, "wide")
            return placed if sorted(placed) == sorted(h.names) and min(placed.values()) == 5 else None

        placed = await eventually(spread, timeout=30, what="the placement spread over both hosts")
        assert sum(placed.values()) == 10
        await eventually(lambda: h.counts() == placed and h.counts(), timeout=60, what="each host runs its share")

        async def in_status() -> bool:
            return (await h.client.status("wide")).pools[0].placement == placed

        await eventually(in_status, what="status showing the placement")
        # Down to 4: each host gives back agents, still 4 in all.
        await h.client.scale("wide", "down", 4)
        assert sum((await shares(nc, "wide")).values()) == 4
        # Idle agents go first (one host's may still be starting, unseen); the pool then evens out to 2 and 2.

        async def even() -> dict[str, int] | None:
            placed = await shares(nc, "wide")
            return placed if sorted(placed.values()) == [2, 2] else None

        placed = await eventually(even, timeout=30, what="2 agents placed on each host")
        await eventually(
            lambda: sum((c := h.counts()).values()) == 4 and c == placed, timeout=60, what="4 agents in all"
        )
        await h.client.scale("wide", "down", 0)
        await eventually(lambda: sum(h.counts().values()) == 0, timeout=60, what="no agent left")


async def test_pack_fills_one_host_and_a_host_that_stops_hands_its_share_over(
    nats_server: EmbeddedServer, nc: Nats
) -> None:
    async with two_hosts(nats_server.url, nc) as h:
        config = PoolConfig(name="tight", max_agents=20, placement="pack", **FAST)  # type: ignore[arg-type]
        await h.client.set_pool(config)
        await h.client.scale("tight", "up", 6)

        async def on_one_host() -> dict[str, int] | None:
            placed = await shares(nc, "tight")
            return placed if sorted(placed.values()) == [0, 6] else None

        placed = await eventually(on_one_host, what="all 6 placed on one host")
        [full] = [host for host, n in placed.items() if n == 6]
        await eventually(lambda: h.counts()[full] == 6, timeout=60, what="the packed host running 6")
        [other] = [host for host in h.names if host != full]
        assert h.counts()[other] == 0
        # The packed host's actuator stops (its entry in the hosts bucket goes): its share moves over.
        await h.stop(full)

        async def moved() -> bool:
            return await shares(nc, "tight") == {other: 6}

        await eventually(moved, timeout=30, what="the share moved to the other host")
        await eventually(lambda: len(agent_processes(other)) == 6, timeout=60, what="the other host running 6")
        await h.client.scale("tight", "down", 0)
        await eventually(lambda: len(agent_processes(other)) == 0, timeout=60, what="no agent left")
