"""Test operator-mode material made on the spot with ``shared/auth/jwt.py``: an operator, a system account and
an account (as a nats-server config with a memory resolver), and user ``.creds`` files signed by the account."""

from __future__ import annotations

import time
from pathlib import Path

import nkeys

from agentscaler.shared.auth import jwt


class Operator:
    """An operator with one account for users; :attr:`server_config` is the nats-server configuration."""

    def __init__(self) -> None:
        now = int(time.time())
        operator = jwt.Key.new(nkeys.PREFIX_BYTE_OPERATOR)
        system = jwt.Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
        self._account = jwt.Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
        self.account = self._account.public
        op_jwt = jwt.encode(operator, operator.public, "op", jwt.operator_claims(system.public), now)
        accounts = {
            self.account: jwt.encode(operator, self.account, "app", jwt.account_claims(), now),
            system.public: jwt.encode(operator, system.public, "SYS", jwt.account_claims(jetstream=False), now),
        }
        preload = ", ".join(f"{k}: {v}" for k, v in accounts.items())
        self.server_config = (
            f"operator: {op_jwt}\nsystem_account: {system.public}\nresolver: MEMORY\n"
            f"resolver_preload: {{ {preload} }}\n"
        )

    def user_creds(self, path: Path, name: str = "user", *, signer: jwt.Key | None = None) -> Path:
        """Write a .creds file for a new user of the account (signed by ``signer`` instead: a forged one)."""
        user = jwt.Key.new(nkeys.PREFIX_BYTE_USER)
        allow_all = {"pub": {"allow": [">"]}, "sub": {"allow": [">"]}}
        token = jwt.encode(signer or self._account, user.public, name, jwt.user_claims(permissions=allow_all), 0)
        path.write_text(jwt.creds(token, user.seed))
        path.chmod(0o600)
        return path
