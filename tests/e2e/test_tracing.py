"""End to end: one trace from a command through the policy and the actuator to the agents it starts."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from opentelemetry.sdk.trace import TracerProvider

from agentscaler.shared import subjects
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.errors import NoResponders
from agentscaler.shared.messages.agents import AgentList, AgentsQuery
from agentscaler.shared.messages.commands import CommandReply, Scale, Scaled
from tests.e2e.harness import System, make_pool, wait_until

pytestmark = pytest.mark.e2e


def test_agents_started_by_a_command_join_its_trace(system: System) -> None:
    make_pool(system, "e2e")
    tracer = TracerProvider().get_tracer("operator")

    async def scale_and_watch() -> tuple[str, list[str]]:
        nc = await nats.connect(system.url)
        try:
            with tracer.start_as_current_span("operator: scale e2e to 2") as span:
                reply = await request(nc, subjects.COMMAND, Scale(pool="e2e", direction="up", count=2), CommandReply)
                assert isinstance(reply, Scaled) and reply.desired == 2
                trace_id = format(span.get_span_context().trace_id, "032x")

            async def registered() -> list[str]:
                try:
                    agents = (await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(pool="e2e"), AgentList)).agents
                except NoResponders:  # the registry process may still be starting on a busy machine
                    return []
                return [a.traceparent for a in agents if a.state != "starting"]

            for _ in range(300):
                parents = await registered()
                if len(parents) == 2:
                    return trace_id, parents
                await asyncio.sleep(0.1)
            raise AssertionError(f"agents did not register: {parents}")
        finally:
            await nc.close()

    trace_id, parents = asyncio.run(scale_and_watch())
    assert [p.split("-")[1] for p in parents] == [trace_id, trace_id]
    wait_until(lambda: '"trace_id": "' + trace_id in system.log_text(), what="service logs carry the trace id")


def test_a_cli_command_starts_a_trace_even_with_no_exporter(system: System) -> None:
    make_pool(system, "e2e")
    system.cli("up", "2", "--pool", "e2e", "--wait", "--timeout", "60")
    agents = json.loads(system.cli("agents", "--pool", "e2e", "--json").stdout)["agents"]
    trace_ids = {a["traceparent"].split("-")[1] for a in agents if a["traceparent"]}
    assert len(agents) == 2 and len(trace_ids) == 1, agents
    [trace_id] = trace_ids
    logs = system.log_text()
    for service in ("policy", "actuator", "agent"):
        assert f'"trace_id": "{trace_id}"' in "\n".join(
            line for line in logs.splitlines() if f'"service": "{service}"' in line
        ), f"{service} logs lack the command's trace id"
