"""Settings loading: one msgspec Struct per service, every field with a default and a one-line description.

Sources, later ones winning: the field defaults, a TOML file (``--config`` or ``AGENTSCALER_CONFIG``: top-level
keys for every service, a ``[<service>]`` table for one), environment variables (``AGENTSCALER_<FIELD>`` or
``AGENTSCALER_<SERVICE>_<FIELD>``; lists comma-separated), then command-line flags.
"""

from __future__ import annotations

import math
import os
import socket
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.inspect

S = TypeVar("S", bound="CommonSettings")

ENV_PREFIX = "AGENTSCALER_"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_METRICS_PORT = 9464
"""Prometheus' port of OpenTelemetry's Prometheus exporter."""


def default_host() -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())[:64] or "host"


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Fields every service has."""

    nats_url: Annotated[str, msgspec.Meta(description="NATS server URLs, comma-separated (tls:// turns TLS on)")] = (
        DEFAULT_NATS_URL
    )
    creds: Annotated[str, msgspec.Meta(description="path of a NATS .creds file (user JWT and nkey seed)")] = ""
    nkey: Annotated[
        str, msgspec.Meta(description="path of an nkey seed file (a user in the server's authorization)")
    ] = ""
    user: Annotated[str, msgspec.Meta(description="NATS user name (with password)")] = ""
    password: Annotated[str, msgspec.Meta(description="NATS password (never logged or shown)")] = ""
    token: Annotated[str, msgspec.Meta(description="NATS authentication token (never logged or shown)")] = ""
    tls_ca: Annotated[
        str, msgspec.Meta(description="path of the CA certificate that signed the server's certificate")
    ] = ""
    tls_cert: Annotated[str, msgspec.Meta(description="path of this client's TLS certificate")] = ""
    tls_key: Annotated[str, msgspec.Meta(description="path of this client's TLS private key")] = ""
    context: Annotated[
        str, msgspec.Meta(description="NATS CLI context name (~/.config/nats/context/NAME.json); settings given win")
    ] = ""
    host: Annotated[str, msgspec.Meta(description="name of this host in subjects and agent ids")] = msgspec.field(
        default_factory=default_host
    )
    log_level: Annotated[str, msgspec.Meta(description="debug, info, warning or error")] = "info"
    replicas: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=5,
            description="copies of each JetStream stream and KV bucket agentscaler creates: 3 on a NATS cluster "
            "(at most its servers), 1 on a single server",
        ),
    ] = 1
    metrics_port: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=65535,
            description="port of this process's Prometheus /metrics endpoint (all interfaces; 0: none)",
        ),
    ] = DEFAULT_METRICS_PORT


LeaseTtl = Annotated[
    float,
    msgspec.Meta(
        ge=1, le=300, description="seconds the leader's lease holds unrenewed; a standby takes over within this + 2"
    ),
]
"""The ``lease_ttl`` of the services that run as one leader and standbys (policy, registry): see
``shared/bus/lease.py``."""
DEFAULT_LEASE_TTL = 6.0


class SettingsError(ValueError):
    """Settings that do not validate; the message names the service and the field."""


def load(
    cls: type[S],
    section: str,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> S:
    """Build ``cls`` from defaults, the TOML file, the environment and ``overrides`` (None values skipped)."""
    return load_with_origins(cls, section, config_file=config_file, env=env, overrides=overrides)[0]


def load_with_origins(
    cls: type[S],
    section: str,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[S, dict[str, str]]:
    """:func:`load`, and where each field's value came from: ``default``, ``file PATH``, ``env VARIABLE`` or
    ``flag`` (for ``agentscaler config``)."""
    env = os.environ if env is None else env
    fields, lists = _field_names(cls)
    values: dict[str, Any] = {}
    origins = dict.fromkeys(sorted(fields), "default")
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        values.update(_from_file(Path(path), section, fields))
        origins.update(dict.fromkeys(values, f"file {path}"))
    for name in fields:
        for key in (f"{ENV_PREFIX}{section.upper()}_{name.upper()}", f"{ENV_PREFIX}{name.upper()}"):
            if key in env:
                raw = env[key]
                values[name] = [item.strip() for item in raw.split(",") if item.strip()] if name in lists else raw
                origins[name] = f"env {key}"
                break
    flags = {k: v for k, v in (overrides or {}).items() if v is not None and k in fields}
    values.update(flags)
    origins.update(dict.fromkeys(flags, "flag"))
    try:
        settings = msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid {section} settings: {exc}") from None
    for name in sorted(fields):  # "inf" and "nan" parse as floats, but no setting means them
        value = getattr(settings, name)
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"invalid {section} settings: {name} = {value}: give a finite number")
    return settings, origins


@cache
def _field_names(cls: type[msgspec.Struct]) -> tuple[frozenset[str], frozenset[str]]:
    """The field names of ``cls``, and those that are lists. Resolving the annotations compiles each one,
    so it is done once per class: a fork server does it before forking, not every agent."""
    fields = msgspec.structs.fields(cls)
    return frozenset(f.name for f in fields), frozenset(f.name for f in fields if _is_list(f.type))


def _is_list(kind: Any) -> bool:
    info = msgspec.inspect.type_info(kind)
    if isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    return isinstance(info, msgspec.inspect.ListType)


def _from_file(path: Path, section: str, fields: set[str]) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
    values = {k: v for k, v in data.items() if k in fields}
    table = data.get(section, {})
    if isinstance(table, dict):
        values.update({k: v for k, v in table.items() if k in fields})
    return values


def describe(cls: type[msgspec.Struct]) -> list[tuple[str, Any, str]]:
    """(name, default, description) of every field, for ``agentscaler config``."""
    out = []
    for field in msgspec.structs.fields(cls):
        default = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()  # type: ignore[misc]
        meta = getattr(field.type, "__metadata__", ())
        text = next((m.description for m in meta if isinstance(m, msgspec.Meta) and m.description), "")
        out.append((field.name, default, text))
    return out
