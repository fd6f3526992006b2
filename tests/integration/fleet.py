"""Several hosts on one machine: a monitor and an actuator for each, with host names of their own, and the
registry and policy once, all in the test's event loop against the test's nats-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from nats.aio.client import Client as Nats

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.cli.client import Client
from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, get_struct
from agentscaler.shared.messages.hosts import ActuatorInfo
from agentscaler.shared.messages.pools import DesiredState
from tests.conftest import eventually
from tests.e2e.harness import agent_processes
from tests.services import running

FAST = {"heartbeat_interval": 0.5, "pull_timeout": 1.0, "drain_timeout": 10.0}


@dataclass
class Hosts:
    names: list[str]
    client: Client
    services: dict[str, AsyncExitStack]
    """Each host's monitor and actuator."""

    def counts(self) -> dict[str, int]:
        return {host: len(agent_processes(host)) for host in self.names}

    async def stop(self, host: str) -> None:
        """Stop a host's monitor and actuator as its operator would: its agents drain, its entry is withdrawn."""
        await self.services.pop(host).aclose()


def host_services(url: str, host: str, labels: Sequence[str] = ()) -> list[tuple[object, object]]:
    return [
        (monitor.run, MonitorSettings(nats_url=url, host=host, interval=0.2)),
        (
            actuator.run,
            ActuatorSettings(nats_url=url, host=host, reconcile_interval=0.1, min_uptime=0.5, labels=list(labels)),
        ),
    ]


@asynccontextmanager
async def two_hosts(
    url: str, nc: Nats, labels: Sequence[Sequence[str]] = ((), ()), **policy_settings: object
) -> AsyncIterator[Hosts]:
    """The registry and policy once, and a monitor and an actuator for each of two hosts (with ``labels``)."""
    names = [f"pl{i}-{uuid.uuid4().hex[:6]}" for i in (1, 2)]
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(running(registry.run, RegistrySettings(nats_url=url, host=names[0])))
        await stack.enter_async_context(
            running(policy.run, PolicySettings(nats_url=url, host=names[0], default_pool=False, **policy_settings))
        )
        services = {}
        for host, tags in zip(names, labels, strict=True):
            services[host] = await stack.enter_async_context(AsyncExitStack())
            for run, settings in host_services(url, host, tags):
                await services[host].enter_async_context(running(run, settings))  # type: ignore[arg-type]
        kv = await bucket(nc.jetstream(), subjects.HOSTS_BUCKET)
        for host in names:
            await eventually(lambda h=host: get_struct(kv, h, ActuatorInfo), what=f"actuator of {host}")
        client = Client(nc)
        await eventually(client.pools, what="the policy serving")

        async def both_measured() -> bool:
            measured = {h.host for h in (await client.status()).hosts if h.room_bound}
            return measured >= set(names)

        await eventually(both_measured, what="both hosts' room reported")
        yield Hosts(names, client, services)
    for host in names:
        assert agent_processes(host) == []


async def shares(nc: Nats, pool: str) -> dict[str, int]:
    found = await get_struct(await bucket(nc.jetstream(), subjects.DESIRED_BUCKET), pool, DesiredState)
    return {} if found is None else found[0].hosts
