"""Roles with least privilege, against a real nats-server that runs ``auth init``'s authorization and the real
policy, monitor and registry, each with its own identity: what each role may do works, what it may not is a
permissions violation (and, on the CLI, exit status 77)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import nats
import pytest

from agentscaler.services.actuator.deaths import OOM_KILLED, DeathRecords
from agentscaler.services.agent.deaths import Deaths
from agentscaler.services.cli import auth
from agentscaler.services.cli.client import Client
from agentscaler.services.cli.main import main
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue
from agentscaler.shared.bus.options import actor_of, connect_kwargs
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.codec import encode
from agentscaler.shared.errors import RequestFailed
from agentscaler.shared.messages.agents import Ack, Register
from agentscaler.shared.messages.commands import SetPool
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.messages.tasks import TaskResult
from tests.conftest import eventually
from tests.secured import Secured

SHELL = "asyncio:create_subprocess_shell"


async def test_an_anonymous_client_is_refused(secured_server: EmbeddedServer) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secured_server.url, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=2)


async def test_admin_defines_pools_and_the_operator_scales_them(secured: Secured) -> None:
    admin, operator = await secured.connect("admin"), await secured.connect("operator")
    await admin.client.set_pool(PoolConfig(name="work", max_agents=4))
    assert (await operator.client.scale("work", "up", 3)).desired == 3
    assert (await operator.client.set_mode("work", "auto")).state.mode == "auto"
    assert (await operator.client.set_mode("work", "manual")).state.mode == "manual"
    assert [d.rule for d in await operator.client.decisions("work", time.time() - 60, 10)][:1] == ["manual.up"]
    assert (await operator.client.status("work")).pools[0].name == "work"
    assert operator.violations == [] and admin.violations == []


async def test_an_operator_cannot_define_pools(secured: Secured) -> None:
    operator = await secured.connect("operator")
    shell = PoolConfig(name="pwn", handler=SHELL)
    with pytest.raises(auth.PermissionDenied, match=r'publish to "agentscaler\.cmd\.as\.u'):
        await auth.Violations().guard(_guarded_set_pool(secured, "operator", shell))
    await operator.nc.publish(subjects.COMMAND, encode(SetPool(config=shell)))
    await operator.refused(subjects.COMMAND)
    # Not on its subject without its own name either (the server vouches for who sends a command).
    await operator.nc.publish(subjects.COMMAND_OPERATE, encode(SetPool(config=shell)))
    await operator.refused(subjects.COMMAND_OPERATE)
    # On the subject it may use, the policy refuses pool definitions.
    mine = subjects.as_actor(subjects.COMMAND_OPERATE, operator.actor)
    reply = await operator.nc.request(mine, encode(SetPool(config=shell)), timeout=5)
    assert b'"refused"' in reply.data and b"set_pool is not served" in reply.data
    names = [p.config.name for p in (await operator.client.pools()).pools]
    assert "pwn" not in names


async def _guarded_set_pool(secured: Secured, role: str, config: PoolConfig) -> None:
    """``set_pool`` as the CLI sends it, with the CLI's watch for violations."""
    violations = auth.Violations()
    nc = await nats.connect(**connect_kwargs(secured.settings(role)), error_cb=violations.on_error)
    try:
        await violations.guard(Client(nc, actor_of(secured.settings(role))).set_pool(config))
    finally:
        await nc.close()


async def test_a_viewer_reads_but_changes_nothing(secured: Secured) -> None:
    viewer = await secured.connect("viewer")
    assert [p.config.name for p in (await viewer.client.pools()).pools] == ["default"]
    assert (await viewer.client.pool("default")).state.desired == 0
    assert (await viewer.client.status()).pools
    assert (await viewer.client.agents()).agents == []
    await viewer.client.decisions(None, time.time() - 60, 10)
    for service in ("policy", "monitor", "registry"):  # discovery: each answers under its own role
        info = msgspec.json.decode((await viewer.nc.request(f"$SRV.INFO.{subjects.service_name(service)}")).data)
        assert info["endpoints"] and info["metadata"]["service"] == service
    assert viewer.violations == []
    for subject, body in (
        (subjects.COMMAND_OPERATE, b'{"type":"scale","pool":"default","direction":"up","count":5}'),
        (subjects.COMMAND, b'{"type":"list_pools"}'),
        (subjects.OPTIMIZE, b'{"pool":"default"}'),
        (subjects.task_subject("default"), b"{}"),
    ):
        await viewer.nc.publish(subject, body)
        await viewer.refused(subject)
    assert (await viewer.client.pool("default")).state.desired == 0


@pytest.mark.parametrize("role", ["submitter", "viewer", "operator"])
async def test_forged_agent_events_and_heartbeats_are_refused(secured: Secured, role: str) -> None:
    client = await secured.connect(role)
    beat = b'{"agent_id":"default-forged-1","pool":"default","host":"h","pid":1,"state":"ready"}'
    for subject, body in (
        (subjects.agent_event_subject("lost"), b'{"type":"lost","agent":{},"reason":"forged"}'),
        (subjects.agent_event_subject("spawned"), b'{"type":"spawned"}'),
        (subjects.heartbeat_subject("default"), beat),
        (subjects.AGENT_REGISTER, beat),
    ):
        await client.nc.publish(subject, body)
        await client.refused(subject)
    assert (await (await secured.connect("viewer")).client.agents()).agents == []


async def test_a_submitter_submits_and_reads_results_but_cannot_forge_them(secured: Secured) -> None:
    submitter, agent = await secured.connect("submitter"), await secured.connect("agent")
    [task_id] = await submitter.client.submit("default", [{"prompt": "hi"}])
    forged = TaskResult(id=task_id, pool="default", status="ok", result="forged")
    key = subjects.result_subject("default", task_id)
    await submitter.nc.publish(key, encode(forged), headers={"Nats-Expected-Last-Subject-Sequence": "0"})
    await submitter.refused(key)
    assert await submitter.client.result("default", task_id) is None
    assert await submitter.client.attempts("default", task_id) == 0
    waiting = asyncio.create_task(submitter.client.wait_result("default", task_id, 10))  # a KV watch
    # The agent role takes the task, writes its result and acks it.
    sub = await agent.nc.jetstream().pull_subscribe_bind(subjects.TASK_CONSUMER, subjects.task_stream("default"))
    [msg] = await sub.fetch(1, timeout=5)
    real = TaskResult(id=task_id, pool="default", status="ok", result="real", agent_id="default-h-1")
    await agent.nc.jetstream().publish(key, encode(real), headers={"Nats-Expected-Last-Subject-Sequence": "0"})
    await msg.ack_sync()
    found = await submitter.client.result("default", task_id)
    assert found is not None and found.result == "real"
    assert await waiting == found
    assert agent.violations == []
    # Nothing else: no commands, no queues it may read from outside its consumer.
    await submitter.nc.publish(subjects.COMMAND_READ, b'{"type":"list_pools"}')
    await submitter.refused(subjects.COMMAND_READ)
    await submitter.nc.subscribe(subjects.task_subject("default"))
    await submitter.refused(subjects.task_subject("default"), "subscription")


async def test_an_agent_may_do_its_work_and_nothing_else(secured: Secured) -> None:
    agent = await secured.connect("agent")
    for subject in (
        subjects.COMMAND,
        subjects.task_subject("default"),
        subjects.agent_event_subject("lost"),
        f"$KV.{subjects.POOLS_BUCKET}.default",
        f"$JS.API.STREAM.PURGE.{subjects.task_stream('default')}",
        f"$JS.API.CONSUMER.DELETE.{subjects.task_stream('default')}.{subjects.TASK_CONSUMER}",
    ):
        await agent.nc.publish(subject, b"{}")
        await agent.refused(subject)
    await agent.nc.subscribe(subjects.task_subject("default"))
    await agent.refused(subjects.task_subject("default"), "subscription")


async def test_nobody_reads_another_users_replies(secured: Secured) -> None:
    viewer = await secured.connect("viewer")
    await viewer.nc.subscribe("_INBOX.>")
    await viewer.refused("_INBOX.>", "subscription")
    assert viewer.nc.new_inbox().startswith("_INBOX.U")  # its own, named by its public key


async def test_a_submitter_limited_to_named_pools(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    auth.init(keys, pools=["mine"])
    srv = EmbeddedServer(tmp_path / "nats", port=free_port(), config=auth.server_config(keys))
    srv.start()
    bus = Secured(srv, keys)
    try:
        admin, submitter = await bus.connect("admin"), await bus.connect("submitter")
        for pool in ("mine", "theirs"):
            await ensure_task_queue(admin.nc.jetstream(), PoolConfig(name=pool))
        await bucket(admin.nc.jetstream(), subjects.RESULTS_BUCKET)
        assert len(await submitter.client.submit("mine", [1])) == 1
        assert await submitter.client.result("mine", "t1") is None
        assert await submitter.client.wait_result("mine", "t1", 0.2) is None  # its pool's keys may be watched
        await submitter.nc.publish(subjects.task_subject("theirs"), b"{}")
        await submitter.refused(subjects.task_subject("theirs"))
        reading = asyncio.create_task(submitter.client.result("theirs", "t1"))
        await submitter.refused(
            f"$JS.API.DIRECT.GET.KV_{subjects.RESULTS_BUCKET}.{subjects.result_subject('theirs', 't1')}"
        )
        reading.cancel()
        watching = asyncio.create_task(submitter.client.wait_result("theirs", "t1", 5))
        theirs = f".$kv.{subjects.RESULTS_BUCKET}.{subjects.result_key('theirs', 't1')}"
        await eventually(lambda: any(theirs in v.lower() for v in submitter.violations), what="watch refused")
        watching.cancel()
    finally:
        for nc in bus.clients:
            await nc.close()
        srv.stop()


async def test_the_cli_exits_77_on_a_refused_command(secured: Secured, capsys: pytest.CaptureFixture[str]) -> None:
    url, operator = secured.server.url, str(auth.creds_file(secured.keys, "operator"))
    argv = ["pool", "set", "pwn", "--handler", SHELL, "--nats-url", url, "--creds", operator]
    started = time.monotonic()
    assert await asyncio.to_thread(main, argv) == auth.EXIT_DENIED
    assert time.monotonic() - started < 8  # at the violation, not after the request's timeout
    err = capsys.readouterr().err
    assert "not permitted" in err and "agentscaler.cmd" in err
    argv = ["pool", "list", "--nats-url", url, "--creds", operator]
    assert await asyncio.to_thread(main, argv) == 0


async def test_the_actuator_records_agent_deaths_and_agents_only_read_them(secured: Secured) -> None:
    actuator, agent = await secured.connect("actuator"), await secured.connect("agent")
    records = await DeathRecords.open(actuator.nc, actuator.nc.jetstream())  # creates the bucket
    assert records.opened
    await records.record("default-h-ab12-1", OOM_KILLED)
    deaths = Deaths(agent.nc.jetstream())
    assert await eventually(lambda: deaths.reason("default-h-ab12-1"), what="the death, read by an agent") == (
        OOM_KILLED
    )
    assert actuator.violations == [] and agent.violations == []
    forged = f"$KV.{subjects.DEATHS_BUCKET}.default-h-ab12-2"
    await agent.nc.publish(forged, b"exited with code 1")
    await agent.refused(forged)


async def test_an_agent_works_for_its_own_pool_and_speaks_only_as_itself(secured: Secured) -> None:
    """Each agent connects as a user of its own that the actuator signed for its pool and id."""
    admin = await secured.connect("admin")
    for pool in ("default", "other"):
        await ensure_task_queue(admin.nc.jetstream(), PoolConfig(name=pool))
    await bucket(admin.nc.jetstream(), subjects.RESULTS_BUCKET)
    agent = await secured.connect("agent", pool="default", agent_id="default-h-1")
    # Its own pool's queue and results, and heartbeats as itself: allowed.
    js = agent.nc.jetstream()
    await js.pull_subscribe_bind(subjects.TASK_CONSUMER, subjects.task_stream("default"))
    mine = TaskResult(id="t1", pool="default", status="ok", agent_id="default-h-1")
    await js.publish(subjects.result_subject("default", "t1"), encode(mine))
    as_me = subjects.as_actor(subjects.AGENT_REGISTER, "default-h-1")
    me = Register(agent_id="default-h-1", pool="default", host="h", pid=1, started_at=time.time())
    await request(agent.nc, as_me, me, Ack)
    beat = b'{"agent_id":"default-h-1","pool":"default","host":"h","pid":1,"state":"ready"}'
    await agent.nc.publish(subjects.as_actor(subjects.heartbeat_subject("default"), "default-h-1"), beat)
    viewer = await secured.connect("viewer")
    assert [a.agent_id for a in (await viewer.client.agents()).agents] == ["default-h-1"]
    # On its own subject, a message naming another agent is refused by the registry.
    with pytest.raises(RequestFailed, match="an agent speaks for itself"):
        await request(agent.nc, as_me, msgspec.structs.replace(me, agent_id="default-h-2"), Ack)
    assert agent.violations == []
    # Another pool's queue and results, another agent's voice, and bare subjects: refused by the server.
    for subject in (
        f"$JS.API.CONSUMER.MSG.NEXT.{subjects.task_stream('other')}.{subjects.TASK_CONSUMER}",
        f"$JS.ACK.{subjects.task_stream('other')}.{subjects.TASK_CONSUMER}.1.1.1.1.1",
        subjects.result_subject("other", "t1"),
        subjects.as_actor(subjects.heartbeat_subject("default"), "default-h-2"),
        subjects.as_actor(subjects.heartbeat_subject("other"), "default-h-1"),
        subjects.heartbeat_subject("default"),
        subjects.AGENT_REGISTER,
        subjects.as_actor(subjects.AGENT_REGISTER, "default-h-2"),
    ):
        await agent.nc.publish(subject, b"{}")
        await agent.refused(subject)
