"""What makes the CLI script well, without NATS: the exit status of each error class, ``--json`` errors,
``--version``, completion, ``config``'s origins and ``status --watch``'s dedupe."""

from __future__ import annotations

import json
import socket
import typing
from importlib.metadata import version
from pathlib import Path

import pytest

from agentscaler.services.cli.auth import EXIT_DENIED, PermissionDenied
from agentscaler.services.cli.client import UnknownPool
from agentscaler.services.cli.config_view import render, sections
from agentscaler.services.cli.exit_codes import EXIT, POLICY_CODES, BadInput, classify, result_exit
from agentscaler.services.cli.main import main, parser, report
from agentscaler.services.cli.status_watch import is_new
from agentscaler.shared.errors import (
    AgentscalerError,
    CredentialsRefused,
    NatsUnavailable,
    NoResponders,
    RequestFailed,
    RequestTimedOut,
    TimedOut,
)
from agentscaler.shared.messages.commands import Error
from agentscaler.shared.settings import CommonSettings, SettingsError, load_with_origins

# --- exit codes -----------------------------------------------------------------------------------------


def test_every_error_code_a_service_answers_with_has_a_class():
    codes = typing.get_args(typing.get_type_hints(Error, include_extras=True)["code"])
    assert set(codes) == set(POLICY_CODES)


def test_the_exit_statuses_are_distinct_and_permission_keeps_its_value():
    assert len(set(EXIT.values())) == len(EXIT)
    assert EXIT["permission"] == EXIT_DENIED == 77 and EXIT["usage"] == 2
    assert 0 not in EXIT.values() and 130 not in EXIT.values()


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (RequestFailed("bad_request", "m"), "bad_request", 2),
        (RequestFailed("unknown_pool", "m"), "unknown_pool", 4),
        (RequestFailed("refused", "m"), "refused", 3),
        (RequestFailed("conflict", "m"), "conflict", 3),
        (RequestFailed("too_little_history", "m"), "too_little_history", 3),
        (RequestFailed("internal", "m"), "internal", 70),
        (UnknownPool("m"), "unknown_pool", 4),
        (NatsUnavailable("m"), "unavailable", 69),
        (NoResponders("m"), "unavailable", 69),
        (RequestTimedOut("m"), "timeout", 75),
        (TimedOut("m"), "timeout", 75),
        (CredentialsRefused("m"), "permission", 77),
        (PermissionDenied("m"), "permission", 77),
        (BadInput("m"), "usage", 2),
        (SettingsError("m"), "usage", 2),
        (ValueError("m"), "usage", 2),
        (AgentscalerError("m"), "failed", 1),
    ],
)
def test_each_error_maps_to_its_class(exc, code, status):
    failure = classify(exc)
    assert (failure.code, failure.message, failure.exit) == (code, "m", status)


@pytest.mark.parametrize(
    ("state", "waited", "status"),
    [("done", False, 0), ("done", True, 0), ("failed", False, 1), ("pending", False, 0), ("pending", True, 75)],
)
def test_result_exit_status(state, waited, status):
    assert result_exit(state, waited) == status


# --- --json errors, --version, completion ---------------------------------------------------------------


def test_a_json_error_is_one_object_on_stdout(capsys):
    assert report(classify(RequestFailed("unknown_pool", "unknown pool 'x'")), as_json=True) == 4
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": {"code": "unknown_pool", "message": "unknown pool 'x'"}} and err == ""
    assert report(classify(NatsUnavailable("no NATS server")), as_json=False) == 69
    out, err = capsys.readouterr()
    assert out == "" and err == "agentscaler: error: no NATS server\n"


def test_a_usage_error_with_json_is_json_too(capsys):
    with pytest.raises(SystemExit) as info:
        main(["up", "-1", "--json"])
    assert info.value.code == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "usage" and error["message"].startswith("argument N: bad number '-1'")


@pytest.mark.parametrize(
    "argv",
    [
        ["status"], ["up", "1"], ["auto"], ["manual"], ["submit"], ["result", "x"], ["agents"], ["history"],
        ["audit"], ["optimize"], ["pool", "set", "p"], ["pool", "show", "p"], ["pool", "list"],
        ["host", "cordon", "h"], ["host", "drain", "h"], ["host", "uncordon", "h"], ["config"],
        ["auth", "init", "d"], ["run"], ["serve", "policy"], ["demo"],
    ],
)  # fmt: skip
def test_every_command_takes_json_and_config(argv):
    args = parser().parse_args([*argv, "--json"])
    assert args.json is True
    if argv[0] not in ("auth", "demo"):
        assert parser().parse_args([*argv, "--config", "f.toml"]).config == "f.toml"


def test_run_that_cannot_start_says_why_in_json(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTSCALER_METRICS_PORT", "0")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["run", "--json", "--port", str(port), "--data-dir", str(tmp_path)])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code != 0 and f"port {port}" in error["message"] and "taken" in error["message"]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"agentscaler {version('agentscaler')}\n"


def test_bash_completion_names_the_commands(capsys):
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete" in script and "_shtab_agentscaler" in script
    for command in ("status", "submit", "result", "pool", "completion"):
        assert command in script


# --- config: effective values and their origins ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "env", "flags", "value", "origin"),
    [
        ("", {}, {}, "info", "default"),
        ("log_level = 'debug'\n", {}, {}, "debug", "file"),
        ("[cli]\nlog_level = 'error'\n", {}, {}, "error", "file"),
        ("log_level = 'debug'\n", {"AGENTSCALER_LOG_LEVEL": "warning"}, {}, "warning", "env AGENTSCALER_LOG_LEVEL"),
        ("", {"AGENTSCALER_CLI_LOG_LEVEL": "error"}, {}, "error", "env AGENTSCALER_CLI_LOG_LEVEL"),
        ("log_level = 'debug'\n", {"AGENTSCALER_LOG_LEVEL": "warning"}, {"log_level": "error"}, "error", "flag"),
        ("", {}, {"log_level": None}, "info", "default"),  # a flag not given
    ],
)
def test_config_origins(tmp_path: Path, file, env, flags, value, origin):
    path = tmp_path / "a.toml"
    path.write_text(file)
    settings, origins = load_with_origins(CommonSettings, "cli", config_file=path, env=env, overrides=flags)
    assert settings.log_level == value
    assert origins["log_level"] == (f"file {path}" if origin == "file" else origin)
    assert origins["nats_url"] == "default"


def test_config_shows_effective_values_masked_with_their_origin(tmp_path: Path):
    path = tmp_path / "a.toml"
    path.write_text("nats_url = 'nats://bob:hunter22@file:4222'\n[monitor]\ninterval = 5.0\n")
    env = {"AGENTSCALER_POLICY_TOKEN": "s3cret-token"}
    found = sections(path, env, {"nats_url": "nats://flag:1", "user": None})
    assert list(found) == ["registry", "policy", "monitor", "actuator", "run", "cli"]
    text = render(found)
    assert "hunter22" not in text and "s3cret" not in text
    assert f"  nats_url = 'nats://file:4222'    # [file {path}] NATS server URLs" in text
    assert "  token = <set>    # [env AGENTSCALER_POLICY_TOKEN]" in text
    assert f"  interval = 5.0    # [file {path}] seconds between snapshots" in text
    assert "  nats_url = 'nats://flag:1'    # [flag] NATS server URLs" in text.split("[cli]")[1]
    assert "  user = ''    # NATS user name" in text  # a default: no origin


# --- status --watch -------------------------------------------------------------------------------------


def test_watch_shows_a_snapshot_once():
    shown = []
    last = None
    for at in (10.0, 10.0, 10.0, 12.0, 12.0, 14.0):
        if is_new(at, last):
            shown.append(at)
        last = at
    assert shown == [10.0, 12.0, 14.0]
