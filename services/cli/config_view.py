"""``agentscaler config``: every setting of every service, of ``run`` and of the client commands, with its
effective value (secrets masked), where that value came from and what it means."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from agentscaler.shared.bus.options import SECRET_FIELDS, redact_url, shown_value
from agentscaler.shared.settings import CommonSettings, describe, load_with_origins
from agentscaler.shared.validation_errors import range_text


class Setting(msgspec.Struct, frozen=True):
    """One setting as ``config`` shows it: ``value`` is masked (secrets as ``<set>``/``<unset>``, URLs without
    credentials); ``origin`` is ``default``, ``file PATH``, ``env VARIABLE`` or ``flag``."""

    name: str
    value: Any
    origin: str
    about: str


def sections(
    config_file: str | Path | None, env: Mapping[str, str] | None, cli_flags: Mapping[str, Any]
) -> dict[str, list[Setting]]:
    """Each section's settings: the services', ``run``'s, and ``cli`` (what client commands connect with,
    ``cli_flags`` being their connection flags; None for those not given)."""
    from . import launcher  # the services' settings classes: not loaded by the other client commands

    classes: dict[str, tuple[type[Any], Mapping[str, Any]]] = {
        name: (spec.settings, {}) for name, spec in launcher.SERVICES.items()
    }
    classes["run"] = (launcher.RunSettings, {})
    classes["cli"] = (CommonSettings, cli_flags)
    out = {}
    for section, (cls, flags) in classes.items():
        settings, origins = load_with_origins(cls, section, config_file=config_file, env=env, overrides=flags)
        ranges = _ranges(cls)
        out[section] = [
            Setting(name, _masked(name, getattr(settings, name)), origins[name], about + ranges.get(name, ""))
            for name, _, about in describe(cls)
        ]
    return out


def _ranges(cls: type[Any]) -> dict[str, str]:
    """Each numeric setting's accepted range, as shown after its meaning: `` (from 0 to 3600)``."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kinds = {f.name: f.type.type if isinstance(f.type, mi.Metadata) else f.type for f in info.fields}
    return {
        name: f" ({range_text(kind).strip()})"
        for name, kind in kinds.items()
        if isinstance(kind, mi.IntType | mi.FloatType) and range_text(kind)
    }


def _masked(field: str, value: Any) -> Any:
    if field in SECRET_FIELDS:
        return "<set>" if value else "<unset>"
    return redact_url(value) if field == "nats_url" else value


def render(found: dict[str, list[Setting]]) -> str:
    """The text view: ``name = value    # meaning``, the meaning led by ``[origin]`` when not the default."""
    lines = []
    for section, settings in found.items():
        lines.append(f"[{section}]")
        for s in settings:
            origin = "" if s.origin == "default" else f"[{s.origin}] "
            value = s.value if s.name in SECRET_FIELDS else shown_value(s.name, s.value)
            lines.append(f"  {s.name} = {value}    # {origin}{s.about}")
    return "\n".join(lines)


def as_json(found: dict[str, list[Setting]]) -> bytes:
    """The JSON view: ``{section: {name: {"value", "origin", "about"}}}``."""
    return msgspec.json.format(
        msgspec.json.encode(
            {
                section: {s.name: {"value": s.value, "origin": s.origin, "about": s.about} for s in settings}
                for section, settings in found.items()
            }
        )
    )
