"""Agents as an unprivileged user (setting ``agent_user``): a process the actuator starts runs as that user with
its group only, and an agent's own credentials file is that user's. Needs root (as the actuator it stands for)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil
import pytest

from agentscaler.services.actuator.agentcreds import AgentCredentials
from agentscaler.services.actuator.agentuser import agent_user, root_warning
from agentscaler.services.actuator.processes import start_process
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.cli import auth
from agentscaler.shared.settings import SettingsError

SYSTEM_PYTHON = "/usr/bin/python3"
"""An interpreter every user may run (this one may live under /root): the test starts a stdlib module with it."""

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="starting processes as another user needs root")


def test_the_user_is_named_or_numbered_and_must_exist() -> None:
    assert agent_user("") is None
    nobody = agent_user("nobody")
    assert nobody is not None and nobody.name == "nobody"
    assert agent_user(str(nobody.uid)) == nobody
    with pytest.raises(SettingsError, match="not a user of this host"):
        agent_user("no-such-user-here")


@root_only
def test_root_agents_are_warned_about() -> None:
    assert "agent_user" in root_warning(None)
    assert root_warning(agent_user("root")) != ""
    assert root_warning(agent_user("nobody")) == ""


@root_only
@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"no {SYSTEM_PYTHON}")
def test_a_started_process_runs_as_the_agent_user_with_its_group_only() -> None:
    nobody = agent_user("nobody")
    assert nobody is not None
    settings = ActuatorSettings(python=SYSTEM_PYTHON, agent_user="nobody")
    popen = start_process(settings, "json.tool", {"PATH": "/usr/bin:/bin"}, pipes=True)  # waits on its stdin
    try:
        proc = psutil.Process(popen.pid)
        assert proc.uids().real == proc.uids().effective == nobody.uid
        assert proc.gids().real == proc.gids().effective == nobody.gid
        groups = [
            int(g) for g in Path(f"/proc/{popen.pid}/status").read_text().split("Groups:")[1].split("\n")[0].split()
        ]
        assert set(groups) <= {nobody.gid}  # none of the actuator's groups
    finally:
        assert popen.stdin is not None
        popen.stdin.close()
        popen.wait(10)


@root_only
def test_an_agents_credentials_file_is_the_agent_users(tmp_path: Path) -> None:
    auth.init(tmp_path / "keys")
    nobody = agent_user("nobody")
    creds = AgentCredentials(
        str(tmp_path / "keys" / auth.AGENT_SIGNER), str(auth.creds_file(tmp_path / "keys", "actuator")), owner=nobody
    )
    try:
        path = creds.issue("p-h-1", "p")
        assert nobody is not None and (path.stat().st_uid, path.stat().st_gid) == (nobody.uid, nobody.gid)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(creds.directory.stat().st_mode) == 0o711  # passable to one's own file, not listable
        creds.forget("p-h-1")
        assert not path.exists()
    finally:
        creds.close()
    assert not creds.directory.exists()
