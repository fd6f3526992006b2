"""The connection settings: nats.connect options, NATS CLI contexts, redaction, the CLI flags and ``config``
output, and what an agent's environment holds (its own credential files, never the actuator's secrets)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import msgspec
import nkeys
import pytest

from agentscaler.services.actuator.processes import agent_environment
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.settings import AgentSettings
from agentscaler.services.cli.commands import client_settings
from agentscaler.services.cli.exit_codes import EXIT
from agentscaler.services.cli.main import parser
from agentscaler.shared.auth.actor import actor_from
from agentscaler.shared.bus.context import read_context, with_context
from agentscaler.shared.bus.options import (
    CONNECTION_FIELDS,
    connect_kwargs,
    is_connection_variable,
    redact_url,
    scrub,
    shown_value,
)
from agentscaler.shared.bus.server import free_port
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.settings import CommonSettings, SettingsError, load
from tests.nats_jwt import Operator

SECRET = "Sx-91-hunter2"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        (f"nats://bob:{SECRET}@h:4222", "nats://h:4222"),
        (f"tls://{SECRET}@h:4222/x", "tls://h:4222/x"),
        (f"bob:{SECRET}@h:4222", "h:4222"),
        (f"nats://a:{SECRET}@h1:1, nats://h2:2,tls://t:{SECRET}@h3:3", "nats://h1:1,nats://h2:2,tls://h3:3"),
        ("nats://p@ss@h:1", "nats://h:1"),
    ],
)
def test_redact_url(url: str, shown: str):
    assert redact_url(url) == shown


def test_scrub_masks_passwords_tokens_and_url_credentials():
    settings = CommonSettings(nats_url=f"nats://bob:{SECRET}x@h:1", password=SECRET, token="tok-123")
    text = scrub(f"failed: {SECRET}x, {SECRET} and tok-123", settings)
    assert SECRET not in text and "tok-123" not in text


def test_shown_value_hides_secrets():
    assert shown_value("password", SECRET) == "<set>"
    assert shown_value("token", "") == "<unset>"
    assert shown_value("nats_url", f"nats://u:{SECRET}@h:1") == "'nats://h:1'"
    assert shown_value("creds", "/etc/x.creds") == "'/etc/x.creds'"


def test_connect_kwargs_defaults_to_the_plain_server():
    assert connect_kwargs(CommonSettings()) == {"servers": ["nats://127.0.0.1:4222"]}


def test_connect_kwargs_credentials(tmp_path: Path):
    creds, seed = Operator().user_creds(tmp_path / "a.creds"), tmp_path / "a.nk"
    seed.write_bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
    kwargs = connect_kwargs(
        CommonSettings(
            nats_url="nats://a:1, nats://b:2", creds=str(creds), nkey=str(seed), user="u", password="p", token="t"
        )
    )
    assert {k: v for k, v in kwargs.items() if k != "inbox_prefix"} == {
        "servers": ["nats://a:1", "nats://b:2"],
        "user_credentials": str(creds),  # what nats-py reads the JWT and the seed from
        "nkeys_seed": str(seed),
        "user": "u",
        "password": "p",
        "token": "t",
    }
    # The reply inbox is the user's own: the nkey's when both are given, else the JWT's subject.
    assert kwargs["inbox_prefix"] == f"_INBOX.{actor_from(nkey=str(seed))}"
    only_creds = connect_kwargs(CommonSettings(creds=str(creds)))
    assert only_creds["inbox_prefix"] == f"_INBOX.{actor_from(creds=str(creds))}"
    creds.write_text("x")
    with pytest.raises(SettingsError, match=r"credentials file .* \(setting creds\) cannot be read"):
        connect_kwargs(CommonSettings(creds=str(creds)))


def test_connect_kwargs_tls(tmp_path: Path):
    assert isinstance(connect_kwargs(CommonSettings(nats_url="tls://h:1"))["tls"], ssl.SSLContext)
    with pytest.raises(SettingsError, match="tls_key is set without tls_cert"):
        key = tmp_path / "k.pem"
        key.write_text("x")
        connect_kwargs(CommonSettings(tls_key=str(key)))
    with pytest.raises(SettingsError, match="cannot load the TLS files"):
        connect_kwargs(CommonSettings(tls_ca=str(key)))


@pytest.mark.parametrize("field", ["creds", "nkey", "tls_ca", "tls_cert", "tls_key"])
def test_a_missing_file_names_its_setting(tmp_path: Path, field: str):
    with pytest.raises(SettingsError, match=f"setting {field}"):
        connect_kwargs(CommonSettings(**{field: str(tmp_path / "missing")}))


def test_connection_settings_from_env_and_config_file(tmp_path: Path):
    env = {f"AGENTSCALER_{f.upper()}": f"env-{f}" for f in CONNECTION_FIELDS}
    assert all(getattr(load(CommonSettings, "cli", env=env), f) == f"env-{f}" for f in CONNECTION_FIELDS)
    conf = tmp_path / "c.toml"
    conf.write_text('creds = "/top.creds"\n[actuator]\nnkey = "/actuator.nk"\ntls_ca = "/ca.pem"\n')
    s = load(ActuatorSettings, "actuator", env={"AGENTSCALER_CONFIG": str(conf)})
    assert (s.creds, s.nkey, s.tls_ca) == ("/top.creds", "/actuator.nk", "/ca.pem")


def write_context(home: Path, name: str, data: dict[str, str]) -> None:
    (home / "nats" / "context").mkdir(parents=True, exist_ok=True)
    (home / "nats" / "context" / f"{name}.json").write_text(json.dumps(data))


def test_context_fills_what_is_not_given(tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    write_context(
        tmp_path,
        "prod",
        {"url": "nats://prod:4222", "user": "ctx-user", "password": "ctx-pw", "ca": "~/ca.pem", "nsc": "ignored"},
    )
    s = with_context(CommonSettings(context="prod", user="given"), env)
    assert (s.nats_url, s.user, s.password) == ("nats://prod:4222", "given", "ctx-pw")
    assert s.tls_ca == str(Path.home() / "ca.pem")
    assert with_context(CommonSettings(context="prod", nats_url="nats://mine:1"), env).nats_url == "nats://mine:1"
    assert with_context(CommonSettings(), env) == CommonSettings()


def test_context_in_the_home_config_without_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_context(tmp_path / ".config", "dev", {"url": "nats://dev:1", "token": "t"})
    assert read_context("dev", {}) == {"nats_url": "nats://dev:1", "token": "t"}


def test_unknown_or_bad_context(tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(SettingsError, match="NATS context 'nope' not found"):
        read_context("nope", env)
    (tmp_path / "nats" / "context").mkdir(parents=True)
    (tmp_path / "nats" / "context" / "bad.json").write_text('{"password": "' + SECRET)
    with pytest.raises(SettingsError, match="cannot read NATS context 'bad'") as caught:
        read_context("bad", env)
    assert SECRET not in str(caught.value)
    with pytest.raises(SettingsError, match="invalid NATS context name"):
        read_context("../etc/x", env)


def test_is_connection_variable():
    for name in ("AGENTSCALER_PASSWORD", "AGENTSCALER_ACTUATOR_TOKEN", "AGENTSCALER_CREDS", "AGENTSCALER_NATS_URL"):
        assert is_connection_variable(name)
    for name in ("AGENTSCALER_CONFIG", "AGENTSCALER_LOG_LEVEL", "PASSWORD", "AGENTSCALER_HANDLERS"):
        assert not is_connection_variable(name)


def test_agent_environment_holds_no_secret_of_the_actuator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    conf = tmp_path / "c.toml"
    conf.write_text(f'password = "{SECRET}-file"\ntoken = "{SECRET}-filetoken"\n')
    for name, value in {
        "AGENTSCALER_PASSWORD": SECRET,
        "AGENTSCALER_ACTUATOR_TOKEN": SECRET + "-token",
        "AGENTSCALER_CREDS": "/secret/actuator.creds",
        "AGENTSCALER_NATS_URL": f"nats://svc:{SECRET}@h:4222",
        "AGENTSCALER_CONFIG": str(conf),
    }.items():
        monkeypatch.setenv(name, value)
    settings = ActuatorSettings(
        nats_url=f"nats://svc:{SECRET}@h1:4222,nats://h2:4222",
        user="svc",
        password=SECRET,
        nkey="/secret/actuator.nk",
        creds="/secret/actuator.creds",
        tls_ca="/etc/ca.pem",
        tls_cert="/secret/actuator-cert.pem",
        tls_key="/secret/actuator-key.pem",
        agent_creds="/etc/agentscaler/agent.creds",
        agent_nkey="/etc/agentscaler/agent.nk",
    )
    env = agent_environment(settings, PoolConfig(name="p"), "h1.p.1", "")
    assert (env["AGENTSCALER_AGENT_TLS_CERT"], env["AGENTSCALER_AGENT_TLS_KEY"]) == ("", "")  # not the actuator's
    with_own = msgspec.structs.replace(settings, agent_tls_cert="/etc/a-cert.pem", agent_tls_key="/etc/a-key.pem")
    own = agent_environment(with_own, PoolConfig(name="p"), "h1.p.1", "")
    assert (own["AGENTSCALER_AGENT_TLS_CERT"], own["AGENTSCALER_AGENT_TLS_KEY"]) == (
        "/etc/a-cert.pem",
        "/etc/a-key.pem",
    )
    assert not [k for k, v in env.items() if SECRET in v or "/secret/" in v]
    assert env["AGENTSCALER_AGENT_NATS_URL"] == "nats://h1:4222,nats://h2:4222"
    assert env["AGENTSCALER_AGENT_CREDS"] == "/etc/agentscaler/agent.creds"
    assert env["AGENTSCALER_AGENT_NKEY"] == "/etc/agentscaler/agent.nk"
    assert env["AGENTSCALER_AGENT_TLS_CA"] == "/etc/ca.pem"
    # What the agent loads from it: its own credential files, no password or token (not even the config file's).
    agent = load(AgentSettings, "agent", env=env)
    assert (agent.creds, agent.nkey, agent.user, agent.password, agent.token, agent.context) == (
        "/etc/agentscaler/agent.creds",
        "/etc/agentscaler/agent.nk",
        "",
        "",
        "",
        "",
    )


def test_a_pool_env_cannot_give_agents_credentials():
    given = {"AGENTSCALER_AGENT_CREDS": "/x.creds", "AGENTSCALER_AGENT_NATS_URL": "nats://x"}
    pool = PoolConfig(name="p", env={**given, "AGENTSCALER_AGENT_CREDS_DIR": "/x"})
    env = agent_environment(ActuatorSettings(), pool, "a", "")
    assert (env["AGENTSCALER_AGENT_CREDS"], env["AGENTSCALER_AGENT_NATS_URL"]) == ("", "nats://127.0.0.1:4222")
    assert env["AGENTSCALER_AGENT_CREDS_DIR"] == ""


@pytest.mark.parametrize("command", [["status"], ["up", "3"], ["pool", "list"], ["run"], ["serve", "policy"]])
def test_connection_flags_on_every_connecting_command(command: list[str]):
    flags = ["--creds", "c", "--nkey", "n", "--user", "u", "--password", "p", "--token", "t"]
    flags += ["--tls-ca", "ca", "--tls-cert", "cert", "--tls-key", "key", "--context", "ctx"]
    args = parser().parse_args([*command, *flags])
    given = {f: getattr(args, f) for f in CONNECTION_FIELDS if f != "nats_url"}
    assert given == dict(
        creds="c",
        nkey="n",
        user="u",
        password="p",
        token="t",
        tls_ca="ca",
        tls_cert="cert",
        tls_key="key",
        context="ctx",
    )


def test_client_settings_flags_win_over_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AGENTSCALER_USER", "env-user")
    monkeypatch.setenv("AGENTSCALER_PASSWORD", "env-pw")
    monkeypatch.setenv("AGENTSCALER_NATS_URL", "nats://env:1")
    s = client_settings(parser().parse_args(["status", "--user", "flag-user"]))
    assert (s.user, s.password, s.nats_url) == ("flag-user", "env-pw", "nats://env:1")
    s = client_settings(parser().parse_args(["status", "--nats-url", "nats://flag:2"]))
    assert s.nats_url == "nats://flag:2"


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``agentscaler`` command, in its own process (its logging set up as it is for users)."""
    return subprocess.run(
        [sys.executable, "-m", "agentscaler.services.cli", *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_config_output_shows_secrets_as_set():
    done = cli("config", env={"AGENTSCALER_PASSWORD": SECRET, "AGENTSCALER_POLICY_TOKEN": SECRET + "tok"})
    assert done.returncode == 0
    assert SECRET not in done.stdout + done.stderr
    # every service's and the client commands' ([cli]) password
    assert done.stdout.count("password = <set>") == 5 and done.stdout.count("token = <set>") == 1


def test_an_error_hint_shows_no_url_credentials():
    done = cli("agents", "--nats-url", f"nats://bob:{SECRET}@127.0.0.1:{free_port()}")
    assert done.returncode == EXIT["unavailable"]
    assert "no NATS server at nats://127.0.0.1:" in done.stderr
    assert SECRET not in done.stdout + done.stderr and "bob" not in done.stderr


def test_agents_of_an_actuator_using_a_context_get_its_servers_not_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write_context(tmp_path, "prod", {"url": f"nats://u:{SECRET}@prod:4222", "password": SECRET, "ca": "/ca.pem"})
    env = agent_environment(ActuatorSettings(context="prod"), PoolConfig(name="p"), "a", "")
    assert not [k for k, v in env.items() if SECRET in v]
    assert (env["AGENTSCALER_AGENT_NATS_URL"], env["AGENTSCALER_AGENT_TLS_CA"]) == ("nats://prod:4222", "/ca.pem")
    assert env["AGENTSCALER_AGENT_CONTEXT"] == ""
