"""The audit record, against a real nats-server running ``auth init``'s authorization and the real services:
every command, accepted or refused, is stored with the actor the server vouched for; a forged actor is a
permissions violation; services' own violations are stored; ``agentscaler audit`` lists it all."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from nats.aio.client import Client as Nats
from opentelemetry.sdk.trace import TracerProvider

from agentscaler.services.cli import auth
from agentscaler.services.cli.main import main
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.audit import read_audit
from agentscaler.shared.bus.connection import connect_service
from agentscaler.shared.bus.history import read_history
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.messages.audit import AuditRecord
from agentscaler.shared.messages.commands import GetPool, Scale, SetPool
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import PoolConfig
from bench.waiting import eventually
from tests.secured import Secured
from tests.services import running


async def records(secured: Secured, count: int, kind: str = "*") -> list[AuditRecord]:
    """The audit records so far, once there are at least ``count``."""
    viewer = await secured.connect("viewer")
    found: list[AuditRecord] = []

    async def enough() -> bool:
        found[:] = await read_audit(viewer.nc.jetstream(), time.time() - 300, 1000, kind)
        return len(found) >= count

    await eventually(enough, timeout=10, what=f"{count} audit records")
    return found


async def test_each_command_is_recorded_with_the_actor_the_server_vouched_for(secured: Secured) -> None:
    admin, operator = await secured.connect("admin"), await secured.connect("operator")
    await admin.client.set_pool(PoolConfig(name="work", max_agents=4))
    with TracerProvider().get_tracer("operator").start_as_current_span("operator: scale work") as sent:
        assert (await operator.client.scale("work", "up", 2)).desired == 2
    with pytest.raises(Exception, match="unknown pool"):
        await operator.client.scale("nowhere", "up", 1)
    found = [r for r in await records(secured, 3, "command") if r.pool in ("work", "nowhere")]
    assert [(r.command, r.actor_name, r.outcome) for r in found] == [
        ("set_pool", "admin", "ok"),
        ("scale", "operator", "ok"),
        ("scale", "operator", "unknown_pool"),
    ]
    set_pool, scale, unknown = found
    assert set_pool.actor == admin.actor and scale.actor == operator.actor
    assert scale.subject == subjects.as_actor(subjects.COMMAND_OPERATE, operator.actor)
    assert scale.request == {"type": "scale", "pool": "work", "direction": "up", "count": 2}
    assert scale.message.startswith("desired 0 -> 2")
    assert scale.trace_id == format(sent.get_span_context().trace_id, "032x")
    assert "unknown pool 'nowhere'" in unknown.message
    # The decision the command made carries its actor.
    msgs = await read_history(operator.nc.jetstream(), subjects.decision_subject("work"), time.time() - 60)
    decisions = [decode(DecisionEvent, m.data) for m in msgs]
    assert [(d.rule, d.actor) for d in decisions if d.trigger == "command"] == [("manual.up", operator.actor)]


async def test_refused_and_malformed_commands_are_recorded_too(secured: Secured) -> None:
    admin, operator = await secured.connect("admin"), await secured.connect("operator")
    mine = subjects.as_actor(subjects.COMMAND_OPERATE, operator.actor)
    reply = await operator.nc.request(mine, encode(SetPool(config=PoolConfig(name="pwn"))), timeout=5)
    assert b'"refused"' in reply.data
    as_admin = subjects.as_actor(subjects.COMMAND, admin.actor)
    reply = await admin.nc.request(as_admin, b'{"type":"scale","count":"many"', timeout=5)
    assert b'"bad_request"' in reply.data
    found = await records(secured, 2, "command")
    refused = next(r for r in found if r.outcome == "refused")
    assert (refused.actor_name, refused.command, refused.pool) == ("operator", "set_pool", "pwn")
    assert "set_pool is not served" in refused.message
    malformed = next(r for r in found if r.outcome == "bad_request")
    assert malformed.actor_name == "admin" and malformed.command == ""
    assert malformed.request == '{"type":"scale","count":"many"'  # kept as the text received


async def test_a_forged_actor_is_a_permissions_violation_and_not_recorded(secured: Secured) -> None:
    operator, viewer = await secured.connect("operator"), await secured.connect("viewer")
    for subject in (
        subjects.as_actor(subjects.COMMAND_READ, operator.actor),  # the viewer's own kind, another's name
        subjects.as_actor(subjects.COMMAND_OPERATE, operator.actor),
        subjects.COMMAND_READ,  # nobody: secured, every command names its sender
    ):
        await viewer.nc.publish(subject, encode(GetPool(pool="default")))
        await viewer.refused(subject)
    await viewer.client.pool("default")  # as itself, fine
    found = await records(secured, 1, "command")
    assert [(r.actor, r.command) for r in found if r.command == "get_pool"] == [(viewer.actor, "get_pool")]


async def test_pool_env_values_are_masked_in_the_record(secured: Secured) -> None:
    admin = await secured.connect("admin")
    config = PoolConfig(name="secret", env={"API_KEY": "s3cret-value"})
    await admin.client.set_pool(config)
    [record] = [r for r in await records(secured, 1, "command") if r.pool == "secret"]
    assert record.request["config"]["env"] == {"API_KEY": "***"}
    assert "s3cret" not in encode(record).decode()


async def test_a_services_own_permission_violation_is_recorded(secured: Secured) -> None:
    stop = asyncio.Event()
    settings = secured.settings("monitor")
    nc = await connect_service(settings, "monitor@test-host", stop, audit=True)
    assert nc is not None
    try:
        await nc.publish(subjects.COMMAND, encode(Scale(pool="default", direction="up", count=9)))
        [record] = await records(secured, 1, "violation")
    finally:
        await nc.close()
    assert (record.reporter, record.subject, record.outcome) == ("monitor@test-host", subjects.COMMAND, "violation")
    assert "permissions violation for publish" in record.message.lower()


async def test_the_cli_lists_the_record(secured: Secured, capsys: pytest.CaptureFixture[str]) -> None:
    url = secured.server.url
    operator, viewer = (str(auth.creds_file(secured.keys, r)) for r in ("operator", "viewer"))
    as_operator, as_viewer = ["--nats-url", url, "--creds", operator], ["--nats-url", url, "--creds", viewer]
    assert await asyncio.to_thread(main, ["up", "1", *as_operator]) == 0
    assert await asyncio.to_thread(main, ["up", "1", "--pool", "nope", *as_operator]) != 0
    capsys.readouterr()
    await records(secured, 2, "command")
    assert await asyncio.to_thread(main, ["audit", "--json", "--since", "5m", *as_viewer]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["command"], r["actor_name"], r["outcome"]) for r in lines if r["command"] == "scale"] == [
        ("scale", "operator", "ok"),
        ("scale", "operator", "unknown_pool"),
    ]
    argv = ["audit", "--actor", "operator", "--pool", "nope", *as_viewer]
    assert await asyncio.to_thread(main, argv) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "scale" in line and "operator (U" in line and "unknown_pool: unknown pool 'nope'" in line


async def test_unsecured_commands_are_recorded_as_anonymous(nats_server: EmbeddedServer, nc: Nats) -> None:
    async with running(policy.run, PolicySettings(nats_url=nats_server.url)):
        await eventually(
            lambda: nc.request(subjects.COMMAND_READ, b'{"type":"list_pools"}', timeout=2),
            what="the policy answering",
            retry=(Exception,),
        )
        found: list[AuditRecord] = []

        async def recorded() -> bool:
            found[:] = await read_audit(nc.jetstream(), time.time() - 60, 100)
            return bool(found)

        await eventually(recorded, what="an audit record")
    assert (found[0].actor, found[0].command, found[0].outcome) == ("", "list_pools", "ok")
