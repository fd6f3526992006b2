"""Loading a pool's task handler from ``module:function``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[Any], Awaitable[Any]]


class HandlerError(ValueError):
    """The handler named in the pool's config cannot be used."""


def load_handler(spec: str) -> Handler:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerError(f"handler {spec!r} must be 'module:function', e.g. 'myagents.tasks:run'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError(f"cannot import handler module {module_name!r}: {exc}") from exc
    except Exception as exc:  # the module is user code: any error while importing it is a config error
        raise HandlerError(f"handler module {module_name!r} failed to import: {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise HandlerError(f"module {module_name!r} has no attribute {attr!r}")
    if not inspect.iscoroutinefunction(target):
        raise HandlerError(f"handler {spec!r} must be an async function (async def ...(payload))")
    origin = getattr(target, "__module__", None) or ""
    if origin != module_name and not origin.startswith(module_name + "."):
        # A host allows modules by name: a function one of them merely imports (asyncio's, say) is not allowed.
        raise HandlerError(
            f"handler {spec!r} is defined in module {origin!r}, not in {module_name!r}: name the module that defines it"
        )
    return target  # type: ignore[no-any-return]
