"""``agentscaler auth init DIR``: an operator-mode setup (a user per role, the agents' signing key, the
nats-server configuration that trusts them); and the identities ``agentscaler run --auth DIR`` gives the
server, its services and its agents."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

from agentscaler.shared import subjects
from agentscaler.shared.auth.roles import ROLE_NAMES, SERVICE_ROLES
from agentscaler.shared.auth.serverconf import issue
from agentscaler.shared.errors import AgentscalerError

T = TypeVar("T")

SERVER_CONF = "nats-server.conf"
AGENT_SIGNER = "agent-signer.nk"
"""The agents' scoped signing key: an actuator signs each agent it starts a user of its own with it."""
ACTORS = "actors.json"
"""Each user's public key -> its role: the names the policy gives actors in audit records (setting ``actors``)."""
EXIT_DENIED = 77
"""Exit status of a command the server refused for want of permission (sysexits' EX_NOPERM)."""


class AuthError(AgentscalerError):
    """The credentials directory cannot be made or used."""


class PermissionDenied(AgentscalerError):
    """The server refused one of the command's messages: the credentials' role does not allow it."""


def creds_file(directory: Path, role: str) -> Path:
    return directory / f"{role}.creds"


def init(directory: Path, *, force: bool = False, pools: Sequence[str] = ()) -> list[Path]:
    """Write a new operator-mode setup into ``directory`` (mode 0700): a ``.creds`` file per role (mode 0600),
    the agents' signing key ``agent-signer.nk`` (for actuators), ``nats-server.conf`` (the operator and the
    preloaded accounts) and ``actors.json``; returns the files written. Existing credentials are kept
    (:class:`AuthError`) unless ``force``."""
    for pool in pools:
        subjects.check_name("pool", pool)
    existing = [p for p in (*(creds_file(directory, r) for r in ROLE_NAMES), directory / AGENT_SIGNER) if p.exists()]
    if existing and not force:
        raise AuthError(
            f"{directory} already holds credentials ({', '.join(p.name for p in existing)}); pass --force to "
            "replace them (every client and server using the old ones must then get the new files)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    issued = issue(int(time.time()), pools)
    written = [_write_private(creds_file(directory, role), text.encode()) for role, text in issued.creds.items()]
    written.append(_write_private(directory / AGENT_SIGNER, issued.agent_signer + b"\n"))
    written.append(_write_private(directory / SERVER_CONF, issued.server_config.encode()))
    actors = {key: role for role, key in issued.users.items()}
    written.append(_write_private(directory / ACTORS, (json.dumps(actors, indent=2) + "\n").encode()))
    return written


def _write_private(path: Path, data: bytes) -> Path:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def server_config(directory: Path) -> str:
    """The authorization that ``auth init`` wrote into ``directory``, for the embedded server."""
    path = directory / SERVER_CONF
    try:
        return path.read_text()
    except OSError as exc:
        hint = f"create it with `agentscaler auth init {directory}`"
        raise AuthError(f"cannot read {path}: {exc.strerror}; {hint}") from None


def service_identities(directory: Path) -> dict[str, dict[str, str]]:
    """Each service's connection settings under ``run --auth``: its own credentials; the actuator also the
    agents' signing key, the policy the actors' names."""
    needed = [*(creds_file(directory, r) for r in SERVICE_ROLES), directory / AGENT_SIGNER]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise AuthError(f"missing {', '.join(map(str, missing))}: run `agentscaler auth init {directory}`")
    out = {role: {"creds": str(creds_file(directory, role).resolve())} for role in SERVICE_ROLES}
    out["actuator"]["agent_signer"] = str((directory / AGENT_SIGNER).resolve())
    if (directory / ACTORS).is_file():
        out["policy"]["actors"] = str((directory / ACTORS).resolve())
    return out


class Violations:
    """Permission violations the server reports on a client's connection (through nats-py's error callback)."""

    def __init__(self) -> None:
        self.seen: asyncio.Future[str] | None = None

    async def on_error(self, exc: Exception) -> None:
        text = str(exc)
        if "permissions violation" in text.lower():
            if self.seen is None:
                self.seen = asyncio.get_running_loop().create_future()
            if not self.seen.done():
                self.seen.set_result(text.removeprefix("nats: "))

    async def guard(self, work: Awaitable[T]) -> T:
        """``work``'s result, or :class:`PermissionDenied` as soon as the server refuses one of its messages."""
        if self.seen is None:
            self.seen = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(work)
        await asyncio.wait({task, self.seen}, return_when=asyncio.FIRST_COMPLETED)
        if self.seen.done():
            task.cancel()
            await asyncio.wait({task})
            raise PermissionDenied(
                f"not permitted: the server refused this command ({self.seen.result()}); the credentials you "
                "connected with lack the role it needs (see docs/security.md for what each role may do)"
            )
        return task.result()
