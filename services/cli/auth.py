"""``agentscaler auth init DIR``: an nkey user per role and the nats-server authorization that lists them; and
the identities ``agentscaler run --auth DIR`` gives the server, its services and its agents."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

import nkeys

from agentscaler.shared import subjects
from agentscaler.shared.auth.inbox import public_key
from agentscaler.shared.auth.roles import ROLE_NAMES, SERVICE_ROLES
from agentscaler.shared.auth.serverconf import authorization
from agentscaler.shared.errors import AgentscalerError

T = TypeVar("T")

SERVER_CONF = "nats-server.conf"
EXIT_DENIED = 77
"""Exit status of a command the server refused for want of permission (sysexits' EX_NOPERM)."""


class AuthError(AgentscalerError):
    """The credentials directory cannot be made or used."""


class PermissionDenied(AgentscalerError):
    """The server refused one of the command's messages: the credentials' role does not allow it."""


def seed_file(directory: Path, role: str) -> Path:
    return directory / f"{role}.nk"


def init(directory: Path, *, force: bool = False, pools: Sequence[str] = ()) -> list[Path]:
    """Write a new nkey seed per role (mode 0600) and ``nats-server.conf``, the authorization block listing them;
    returns the files written. Existing keys are kept (:class:`AuthError`) unless ``force``."""
    for pool in pools:
        subjects.check_name("pool", pool)
    existing = [seed_file(directory, r) for r in ROLE_NAMES if seed_file(directory, r).exists()]
    if existing and not force:
        raise AuthError(
            f"{directory} already holds keys ({', '.join(p.name for p in existing)}); pass --force to replace "
            "them (every client and server using the old ones must then get the new files)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    users: dict[str, str] = {}
    written = []
    for role in ROLE_NAMES:
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        users[role] = public_key(seed)
        written.append(_write_private(seed_file(directory, role), seed + b"\n"))
    written.append(_write_private(directory / SERVER_CONF, authorization(users, pools).encode()))
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
    """Each service's connection settings under ``run --auth``: its own seed, and the agents' for the actuator."""
    missing = [p for p in (seed_file(directory, r) for r in (*SERVICE_ROLES, "agent")) if not p.is_file()]
    if missing:
        raise AuthError(f"missing {', '.join(map(str, missing))}: run `agentscaler auth init {directory}`")
    out = {role: {"nkey": str(seed_file(directory, role).resolve())} for role in SERVICE_ROLES}
    out["actuator"]["agent_nkey"] = str(seed_file(directory, "agent").resolve())
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
