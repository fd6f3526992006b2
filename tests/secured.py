"""A real nats-server running ``auth init``'s authorization, and the real policy, monitor and registry each
connected as itself: the secured bus the role and audit tests run against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as Nats

from agentscaler.services.actuator.agentcreds import AgentCredentials
from agentscaler.services.cli import auth
from agentscaler.services.cli.client import Client
from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared.bus.options import actor_of, connect_kwargs
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.settings import CommonSettings
from bench.waiting import eventually
from tests.services import running


@dataclass
class Secured:
    server: EmbeddedServer
    keys: Path
    clients: list[Nats] = field(default_factory=list)
    agent_dirs: list[AgentCredentials] = field(default_factory=list)

    def settings(self, role: str) -> CommonSettings:
        return CommonSettings(nats_url=self.server.url, creds=str(auth.creds_file(self.keys, role)))

    def agent_settings(self, pool: str = "default", agent_id: str = "default-h-1") -> CommonSettings:
        """An agent's own user, signed as an actuator signs it (with ``auth init``'s agent signing key)."""
        signer = AgentCredentials(str(self.keys / auth.AGENT_SIGNER), str(auth.creds_file(self.keys, "actuator")))
        self.agent_dirs.append(signer)
        return CommonSettings(nats_url=self.server.url, creds=str(signer.issue(agent_id, pool)))

    async def connect(self, role: str, **agent: str) -> Role:
        """A client of ``role`` (its own inbox, as every agentscaler client with a user) that records the
        permission violations the server reports. ``role`` "agent": an agent's own user (``agent``: its pool
        and agent_id)."""
        violations: list[str] = []

        async def on_error(exc: Exception) -> None:
            violations.append(str(exc))

        settings = self.agent_settings(**agent) if role == "agent" else self.settings(role)
        nc = await nats.connect(**connect_kwargs(settings), error_cb=on_error, name=f"test-{role}")
        self.clients.append(nc)
        return Role(nc, violations, actor_of(settings))

    def close(self) -> None:
        for signer in self.agent_dirs:
            signer.close()


@dataclass
class Role:
    nc: Nats
    violations: list[str]
    actor: str
    """The user's public key: what its commands are sent as."""

    @property
    def client(self) -> Client:
        return Client(self.nc, self.actor)

    async def refused(self, subject: str, what: str = "publish") -> None:
        """Wait until the server has reported a violation of ``what`` to ``subject``."""
        wanted = f'permissions violation for {what} to "{subject.lower()}"'
        await eventually(lambda: any(wanted in v.lower() for v in self.violations), timeout=10, what=wanted)


def server_with(keys: Path, tmp_path: Path) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "nats", port=free_port(), config=auth.server_config(keys))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    auth.init(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def secured_server(keys: Path, tmp_path: Path) -> Iterator[EmbeddedServer]:
    yield from server_with(keys, tmp_path)


@pytest.fixture
async def secured(secured_server: EmbeddedServer, keys: Path) -> AsyncIterator[Secured]:
    """The secured server with the policy, monitor and registry running as themselves."""
    bus = Secured(secured_server, keys)
    url = secured_server.url

    def identity(role: str) -> dict[str, str]:
        return {"nats_url": url, "creds": str(auth.creds_file(keys, role))}

    async with (
        running(registry.run, RegistrySettings(**identity("registry"))),
        running(policy.run, PolicySettings(**identity("policy"), actors=str(keys / auth.ACTORS))),
        running(monitor.run, MonitorSettings(**identity("monitor"), interval=0.5)),
    ):
        viewer = await bus.connect("viewer")
        await eventually(viewer.client.pools, what="the policy answering", retry=(Exception,))
        await eventually(
            lambda: _pools_in_status(viewer.client), what="the monitor showing the default pool", retry=(Exception,)
        )
        try:
            yield bus
        finally:
            for nc in bus.clients:
                await nc.close()
            bus.close()


async def _pools_in_status(client: Client) -> bool:
    return bool((await client.status()).pools)
