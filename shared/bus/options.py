"""How to reach NATS: the ``nats.connect`` options built from the connection settings (servers, credentials,
TLS, a NATS CLI context), and the redaction that keeps their secrets out of everything shown."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..auth.actor import NoActor, actor_from, creds_user
from ..auth.inbox import inbox_prefix, inbox_prefix_of
from ..settings import CommonSettings, SettingsError
from .context import with_context

CONNECTION_FIELDS = (
    "nats_url",
    "creds",
    "nkey",
    "user",
    "password",
    "token",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "context",
)
"""The settings that say how to connect; every service, the CLI and the agents have them."""

SECRET_FIELDS = frozenset({"password", "token"})
"""Settings whose value is a secret: shown only as set or unset."""

_FILES = {
    "creds": "credentials file",
    "nkey": "nkey seed file",
    "tls_ca": "TLS CA file",
    "tls_cert": "TLS certificate",
    "tls_key": "TLS key",
}

Target = CommonSettings | str
"""What to connect to: the connection settings, or a bare server URL list (no credentials but those in it)."""


def as_settings(target: Target) -> CommonSettings:
    return CommonSettings(nats_url=target) if isinstance(target, str) else target


def server_list(url: str) -> list[str]:
    """The URLs of a comma-separated server list."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise SettingsError("nats_url names no server")
    return servers


def redact_url(url: str) -> str:
    """``url`` (one URL or a comma-separated list) without any ``user:password@`` part."""
    return ",".join(_redact_one(part.strip()) for part in url.split(",") if part.strip())


def _redact_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{path}"


def shown(target: Target) -> str:
    """The servers of ``target`` as they may be printed or logged (no credentials)."""
    return redact_url(as_settings(target).nats_url)


def shown_value(field: str, value: Any) -> str:
    """A setting's value as ``agentscaler config`` may print it: secrets as set/unset, URLs redacted."""
    if field in SECRET_FIELDS:
        return "<set>" if value else "<unset>"
    if field == "nats_url" and isinstance(value, str):
        return repr(redact_url(value))
    return repr(value)


def secrets_of(target: Target) -> list[str]:
    """The secret strings ``target`` holds (password, token, and those in its URLs), to scrub from text."""
    settings = as_settings(target)
    found = [settings.password, settings.token]
    for url in server_list(settings.nats_url) if settings.nats_url.strip() else []:
        authority = url.partition("://")[2].partition("/")[0] if "://" in url else url.partition("/")[0]
        if "@" in authority:
            found.extend(authority.rsplit("@", 1)[0].split(":", 1))
    return [s for s in found if len(s) >= 3]


def scrub(text: str, target: Target) -> str:
    """``text`` (an error message, say) with the secrets of ``target`` and URL credentials masked."""
    for secret in sorted(secrets_of(target), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def connect_kwargs(settings: CommonSettings, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments of ``nats.connect`` that say where and how to connect: ``servers``, credentials
    (creds file, nkey seed file, user and password, token) and a TLS context. A context's values fill the
    settings not given. Files are checked here: a missing one is a :class:`SettingsError` naming the setting."""
    s = with_context(settings, env)
    for field, what in _FILES.items():
        path = getattr(s, field)
        if path and not os.access(path, os.R_OK):
            raise SettingsError(f"{what} {path!r} (setting {field}) is missing or unreadable")
    kwargs: dict[str, Any] = {"servers": server_list(s.nats_url)}
    if s.creds:
        kwargs["user_credentials"] = s.creds
        kwargs["inbox_prefix"] = creds_inbox(s.creds)  # the only replies the server lets this user read
    if s.nkey:
        kwargs["nkeys_seed"] = s.nkey
        kwargs["inbox_prefix"] = nkey_inbox(s.nkey)  # the only replies the server lets this user read
    if s.user:
        kwargs["user"] = s.user
    if s.password:
        kwargs["password"] = s.password
    if s.token:
        kwargs["token"] = s.token
    tls = tls_context(s, kwargs["servers"])
    if tls is not None:
        kwargs["tls"] = tls
    return kwargs


def actor_of(settings: CommonSettings, env: Mapping[str, str] | None = None) -> str:
    """Who a client with these settings sends commands as (``shared/auth/actor.py``): its nkey's or JWT's public
    key, else its user name; empty when it has none (commands then go on the bare subjects)."""
    s = with_context(settings, env)
    try:
        return actor_from(nkey=s.nkey, creds=s.creds, user=s.user)
    except (OSError, NoActor) as exc:
        raise SettingsError(f"cannot tell the user from the credentials (creds, nkey): {exc}") from None
    except Exception as exc:  # nkeys raises its own errors for a bad seed
        raise SettingsError(f"nkey seed file {s.nkey!r} (setting nkey) holds no valid user seed: {exc}") from None


def creds_inbox(creds_file: str) -> str:
    """The reply inbox prefix of the user in a ``.creds`` file (``_INBOX.<its JWT's public key>``)."""
    try:
        return inbox_prefix_of(creds_user(Path(creds_file).read_text()))
    except (OSError, NoActor) as exc:
        raise SettingsError(f"credentials file {creds_file!r} (setting creds) cannot be read: {exc}") from None


def nkey_inbox(seed_file: str) -> str:
    """The reply inbox prefix of the nkey user in ``seed_file`` (``_INBOX.<public key>``)."""
    try:
        return inbox_prefix(seed_file)
    except Exception as exc:  # nkeys raises its own errors, and ValueError/binascii ones, for a bad seed
        raise SettingsError(f"nkey seed file {seed_file!r} (setting nkey) holds no valid user seed: {exc}") from None


def tls_context(s: CommonSettings, servers: list[str]) -> ssl.SSLContext | None:
    """A client TLS context when TLS is asked for (a CA, a client certificate, or a ``tls://`` server)."""
    if not (s.tls_ca or s.tls_cert or s.tls_key or any(url.startswith("tls://") for url in servers)):
        return None
    if s.tls_key and not s.tls_cert:
        raise SettingsError("tls_key is set without tls_cert")
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=s.tls_ca or None)
        if s.tls_cert:
            ctx.load_cert_chain(s.tls_cert, s.tls_key or None)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"cannot load the TLS files (tls_ca, tls_cert, tls_key): {exc.strerror or exc}") from None
    return ctx


def agent_connection_env(
    settings: CommonSettings, agent_creds: str, agent_nkey: str, agent_tls_cert: str = "", agent_tls_key: str = ""
) -> dict[str, str]:
    """The connection settings an agent gets (``AGENTSCALER_AGENT_*``): the servers without credentials, the CA,
    and its own credential and TLS client certificate files (paths, never contents). Every other credential is
    set empty so that nothing inherited (an environment variable or a config file) gives an agent the service's
    identity: not even its TLS client certificate."""
    s = with_context(settings)
    values = {
        "nats_url": redact_url(s.nats_url),
        "creds": agent_creds,
        "nkey": agent_nkey,
        "user": "",
        "password": "",
        "token": "",
        "tls_ca": s.tls_ca,
        "tls_cert": agent_tls_cert,
        "tls_key": agent_tls_key,
        "context": "",
    }
    return {f"AGENTSCALER_AGENT_{name.upper()}": value for name, value in values.items()}


def is_connection_variable(name: str) -> bool:
    """Whether environment variable ``name`` sets a connection setting of some service (``AGENTSCALER_CREDS``,
    ``AGENTSCALER_ACTUATOR_PASSWORD``, ...): such variables are not handed down to agents."""
    if not name.startswith("AGENTSCALER_"):
        return False
    return any(name.endswith(f"_{field.upper()}") for field in CONNECTION_FIELDS)
