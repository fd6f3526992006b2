"""Limits a handler cannot escape: a deadline for each task and a memory cap for the agent.

The deadline is kept twice. On the event loop: the handler runs as its own asyncio task, and one not done by
the deadline is cancelled and left behind (a handler that swallows the cancellation changes nothing). For a
handler that blocks the event loop (``time.sleep`` or a busy loop in an ``async def``), nothing on the loop
can run, so a ``SIGALRM`` timer set ``BLOCKED_GRACE`` seconds past the deadline raises :class:`TaskTimedOut`
inside the handler's own code. If the handler catches that too and is still running at the next alarm, the
process ends (exit status ``EXIT_HUNG``): the task is then redelivered, and fails after ``max_attempts``.

Memory: ``RLIMIT_DATA`` caps the agent's heap and anonymous mappings, so an allocation past the limit fails
with ``MemoryError`` in the handler (the task then fails "out of memory") instead of the kernel killing the
process (or a neighbour) later.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
import threading
from collections.abc import Coroutine, Generator
from types import FrameType
from typing import Any

from agentscaler.shared.numbers import MIB

from .handler import Handler

BLOCKED_GRACE = 2.0
"""Seconds past its deadline a handler that blocks the event loop is interrupted by a signal."""

START_HEADROOM_MB = 32
"""MiB of data size an agent needs beyond what it has when its limit is set, to connect and start work."""

EXIT_HUNG = 4
"""Exit status of an agent whose handler blocked the event loop and would not be interrupted."""


class TaskTimedOut(BaseException):
    """The task's handler ran past its deadline. A ``BaseException``, so a handler's ``except Exception``
    does not swallow it when it is raised inside the handler's code."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g} s")


def memory_error(limit_mb: int) -> str:
    """The failed task's error for a handler that ran out of memory."""
    return f"out of memory (limit {limit_mb} MiB)" if limit_mb else "out of memory"


def limit_memory(limit_mb: int) -> str:
    """Cap this process's data size (heap and private writable mappings) at ``limit_mb`` MiB; 0 for no cap.
    Returns why not ("" once done) when the agent already uses nearly that much: it could not even start."""
    if not limit_mb:
        return ""
    used = data_size() // MIB
    if limit_mb < used + START_HEADROOM_MB:
        return (
            f"agent_memory_limit_mb {limit_mb} is too low: an agent's data size is {used} MiB before it starts "
            f"work; raise it to at least {used + START_HEADROOM_MB} (or 0 for no limit) with `agentscaler pool set`"
        )
    size = limit_mb * MIB
    resource.setrlimit(resource.RLIMIT_DATA, (size, size))
    return ""


def data_size() -> int:
    """This process's data size in bytes (``VmData``: what ``RLIMIT_DATA`` counts)."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    return 0


class Deadlines:
    """Runs an agent's handlers one at a time, each under a deadline (one per agent: it owns ``SIGALRM``)."""

    def __init__(self) -> None:
        self._watched: _Watched | None = None
        self._timeout = 0.0
        self._raised = False
        self._alarms = threading.current_thread() is threading.main_thread()
        """Signals can be handled only in the main thread (an agent's loop runs there)."""
        if self._alarms:
            signal.signal(signal.SIGALRM, self._on_alarm)

    async def run(self, handler: Handler, payload: Any, timeout: float) -> Any:
        """The handler's answer to ``payload``; raises :class:`TaskTimedOut` when it runs past ``timeout``
        seconds, whether it awaits forever, ignores cancellation or blocks the event loop."""
        loop = asyncio.get_running_loop()
        watched = _Watched(handler(payload))  # type: ignore[arg-type]
        task = loop.create_task(watched)
        waiter = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        task.add_done_callback(wake)
        timer = loop.call_later(timeout, wake)
        self._arm(watched, timeout)
        try:
            await waiter
        finally:
            self._disarm()
            timer.cancel()
            task.remove_done_callback(wake)
        if not task.done():
            task.cancel()  # not awaited: a handler that will not stop is left behind (the agent is replaced)
            task.add_done_callback(_retrieve)
            raise TaskTimedOut(timeout)
        return task.result()

    def _arm(self, watched: _Watched, timeout: float) -> None:
        """``SIGALRM`` at ``timeout + BLOCKED_GRACE``, then every ``BLOCKED_GRACE``, until disarmed."""
        self._watched, self._timeout, self._raised = watched, timeout, False
        if self._alarms:
            signal.setitimer(signal.ITIMER_REAL, timeout + BLOCKED_GRACE, BLOCKED_GRACE)

    def _disarm(self) -> None:
        self._watched = None
        if self._alarms:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, _signum: int, _frame: FrameType | None) -> None:
        """An alarm that finds the handler's code running raises :class:`TaskTimedOut` there (the loop is
        blocked by it); the next one that still does ends the process. One that finds the loop free does
        nothing: the loop keeps the deadline itself."""
        if self._watched is None or not self._watched.active:
            return
        if self._raised:
            print(
                f"agent: the task handler ran {self._timeout:g} s past its deadline and will not stop; exiting",
                file=sys.stderr,
                flush=True,
            )
            os._exit(EXIT_HUNG)
        self._raised = True
        raise TaskTimedOut(self._timeout)


class _Watched(Coroutine[Any, Any, Any]):
    """A coroutine wrapper that knows when the handler's own code is running (the alarm raises only there)."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        self.active = False

    def send(self, value: Any) -> Any:
        self.active = True
        try:
            return self._coro.send(value)
        finally:
            self.active = False

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self.active = True
        try:
            return self._coro.throw(typ, val, tb) if val is not None or tb is not None else self._coro.throw(typ)
        finally:
            self.active = False

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Consume a left-behind handler's outcome, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
