"""NATS micro discovery: every service answers ``$SRV.PING``/``INFO``/``STATS``, its endpoints carry their
schemas and count errors, and a leased service is discoverable only while it leads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.agents import AgentList, AgentsQuery
from agentscaler.shared.messages.base import API_VERSION
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio


async def replies(nc: Client, subject: str, wait: float = 0.3) -> list[dict[str, Any]]:
    """Every reply to a request on ``subject`` within ``wait`` seconds (discovery requests have many)."""
    found: list[dict[str, Any]] = []

    async def heard(msg: Msg) -> None:
        if msg.data:  # not the server's "no responders"
            found.append(json.loads(msg.data))

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=heard)
    await nc.publish(subject, b"", reply=inbox)
    await asyncio.sleep(wait)
    await sub.unsubscribe()
    return found


async def names(nc: Client) -> list[str]:
    return sorted(ping["name"] for ping in await replies(nc, "$SRV.PING"))


async def test_services_are_discoverable_with_schemas_and_counts(nats_server: EmbeddedServer, nc: Client) -> None:
    url = nats_server.url
    async with (
        running(registry.run, RegistrySettings(nats_url=url, host="h1")),
        running(policy.run, PolicySettings(nats_url=url, host="h1")),
        running(monitor.run, MonitorSettings(nats_url=url, host="h1", interval=0.2)),
        running(actuator.run, ActuatorSettings(nats_url=url, host="h1", reconcile_interval=0.1)),
    ):
        every = sorted(subjects.service_name(s) for s in ("actuator", "monitor", "policy", "registry"))
        await eventually(lambda: _same(nc, every), what="four services")

        [info] = await replies(nc, f"$SRV.INFO.{subjects.service_name('registry')}")
        assert info["metadata"] == {"api_version": API_VERSION, "host": "h1", "service": "registry"}
        endpoints = {e["subject"]: e for e in info["endpoints"]}
        assert set(endpoints) == {
            subjects.AGENT_REGISTER,
            subjects.as_actor(subjects.AGENT_REGISTER, "*"),
            subjects.AGENT_DEREGISTER,
            subjects.as_actor(subjects.AGENT_DEREGISTER, "*"),
            subjects.REGISTRY_QUERY,
        }
        query = endpoints[subjects.REGISTRY_QUERY]
        assert query["queue_group"] == "registry"
        assert json.loads(query["metadata"]["request_schema"])["$ref"] == "#/$defs/AgentsQuery"
        response = json.loads(query["metadata"]["response_schema"])
        assert {"AgentList", "Error"} <= set(response["$defs"])

        [policy_info] = await replies(nc, f"$SRV.INFO.{subjects.service_name('policy')}")
        assert {e["queue_group"] for e in policy_info["endpoints"]} == {"policy"}
        assert subjects.as_actor(subjects.COMMAND, "*") in {e["subject"] for e in policy_info["endpoints"]}
        [actuator_info] = await replies(nc, f"$SRV.INFO.{subjects.service_name('actuator')}")
        assert actuator_info["endpoints"] == []

        # the same requests and error replies as ever, now counted
        assert isinstance(await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(), AgentList), AgentList)
        with pytest.raises(RequestFailed) as refused:
            await request(nc, subjects.REGISTRY_QUERY, {"pool": 5}, AgentList)
        assert refused.value.code == "bad_request"
        [stats] = await replies(nc, f"$SRV.STATS.{subjects.service_name('registry')}")
        [counts] = [e for e in stats["endpoints"] if e["subject"] == subjects.REGISTRY_QUERY]
        assert counts["num_requests"] >= 2 and counts["num_errors"] == 1  # the monitor and actuator ask too
        assert counts["last_error"].startswith("bad_request: ")


async def _same(nc: Client, expected: list[str]) -> bool:
    return await names(nc) == expected


async def test_a_leased_service_is_discoverable_only_while_it_leads(nats_server: EmbeddedServer, nc: Client) -> None:
    name = subjects.service_name("registry")
    settings = RegistrySettings(nats_url=nats_server.url, host="h1", lease_ttl=1.0)
    async with running(registry.run, settings), running(registry.run, settings):
        await eventually(lambda: _count(nc, name, 1), what="the leader's service")
        await asyncio.sleep(0.5)
        assert len(await replies(nc, f"$SRV.PING.{name}")) == 1  # the standby is not a service
    assert await replies(nc, f"$SRV.PING.{name}") == []  # gone with its term


async def _count(nc: Client, name: str, count: int) -> bool:
    return len(await replies(nc, f"$SRV.PING.{name}")) == count
