"""Holding hosts, live, on two hosts of this machine: ``host drain`` moves a host's agents to the other host
while their tasks finish (none lost), ``uncordon`` gives it a share again a few agents at a time, ``cordon``
keeps a host's agents but places no new ones, and a pool limited to a label runs only where it is announced."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as Nats

from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.pools import PoolConfig
from tests.conftest import eventually
from tests.integration.fleet import FAST, shares, two_hosts


async def test_drain_moves_a_hosts_agents_without_losing_a_task_and_uncordon_brings_them_back(
    nats_server: EmbeddedServer, nc: Nats
) -> None:
    async with two_hosts(nats_server.url, nc, rebalance_interval=0.5, rebalance_step=2) as h:
        first, second = h.names
        await h.client.set_pool(PoolConfig(name="moving", max_agents=20, **FAST))  # type: ignore[arg-type]
        await h.client.scale("moving", "up", 6)
        await eventually(lambda: h.counts() == {first: 3, second: 3} or None, timeout=60, what="3 agents on each")
        ids = await h.client.submit("moving", [{"sleep": 1.0, "prompt": str(i)} for i in range(30)])

        held = await h.client.hold(first, "drain")
        assert (held.held, held.shares, held.note) == ("draining", {}, "")
        assert await shares(nc, "moving") == {first: 0, second: 6}  # placed at once, not by the rebalancing step
        assert (await h.client.status()).cordons[first].drain
        await eventually(lambda: h.counts() == {first: 0, second: 6} or None, timeout=60, what="the host drained")

        async def all_done() -> bool:
            results = [await h.client.result("moving", task_id) for task_id in ids]
            return all(r is not None for r in results) and all(r.status == "ok" for r in results if r)

        await eventually(all_done, timeout=60, what="every task done")

        held = await h.client.hold(first, "uncordon")
        assert (held.held, held.note) == ("none", "")

        async def even_again() -> bool:
            return await shares(nc, "moving") == {first: 3, second: 3}

        await eventually(even_again, timeout=30, what="the uncordoned host given its share back")
        await eventually(lambda: h.counts() == {first: 3, second: 3} or None, timeout=60, what="3 agents on each")
        await h.client.scale("moving", "down", 0)
        await eventually(lambda: sum(h.counts().values()) == 0, timeout=60, what="no agent left")


async def test_cordon_keeps_a_hosts_agents_and_a_labelled_pool_runs_only_where_its_label_is(
    nats_server: EmbeddedServer, nc: Nats
) -> None:
    async with two_hosts(nats_server.url, nc, labels=(["gpu", "zone=eu"], [])) as h:
        gpu, plain = h.names
        await h.client.set_pool(PoolConfig(name="gpuwork", max_agents=20, hosts=["gpu"], **FAST))  # type: ignore[arg-type]
        await h.client.set_pool(PoolConfig(name="anywork", max_agents=20, **FAST))  # type: ignore[arg-type]
        await h.client.scale("gpuwork", "up", 4)
        assert await shares(nc, "gpuwork") == {gpu: 4, plain: 0}

        held = await h.client.hold(gpu, "cordon")
        assert (held.held, held.shares) == ("cordoned", {"gpuwork": 4})
        with pytest.raises(AgentscalerError, match=f"no host may take agents of pool 'gpuwork'.*{gpu}.*cordoned"):
            await h.client.scale("gpuwork", "up", 6)
        await h.client.scale("anywork", "up", 4)
        assert await shares(nc, "anywork") == {gpu: 0, plain: 4}  # the cordoned host gets none
        await eventually(lambda: h.counts() == {gpu: 4, plain: 4} or None, timeout=60, what="4 agents on each")

        with pytest.raises(AgentscalerError, match=r"unknown host 'nowhere' .*known: ") as unknown:
            await h.client.hold("nowhere", "cordon")
        assert getattr(unknown.value, "code", "") == "unknown_host"
        await h.client.hold(gpu, "uncordon")
        await h.client.scale("gpuwork", "up", 6)
        assert await shares(nc, "gpuwork") == {gpu: 6, plain: 0}
        for pool in ("gpuwork", "anywork"):
            await h.client.scale(pool, "down", 0)
        await eventually(lambda: sum(h.counts().values()) == 0, timeout=60, what="no agent left")
