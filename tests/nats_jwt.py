"""Test operator-mode material made on the spot with ``nkeys``: an operator, a system account and an account
(as a nats-server config with a memory resolver), and user ``.creds`` files signed by the account."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import nkeys

_LIMITS = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}


def keypair(prefix: int) -> tuple[bytes, nkeys.KeyPair, str]:
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    pair = nkeys.from_seed(bytearray(seed))
    return seed, pair, pair.public_key.decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_jwt(signer: nkeys.KeyPair, issuer: str, subject: str, name: str, claims: dict[str, object]) -> str:
    body = {"jti": "", "iat": int(time.time()), "iss": issuer, "name": name, "sub": subject, "nats": claims}
    body["jti"] = base64.b32encode(hashlib.sha256(json.dumps(body).encode()).digest()).decode().rstrip("=")
    head = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = _b64(json.dumps(body).encode())
    return f"{head}.{payload}.{_b64(signer.sign(f'{head}.{payload}'.encode()))}"


class Operator:
    """An operator with one account for users; :attr:`server_config` is the nats-server configuration."""

    def __init__(self) -> None:
        _, self._operator, operator = keypair(nkeys.PREFIX_BYTE_OPERATOR)
        _, _, self._system = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        _, self._account, self.account = keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        account = {"limits": _LIMITS, "type": "account", "version": 2}
        op_jwt = encode_jwt(
            self._operator, operator, operator, "op", {"type": "operator", "version": 2, "system_account": self._system}
        )
        accounts = {
            self.account: encode_jwt(self._operator, operator, self.account, "app", account),
            self._system: encode_jwt(self._operator, operator, self._system, "SYS", account),
        }
        preload = ", ".join(f"{k}: {v}" for k, v in accounts.items())
        self.server_config = (
            f"operator: {op_jwt}\nsystem_account: {self._system}\nresolver: MEMORY\nresolver_preload: {{ {preload} }}\n"
        )

    def user_creds(self, path: Path, name: str = "user", *, signer: nkeys.KeyPair | None = None) -> Path:
        """Write a .creds file for a new user of the account (signed by ``signer`` instead: a forged one)."""
        seed, _, user = keypair(nkeys.PREFIX_BYTE_USER)
        claims = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2}
        token = encode_jwt(signer or self._account, self.account, user, name, claims)
        path.write_text(
            f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{seed.decode()}\n------END USER NKEY SEED------\n"
        )
        path.chmod(0o600)
        return path
