"""A user of its own for each agent: with the agents' scoped signing key (setting ``agent_signer``, written by
``auth init``) the actuator signs every agent it starts a user named by its id and tagged with its pool, and
writes it as ``<agent id>.creds`` (mode 0600, owned by ``agent_user`` when set) into a private directory the
agent is told of. The server gives
such a user the agent role's permissions for that pool and id only (``shared/auth/serverconf.py``): an agent
cannot pull another pool's tasks, write its results, or heartbeat as another agent. The file goes when the
agent does."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from agentscaler.shared.auth.jwt import Key, claims_of, creds_jwt
from agentscaler.shared.auth.serverconf import sign_agent
from agentscaler.shared.settings import SettingsError

from .agentuser import AgentUser


def account_of(creds_file: str) -> str:
    """The account of the user in ``creds_file``: its JWT's ``issuer_account``, else its issuer."""
    try:
        nats = claims_of(creds_jwt(Path(creds_file).read_text()))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read the account from {creds_file!r} (setting creds): {exc}") from None
    account = nats.get("nats", {}).get("issuer_account") or nats.get("iss", "")
    if not str(account).startswith("A"):
        raise SettingsError(f"{creds_file!r} (setting creds) names no account")
    return str(account)


class AgentCredentials:
    """Signs each agent its user and keeps the files while the agents live."""

    def __init__(self, signer_file: str, own_creds: str, directory: str = "", owner: AgentUser | None = None) -> None:
        if not own_creds:
            raise SettingsError(
                "agent_signer needs the actuator to connect with its own .creds (setting creds): the agents' users "
                "belong to its account"
            )
        try:
            self.signer = Key.of(Path(signer_file).read_bytes())
        except OSError as exc:
            raise SettingsError(f"agent signing key {signer_file!r} (setting agent_signer): {exc.strerror}") from None
        except Exception as exc:  # nkeys' own errors, for a file that holds no seed
            raise SettingsError(
                f"agent signing key {signer_file!r} (setting agent_signer) holds no seed: {exc}"
            ) from None
        self.account = account_of(own_creds)
        self.owned = not directory
        self.directory = Path(directory or tempfile.mkdtemp(prefix="agentscaler-agents-"))
        self.owner = owner
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Agents of another user may pass through to their own file, by its name, but not list the others.
        self.directory.chmod(0o700 if owner is None else 0o711)

    def path(self, agent_id: str) -> Path:
        return self.directory / f"{agent_id}.creds"

    def issue(self, agent_id: str, pool: str) -> Path:
        """Write the credentials of a new agent; the agent finds them by its id."""
        path = self.path(agent_id)
        text = sign_agent(self.signer, self.account, agent_id, pool, int(time.time()))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            if self.owner is not None:
                os.fchown(f.fileno(), self.owner.uid, self.owner.gid)
            f.write(text)
        return path

    def forget(self, agent_id: str) -> None:
        with suppress(FileNotFoundError):
            self.path(agent_id).unlink()

    def close(self) -> None:
        """Remove every file (and the directory, when it was made here)."""
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for path in self.directory.glob("*.creds"):
            with suppress(FileNotFoundError):
                path.unlink()
