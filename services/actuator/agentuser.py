"""The user agents run as (setting ``agent_user``). An actuator running as root should not run handlers as
root: a root handler can lift its own memory limit (``RLIMIT_DATA``), leave its pool's cgroup and act as root on
the host. With ``agent_user`` the fork servers and agents start as that user, with its group and no others; the
actuator keeps root to manage the cgroups and hands each agent its credentials file, owned by that user."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from agentscaler.shared.settings import SettingsError


@dataclass(frozen=True)
class AgentUser:
    uid: int
    gid: int
    name: str


def agent_user(spec: str) -> AgentUser | None:
    """The user ``spec`` (a name or a numeric uid) names; None for "" (agents run as the actuator does)."""
    if not spec:
        return None
    try:
        entry = pwd.getpwuid(int(spec)) if spec.isdigit() else pwd.getpwnam(spec)
    except (KeyError, OverflowError):
        raise SettingsError(f"agent_user {spec!r} is not a user of this host") from None
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise SettingsError(f"agent_user {spec!r} needs the actuator to run as root (it runs as uid {os.geteuid()})")
    return AgentUser(entry.pw_uid, entry.pw_gid, entry.pw_name)


def root_warning(user: AgentUser | None) -> str:
    """What to say when agents would run as root; "" otherwise."""
    if os.geteuid() == 0 and (user is None or user.uid == 0):
        return (
            "agents run as root: a handler can lift its own limits and act as root on this host; set agent_user "
            "(AGENTSCALER_ACTUATOR_AGENT_USER) to an unprivileged user"
        )
    return ""
