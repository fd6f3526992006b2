"""What code and environment a host lets pools run: matching a pool against an actuator's allow-lists.

Pure functions, used by the actuator (which never runs a pool they refuse) and the policy (which refuses
such a pool at ``pool set`` when it knows the live actuators' lists), so both word a refusal alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from .messages.hosts import ActuatorInfo
from .messages.pools import PoolConfig

EXAMPLE_HANDLERS = "agentscaler.services.agent.examples.*"
"""The packaged example handlers: the only code an actuator runs unless its host allows more."""

EXAMPLE_ENV_KEYS = "AGENTSCALER_SIM_*"
"""The pool environment the packaged example handler reads (``AGENTSCALER_SIM_LATENCY``)."""


def handler_allowed(patterns: Iterable[str], spec: str) -> bool:
    """Whether ``spec`` (``module:function``) matches a pattern: ``pkg.*`` or ``pkg.mod`` (shell-style, on the
    module or on the whole spec) or ``pkg.mod:func`` (on the whole spec). Case matters, as in imports."""
    module = spec.partition(":")[0]
    return any(fnmatchcase(spec, p) or (":" not in p and fnmatchcase(module, p)) for p in patterns)


def env_refused(patterns: Iterable[str], env: Iterable[str]) -> list[str]:
    """The keys of ``env`` no pattern allows, sorted."""
    allowed = list(patterns)
    return sorted(key for key in env if not any(fnmatchcase(key, p) for p in allowed))


def refusal(host: str, handlers: list[str], env_keys: list[str], config: PoolConfig) -> str:
    """Why the actuator on ``host`` with these allow-lists does not run ``config``'s pool; "" if it does."""
    if not handler_allowed(handlers, config.handler):
        return (
            f"handler {config.handler!r} is not allowed by the `handlers` setting of the actuator on host "
            f"{host!r} (allowed: {_listed(handlers)}); the host's operator adds it there"
        )
    refused = env_refused(env_keys, config.env)
    if refused:
        keys = ", ".join(repr(k) for k in refused)
        return (
            f"env {keys} not allowed by the `env_keys` setting of the actuator on host {host!r} "
            f"(allowed: {_listed(env_keys)}); the host's operator adds it there"
        )
    return ""


def info_refusal(info: ActuatorInfo, config: PoolConfig) -> str:
    """``refusal`` for the actuator that published ``info``."""
    return refusal(info.host, info.handlers, info.env_keys, config)


def runs_pool(info: ActuatorInfo, pool: str) -> bool:
    """Whether the actuator of ``info`` runs pools named ``pool`` at all (its ``pools`` setting)."""
    return not info.pools or pool in info.pools


def host_matches(info: ActuatorInfo, patterns: Iterable[str]) -> bool:
    """Whether a pool limited to ``patterns`` (its ``hosts`` setting; empty: any host) may run on the host of
    ``info``: a pattern matches its name or one of the labels its actuator announces."""
    wanted = list(patterns)
    names = [info.host, *info.labels]
    return not wanted or any(fnmatchcase(name, p) for p in wanted for name in names)


def _listed(patterns: list[str]) -> str:
    return ", ".join(patterns) if patterns else "nothing"


def fleet_refusal(actuators: Iterable[ActuatorInfo], config: PoolConfig, now: float) -> str:
    """Why no live actuator that runs ``config``'s pool would start its agents; "" when one would, or when
    none is known (nothing to check against: each actuator still refuses it for itself)."""
    judged = [info for info in actuators if info.live(now) and runs_pool(info, config.name)]
    reasons = [info_refusal(info, config) for info in judged]
    if not judged or not all(reasons):
        return ""
    return f"no actuator would run pool {config.name!r}: " + "; ".join(reasons)
