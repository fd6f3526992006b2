"""NATS JWTs for operator mode, made with ``nkeys``: the operator, the accounts (one with a scoped signing key
whose users get their permissions from a template), users, and the ``.creds`` files that hold a user's JWT
and seed. The shapes are those of nats-io/jwt v2, checked against a real nats-server by the tests.

Pure but for the randomness of new keys: the caller writes the files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nkeys

UNLIMITED: dict[str, Any] = {"subs": -1, "data": -1, "payload": -1}
ACCOUNT_LIMITS: dict[str, Any] = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
"""An account without limits."""
JETSTREAM: dict[str, Any] = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
"""JetStream on, without limits (not for the system account, where the server refuses it)."""

_CREDS_JWT = re.compile(r"-----BEGIN NATS USER JWT-----\s*(\S+)\s*-+END NATS USER JWT-+")
_CREDS_SEED = re.compile(r"-----BEGIN USER NKEY SEED-----\s*(\S+)\s*-+END USER NKEY SEED-+")


@dataclass(frozen=True)
class Key:
    """An nkey: its seed (secret) and public key."""

    seed: bytes
    public: str

    @classmethod
    def new(cls, prefix: int) -> Key:
        seed = nkeys.encode_seed(os.urandom(32), prefix)
        return cls.of(seed)

    @classmethod
    def of(cls, seed: bytes) -> Key:
        pair = nkeys.from_seed(bytearray(seed.strip()))
        try:
            return cls(seed.strip(), pair.public_key.decode())
        finally:
            pair.wipe()

    def sign(self, data: bytes) -> bytes:
        pair = nkeys.from_seed(bytearray(self.seed))
        try:
            return bytes(pair.sign(data))
        finally:
            pair.wipe()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode(signer: Key, subject: str, name: str, nats: Mapping[str, Any], issued_at: int) -> str:
    """A JWT about ``subject`` (a public key) signed by ``signer``."""
    claims: dict[str, Any] = {"jti": "", "iat": issued_at, "iss": signer.public, "name": name, "sub": subject}
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims).encode()).digest()).decode().rstrip("=")
    claims["nats"] = dict(nats)
    head = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{payload}.{_b64(signer.sign(f'{head}.{payload}'.encode()))}"


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the server verifies them)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ValueError(f"not a JWT: {exc}") from None
    if not isinstance(claims, dict):
        raise ValueError("not a JWT: its claims are not an object")
    return claims


def operator_claims(system_account: str) -> dict[str, Any]:
    return {"type": "operator", "version": 2, "system_account": system_account}


def account_claims(scopes: Sequence[Mapping[str, Any]] = (), *, jetstream: bool = True) -> dict[str, Any]:
    """An account without limits; ``scopes``: its scoped signing keys (:func:`user_scope`)."""
    limits = {**ACCOUNT_LIMITS, **(JETSTREAM if jetstream else {})}
    claims: dict[str, Any] = {"type": "account", "version": 2, "limits": limits}
    if scopes:
        claims["signing_keys"] = list(scopes)
    return claims


def user_scope(key: str, role: str, permissions: Mapping[str, Any]) -> dict[str, Any]:
    """A scoped signing key: users it signs get ``permissions`` (template functions such as ``{{name()}}``,
    ``{{tag(pool)}}``, ``{{subject()}}`` filled in from the user's JWT) and nothing else."""
    return {"kind": "user_scope", "key": key, "role": role, "template": {**permissions, **UNLIMITED}}


def user_claims(
    issuer_account: str = "", permissions: Mapping[str, Any] | None = None, tags: Sequence[str] = ()
) -> dict[str, Any]:
    """A user. Signed by the account's own key it carries ``permissions``; signed by a scoped key it carries
    none (the server refuses a scoped user with permissions or limits of its own) and names its account."""
    claims: dict[str, Any] = {"type": "user", "version": 2}
    if permissions is not None:
        claims.update(permissions)
        claims.update(UNLIMITED)
    if issuer_account:
        claims["issuer_account"] = issuer_account
    if tags:
        claims["tags"] = list(tags)
    return claims


def creds(token: str, seed: bytes) -> str:
    """The ``.creds`` file text of a user: its JWT and its seed."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed.decode()}\n------END USER NKEY SEED------\n"
    )


def creds_jwt(text: str) -> str:
    """The user JWT in a ``.creds`` file's text."""
    found = _CREDS_JWT.search(text)
    if found is None:
        raise ValueError("no user JWT in the credentials file")
    return found.group(1)


def creds_seed(text: str) -> bytes:
    """The user seed in a ``.creds`` file's text."""
    found = _CREDS_SEED.search(text)
    if found is None:
        raise ValueError("no user seed in the credentials file")
    return found.group(1).encode()
