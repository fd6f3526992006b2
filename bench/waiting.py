"""Waiting for a condition: the one polling loop of the tests (``tests/conftest.py``, ``tests/e2e/harness.py``)
and the benchmarks (``harness.py``). No project imports, so that it loads both from a benchmark run as a script
(``python bench/x.py`` puts this folder on the path: ``from waiting import eventually``) and under pytest (the
checkout is on the path: ``from bench.waiting import eventually``)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
    retry: tuple[type[BaseException], ...] = (Exception,),
    error: type[Exception] = AssertionError,
) -> T:
    """Call ``probe`` (plain or async) until it returns a truthy value (returned), every ``interval`` seconds;
    after ``timeout`` raise ``error`` saying what was last seen. An exception of a ``retry`` type counts as not
    yet (and is what was last seen); any other goes up at once."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except retry as exc:
            last = exc
        else:
            if value:
                return value  # type: ignore[return-value]
            last = value
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout:g}s waiting for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)
