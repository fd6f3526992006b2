"""Connecting like every NATS tool, against real nats-servers that demand it: user and password, token, an nkey
seed file, TLS with client certificates, a NATS CLI context, a server list whose first server is down; and
the secrets of each never in logs or error messages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import nkeys
import pytest
import structlog

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.cli.exit_codes import EXIT
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.auth.jwt import Key
from agentscaler.shared.bus.connection import connect_once, connect_service, service_connection
from agentscaler.shared.bus.jetstream import bucket, ensure_task_queue, put_struct
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.errors import NatsUnavailable
from agentscaler.shared.messages.agents import Exited, Registered, Spawned
from agentscaler.shared.messages.pools import DesiredState, PoolConfig
from agentscaler.shared.settings import CommonSettings
from tests.conftest import eventually
from tests.nats_jwt import Operator
from tests.services import agent_events, next_event, running
from tests.tls_certs import make_tls

PASSWORD = "pw-Wq8rT3zX"
TOKEN = "tok-9vLm2Kd4"


def server(tmp_path: Path, config: str) -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(tmp_path / "nats", port=free_port(), config=config)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    yield from server(tmp_path, f'authorization {{ user: alice, password: "{PASSWORD}" }}\n')


async def can_talk(settings: CommonSettings) -> None:
    nc = await connect_once(settings, "test")
    try:
        await nc.flush(timeout=2)
        assert nc.is_connected
    finally:
        await nc.close()


async def refused(settings: CommonSettings) -> str:
    with pytest.raises(NatsUnavailable) as caught:
        await connect_once(settings, "test")
    return str(caught.value)


async def test_user_and_password(password_server: EmbeddedServer):
    await can_talk(CommonSettings(nats_url=password_server.url, user="alice", password=PASSWORD))
    error = await refused(CommonSettings(nats_url=password_server.url, user="alice", password="wrong-password"))
    assert "uthorization" in error and "wrong-password" not in error
    assert "Authorization" in await refused(CommonSettings(nats_url=password_server.url))


async def test_a_server_list_with_nodes_down_still_connects(nats_server: EmbeddedServer):
    """A cluster with a node down still answers the CLI, whichever order the servers are tried in."""
    down = ",".join(f"nats://127.0.0.1:{free_port()}" for _ in range(3))
    for _ in range(8):
        await can_talk(CommonSettings(nats_url=f"{down},{nats_server.url}"))
    error = await refused(CommonSettings(nats_url=down))
    assert "no NATS server at" in error


async def test_credentials_in_the_url_are_never_shown(password_server: EmbeddedServer):
    url = f"nats://alice:{PASSWORD}@127.0.0.1:{password_server.port}"
    await can_talk(CommonSettings(nats_url=url))
    wrong = f"nats://alice:bad-{PASSWORD}@127.0.0.1:{password_server.port}"
    assert PASSWORD not in await refused(CommonSettings(nats_url=wrong))
    dead = f"nats://alice:{PASSWORD}@127.0.0.1:{free_port()}"
    error = await refused(CommonSettings(nats_url=dead))
    assert "no NATS server at nats://127.0.0.1:" in error and PASSWORD not in error and "alice" not in error


async def test_a_waiting_service_logs_no_secret(password_server: EmbeddedServer):
    stop = asyncio.Event()
    settings = CommonSettings(nats_url=password_server.url, user="alice", password="bad-" + PASSWORD)
    with structlog.testing.capture_logs() as logs:
        waiting = asyncio.create_task(connect_service(settings, "test", stop))
        await eventually(lambda: logs, what="the refusal logged")  # once, after the first attempt
        stop.set()
        assert await waiting is None
    assert logs and any("uthorization" in str(entry) for entry in logs)
    assert PASSWORD not in str(logs)
    url_settings = CommonSettings(nats_url=f"nats://alice:{PASSWORD}@127.0.0.1:{free_port()}")
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        waiting = asyncio.create_task(connect_service(url_settings, "test", stop))
        await eventually(lambda: logs, what="the wait logged")
        stop.set()
        assert await waiting is None
    assert logs and "no NATS server at nats://127.0.0.1:" in str(logs)
    assert PASSWORD not in str(logs)


async def test_a_service_connects_with_its_settings(password_server: EmbeddedServer):
    stop = asyncio.Event()
    settings = CommonSettings(nats_url=password_server.url, user="alice", password=PASSWORD)
    async with service_connection(settings, "test", stop) as nc:
        assert nc is not None
        sub = await nc.subscribe("ping")
        await nc.publish("ping", b"1")
        assert (await sub.next_msg(timeout=2)).data == b"1"


async def test_token(tmp_path: Path):
    for srv in server(tmp_path, f'authorization {{ token: "{TOKEN}" }}\n'):
        await can_talk(CommonSettings(nats_url=srv.url, token=TOKEN))
        error = await refused(CommonSettings(nats_url=srv.url, token="not-" + TOKEN))
        assert TOKEN not in error
        assert "Authorization" in await refused(CommonSettings(nats_url=srv.url))


async def test_nkey_seed_file(tmp_path: Path):
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed + b"\n")
    other = tmp_path / "other.nk"
    other.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
    for srv in server(tmp_path, f"authorization {{ users = [ {{ nkey: {public} }} ] }}\n"):
        await can_talk(CommonSettings(nats_url=srv.url, nkey=str(seed_file)))
        error = await refused(CommonSettings(nats_url=srv.url, nkey=str(other)))
        assert "uthorization" in error and seed.decode() not in error
        assert "Authorization" in await refused(CommonSettings(nats_url=srv.url))


async def test_tls_with_client_certificates(tmp_path: Path):
    tls = make_tls(tmp_path / "tls")
    config = (
        f'tls {{ cert_file: "{tls.server_cert}", key_file: "{tls.server_key}", ca_file: "{tls.ca}", verify: true }}\n'
    )
    for srv in server(tmp_path, config):
        full = CommonSettings(
            nats_url=srv.url, tls_ca=str(tls.ca), tls_cert=str(tls.client_cert), tls_key=str(tls.client_key)
        )
        await can_talk(full)
        tls_url = f"tls://127.0.0.1:{srv.port}"
        await can_talk(
            CommonSettings(nats_url=tls_url, tls_ca=str(tls.ca), tls_cert=full.tls_cert, tls_key=full.tls_key)
        )
        await refused(CommonSettings(nats_url=srv.url, tls_ca=str(tls.ca)))  # no client certificate
        await refused(CommonSettings(nats_url=tls_url, tls_cert=full.tls_cert, tls_key=full.tls_key))  # unknown CA
        await refused(CommonSettings(nats_url=srv.url))  # no TLS at all


async def test_context_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password_server: EmbeddedServer):
    config_home = tmp_path / "xdg"
    (config_home / "nats" / "context").mkdir(parents=True)
    context = {"description": "test", "url": password_server.url, "user": "alice", "password": PASSWORD}
    (config_home / "nats" / "context" / "testctx.json").write_text(json.dumps(context))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    await can_talk(CommonSettings(context="testctx"))
    # settings given win over the context's
    error = await refused(CommonSettings(context="testctx", password="given-" + PASSWORD))
    assert "uthorization" in error and PASSWORD not in error


async def test_a_server_list_whose_first_server_is_down(nats_server: EmbeddedServer):
    servers = f"nats://127.0.0.1:{free_port()}, {nats_server.url}"
    settings = CommonSettings(nats_url=servers)
    await can_talk(settings)
    stop = asyncio.Event()
    async with service_connection(settings, "test", stop) as nc:
        assert nc is not None and nc.connected_url is not None
        assert nc.connected_url.port == nats_server.port


async def test_creds_file_in_operator_mode(tmp_path: Path):
    operator = Operator()
    creds = operator.user_creds(tmp_path / "user.creds")
    stranger = Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
    forged = operator.user_creds(tmp_path / "forged.creds", signer=stranger)
    for srv in server(tmp_path, operator.server_config):
        await can_talk(CommonSettings(nats_url=srv.url, creds=str(creds)))
        error = await refused(CommonSettings(nats_url=srv.url, creds=str(forged)))
        assert "uthorization" in error and "SUA" not in error
        assert "Authorization" in await refused(CommonSettings(nats_url=srv.url))


def read_environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


async def test_agents_connect_with_their_own_nkey_and_inherit_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A real actuator (connected with a password, with more secrets in its environment) starts a real agent on
    a server that knows the agent only by its nkey: the agent registers, its environment (read from /proc)
    names its seed file but holds none of the secrets, and no service log line shows them."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    agent_public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    seed_file = tmp_path / "agent.nk"
    seed_file.write_bytes(seed)
    monkeypatch.setenv("AGENTSCALER_PASSWORD", PASSWORD)
    monkeypatch.setenv("AGENTSCALER_TOKEN", TOKEN)
    monkeypatch.setenv("AGENTSCALER_NATS_URL", f"nats://svc:{PASSWORD}@127.0.0.1:1")
    config = f'authorization {{ users = [ {{ user: svc, password: "{PASSWORD}" }}, {{ nkey: {agent_public} }} ] }}\n'
    pool = PoolConfig(name="sec", heartbeat_interval=0.5, pull_timeout=1.0, drain_timeout=20)
    for srv in server(tmp_path, config):
        url = f"nats://svc:{PASSWORD}@127.0.0.1:{srv.port}"
        host = f"it-{uuid.uuid4().hex[:8]}"
        nc = await connect_once(CommonSettings(nats_url=url), "test")
        try:
            js = nc.jetstream()
            await ensure_task_queue(js, pool)
            await put_struct(await bucket(js, subjects.POOLS_BUCKET), pool.name, pool)
            events = await agent_events(nc)
            with structlog.testing.capture_logs() as logs:
                async with (
                    running(registry.run, RegistrySettings(nats_url=url, host=host)),
                    running(
                        actuator.run,
                        ActuatorSettings(
                            nats_url=srv.url,
                            user="svc",
                            password=PASSWORD,
                            host=host,
                            reconcile_interval=0.1,
                            agent_nkey=str(seed_file),
                        ),
                    ),
                ):
                    desired = await bucket(js, subjects.DESIRED_BUCKET)
                    await put_struct(desired, pool.name, DesiredState(pool=pool.name, desired=1))
                    spawned = await next_event(events, Spawned)
                    registered = await next_event(events, Registered)  # it connected with its nkey
                    assert registered.agent.agent_id == spawned.agent_id
                    environ = read_environ(spawned.pid)
                    assert f"AGENTSCALER_AGENT_NKEY={seed_file}".encode() in environ
                    for secret in (PASSWORD, TOKEN, seed.decode()):
                        assert secret.encode() not in environ
                    await put_struct(desired, pool.name, DesiredState(pool=pool.name, desired=0))
                    await next_event(events, Exited)
            assert logs and not [entry for entry in logs if PASSWORD in str(entry) or TOKEN in str(entry)]
        finally:
            await nc.close()


def run_cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentscaler.services.cli", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_connects_with_flags_and_environment(password_server: EmbeddedServer):
    """Past the server's authorization, ``agents`` finds no registry: proof it connected; refused, it says so."""
    url = password_server.url
    for argv, env in (
        (["--user", "alice", "--password", PASSWORD], {}),
        (["--user", "alice"], {"AGENTSCALER_PASSWORD": PASSWORD}),
        ([], {"AGENTSCALER_CLI_USER": "alice", "AGENTSCALER_CLI_PASSWORD": PASSWORD}),
    ):
        done = await asyncio.to_thread(run_cli, "agents", "--nats-url", url, *argv, env=env)
        assert done.returncode == EXIT["unavailable"] and "registry" in done.stderr and PASSWORD not in done.stderr, (
            done.stderr
        )
    done = await asyncio.to_thread(run_cli, "agents", "--nats-url", url, "--user", "alice", env={})
    assert done.returncode == EXIT["permission"] and "Authorization Violation" in done.stderr, done.stderr
