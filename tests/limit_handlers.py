"""Task handlers that misbehave, for the tests of the limits a handler cannot escape (run by real agents)."""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import resource
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


async def hang(payload: Any) -> None:
    """Await forever."""
    await asyncio.Event().wait()


async def stubborn(payload: Any) -> None:
    """Await forever, swallowing every cancellation."""
    while True:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)


async def block(payload: Any) -> None:
    """Block the event loop (a sync sleep in an async def), swallowing ordinary exceptions."""
    while True:
        with contextlib.suppress(Exception):
            time.sleep(3600)  # noqa: ASYNC251 - the misbehaviour under test


async def hog(payload: Any) -> None:
    """Allocate (and touch) 16 MiB at a time, without end."""
    chunks = []
    while True:
        chunks.append(bytearray(16 * MIB))
        await asyncio.sleep(0)


async def shared_hog(payload: Any) -> None:
    """Fill ever more shared memory, 16 MiB at a time: the data size limit does not count it, the pool's
    cgroup does."""
    maps = []
    while True:
        shared = mmap.mmap(-1, 16 * MIB)  # MAP_SHARED | MAP_ANONYMOUS
        shared.write(bytes(16 * MIB))
        maps.append(shared)
        await asyncio.sleep(0)


async def limits(payload: Any) -> dict[str, int]:
    """This agent's data size limit and its current data size, in MiB (-1: unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    status = Path("/proc/self/status").read_text()  # noqa: ASYNC240 - a tiny file in procfs
    data_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmData:"))
    return {"data_limit_mb": -1 if soft == resource.RLIM_INFINITY else soft // MIB, "data_mb": data_kb // 1024}
