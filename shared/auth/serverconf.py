"""The nats-server configuration for the roles, in operator mode: an operator, the system account and one
account for agentscaler whose users are the roles (permissions from the table in ``roles.py``) and whose
scoped signing key lets an actuator sign each agent a user of its own, its permissions filled in from the
agent's name and pool.

Pure text and claims; ``agentscaler auth init`` makes the keys and writes the files (``services/cli/auth.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nkeys

from . import jwt
from .roles import AGENT, AGENT_ROLE, POOL, USER, Role, roles

AGENT_TAG = "pool"
"""The tag of an agent's user that names its pool (``pool:<name>``)."""
TEMPLATE = {USER: "{{subject()}}", POOL: f"{{{{tag({AGENT_TAG})}}}}", AGENT: "{{name()}}"}
"""What the placeholders of the agent role become in the scoped signing key's permission template."""


MAX_CONTROL_LINE = 16384
"""Bytes a client's CONNECT line may take: a service's user JWT, its permissions listed, is over 5 KiB."""


def _subjects(patterns: Sequence[str], values: Mapping[str, str]) -> list[str]:
    out = []
    for pattern in patterns:
        for placeholder, value in values.items():
            pattern = pattern.replace(placeholder, value)
        out.append(pattern)
    return out


def _direction(allow: Sequence[str], deny: Sequence[str], values: Mapping[str, str]) -> dict[str, list[str]]:
    out = {"allow": _subjects(allow, values)}
    if deny:
        out["deny"] = _subjects(deny, values)
    return out


def permissions(role: Role, values: Mapping[str, str]) -> dict[str, Any]:
    """A user JWT's permissions (``pub``, ``sub``, ``resp``) for ``role``, its placeholders filled by ``values``."""
    perms: dict[str, Any] = {
        "pub": _direction(role.publish, role.publish_deny, values),
        "sub": _direction(role.subscribe, role.subscribe_deny, values),
    }
    if role.responses:
        perms["resp"] = {"max": 1, "ttl": 0}  # one reply to each request received, as allow_responses
    return perms


def agent_tags(pool: str) -> list[str]:
    return [f"{AGENT_TAG}:{pool}"]


@dataclass
class Issued:
    """What ``auth init`` writes: the server configuration, each role's ``.creds`` text, the agents' signing
    key (for actuators) and each user's public key by role."""

    server_config: str
    creds: dict[str, str] = field(default_factory=dict)
    agent_signer: bytes = b""
    users: dict[str, str] = field(default_factory=dict)


def issue(now: int, pools: Sequence[str] = ()) -> Issued:
    """New keys for an operator, its system account and the agentscaler account, a user per role (all but the
    agents', whose users actuators sign with the scoped key), and the server configuration that trusts them."""
    table = roles(pools)
    operator = jwt.Key.new(nkeys.PREFIX_BYTE_OPERATOR)
    system = jwt.Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
    account = jwt.Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
    signer = jwt.Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
    scope = jwt.user_scope(signer.public, AGENT_ROLE, permissions(table[AGENT_ROLE], TEMPLATE))
    accounts = {
        account.public: jwt.encode(operator, account.public, "agentscaler", jwt.account_claims([scope]), now),
        system.public: jwt.encode(operator, system.public, "SYS", jwt.account_claims(jetstream=False), now),
    }
    issued = Issued(server_config=_config(operator, system.public, accounts, now), agent_signer=signer.seed)
    for name, role in table.items():
        if name == AGENT_ROLE:
            continue
        user = jwt.Key.new(nkeys.PREFIX_BYTE_USER)
        claims = jwt.user_claims(permissions=permissions(role, {USER: user.public}))
        issued.creds[name] = jwt.creds(jwt.encode(account, user.public, name, claims, now), user.seed)
        issued.users[name] = user.public
    return issued


def _config(operator: jwt.Key, system: str, accounts: Mapping[str, str], now: int) -> str:
    op_jwt = jwt.encode(operator, operator.public, "agentscaler", jwt.operator_claims(system), now)
    preload = "\n".join(f"  {key}: {token}" for key, token in accounts.items())
    return (
        "# agentscaler: operator mode, accounts preloaded (made by `agentscaler auth init`)\n"
        f"operator: {op_jwt}\n"
        f"system_account: {system}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n{preload}\n}}\n"
        f"# the services' JWTs carry their permissions: their CONNECT lines exceed the 4 KiB default\n"
        f"max_control_line: {MAX_CONTROL_LINE}\n"
    )


def sign_agent(signer: jwt.Key, account: str, agent_id: str, pool: str, now: int) -> str:
    """The ``.creds`` text of a new user for agent ``agent_id`` of ``pool``, signed by the agents' scoped key:
    the server gives it the agent role's permissions for that pool and id, nothing more."""
    user = jwt.Key.new(nkeys.PREFIX_BYTE_USER)
    claims = jwt.user_claims(issuer_account=account, tags=agent_tags(pool))
    return jwt.creds(jwt.encode(signer, user.public, agent_id, claims, now), user.seed)
