"""NATS CLI contexts: the ``nats`` tool's saved connections, read from its context files.

A context ``NAME`` is ``$XDG_CONFIG_HOME/nats/context/NAME.json`` (``~/.config/nats/context/NAME.json`` without
XDG_CONFIG_HOME). Its fields fill the connection settings that were not given: settings always win.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import msgspec

from ..settings import CommonSettings, SettingsError

S = TypeVar("S", bound=CommonSettings)

CONTEXT_FIELDS: dict[str, str] = {
    "url": "nats_url",
    "creds": "creds",
    "nkey": "nkey",
    "user": "user",
    "password": "password",
    "token": "token",
    "ca": "tls_ca",
    "cert": "tls_cert",
    "key": "tls_key",
}
"""A context file's field -> the setting it fills."""

_PATHS = frozenset({"creds", "nkey", "tls_ca", "tls_cert", "tls_key"})


def context_path(name: str, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if not name or "/" in name or name.startswith("."):
        raise SettingsError(f"invalid NATS context name {name!r}")
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "nats" / "context" / f"{name}.json"


def read_context(name: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection settings context ``name`` gives (setting name -> value; empty values left out)."""
    path = context_path(name, env)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"NATS context {name!r} not found: no file {path}") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read NATS context {name!r} ({path}): {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"NATS context {name!r} ({path}) is not a JSON object")
    out: dict[str, str] = {}
    for key, field in CONTEXT_FIELDS.items():
        value = data.get(key)
        if isinstance(value, str) and value:
            out[field] = os.path.expanduser(value) if field in _PATHS else value
    return out


def with_context(settings: S, env: Mapping[str, str] | None = None) -> S:
    """``settings`` with its context's values filling the connection settings left at their defaults."""
    if not settings.context:
        return settings
    defaults = type(settings)
    fields = {f.name: f.default for f in msgspec.structs.fields(defaults)}
    given = read_context(settings.context, env)
    changes = {k: v for k, v in given.items() if getattr(settings, k) == fields[k]}
    return msgspec.structs.replace(settings, **changes)
