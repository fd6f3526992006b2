"""The nats-server ``authorization`` block for the roles: one nkey user per role, its permissions from the table.

Pure text generation; ``agentscaler auth init`` writes it (``services/cli/auth.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .inbox import inbox_prefix_of
from .roles import INBOX, Role, roles


def _subjects(patterns: Sequence[str], user: str) -> list[str]:
    inbox = f"{inbox_prefix_of(user)}.>"
    return [inbox if p == INBOX else p for p in patterns]


def _direction(allow: Sequence[str], deny: Sequence[str], user: str) -> dict[str, list[str]]:
    out = {"allow": _subjects(allow, user)}
    if deny:
        out["deny"] = _subjects(deny, user)
    return out


def permissions(role: Role, user: str) -> dict[str, object]:
    """The server's ``permissions`` map of ``role`` for the user whose public key is ``user``."""
    perms: dict[str, object] = {
        "publish": _direction(role.publish, role.publish_deny, user),
        "subscribe": _direction(role.subscribe, role.subscribe_deny, user),
    }
    if role.responses:
        perms["allow_responses"] = True
    return perms


def authorization(users: Mapping[str, str], pools: Sequence[str] = ()) -> str:
    """The ``authorization { users = [...] }`` block: ``users`` maps each role to its user's public key.
    Anonymous clients are refused (the server requires one of these users)."""
    table = roles(pools)
    lines = ["authorization {", "  users = ["]
    for name, user in users.items():
        entry = {"nkey": user, "permissions": permissions(table[name], user)}
        lines.append(f"    # {name}: {table[name].summary}")
        lines.append(f"    {json.dumps(entry)}")
    lines += ["  ]", "}", ""]
    return "\n".join(lines)
