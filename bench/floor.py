"""Floor benchmark: what the runtime itself costs per forked NATS worker, with nothing of agentscaler in it.

A parent with the fork server's imports preloaded (``gc.freeze()`` as the fork server does) forks N children,
at most ``--window`` starting at a time (the fork server's pacing). Each child is the least a NATS worker can
be: ``asyncio.run``, a nats-py connection, one subscription and a flush, a ready report over a pipe, then idle
until SIGTERM. An agentscaler agent does all of this and more (logging, tracing, registering, a pull request,
heartbeats), so its start time, CPU and memory can approach these figures but not go below them.

    python bench/floor.py --children 1000

It prints 0 -> N ready (s), CPU per child from fork to ready (ms), USS per idle child (MiB) and N -> 0 (s),
with the same figures for the agents of ``bench/spawn.py`` when given (``--agents-up-s``, ``--agents-uss``)
as ratios to this floor.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import select
import signal
import struct
import tempfile
import time
from pathlib import Path

import nats
import psutil
from harness import cpu_seconds

# What the fork server preloads, so the children share the same heap.
import agentscaler.services.agent.forkserver.server  # noqa: F401
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.numbers import MIB

_PID = struct.Struct("=i")


async def _worker(url: str, ready_w: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    nc = await nats.connect(url, allow_reconnect=False)

    async def on_msg(_msg: object) -> None:
        pass

    await nc.subscribe(nc.new_inbox(), cb=on_msg)
    await nc.flush()
    os.write(ready_w, _PID.pack(os.getpid()))
    await stop.wait()
    await nc.close()


def _child(url: str, ready_w: int) -> None:
    code = 1
    try:
        asyncio.run(_worker(url, ready_w))
        code = 0
    finally:
        os._exit(code)


def measure_floor(url: str, n: int, window: int, server_pid: int) -> dict[str, float]:
    """Fork ``n`` minimal workers against ``url`` and measure them; every child is gone when this returns."""
    ready_r, ready_w = os.pipe()
    gc.collect()
    gc.freeze()
    children: list[int] = []
    ready: set[int] = set()
    server_before = cpu_seconds([server_pid])
    start = time.monotonic()
    buffer = b""
    while len(ready) < n:
        while len(children) < n and len(children) - len(ready) < window:
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                _child(url, ready_w)
            children.append(pid)
        if select.select([ready_r], [], [], 1.0)[0]:
            buffer += os.read(ready_r, _PID.size * 1024)
        usable = len(buffer) - len(buffer) % _PID.size
        ready.update(pid for (pid,) in _PID.iter_unpack(buffer[:usable]))
        buffer = buffer[usable:]
        if time.monotonic() - start > max(120, n * 0.5):
            raise TimeoutError(f"{len(ready)} of {n} workers ready")
    up_s = time.monotonic() - start
    cpu = cpu_seconds(children)
    server_cpu = cpu_seconds([server_pid]) - server_before
    sample = random.sample(children, min(n, 100))
    uss = [psutil.Process(pid).memory_full_info().uss for pid in sample]
    start = time.monotonic()
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    clean = sum(1 for pid in children if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0)
    down_s = time.monotonic() - start
    os.close(ready_r)
    os.close(ready_w)
    gc.unfreeze()
    return {
        "children": n,
        "up_s": up_s,
        "cpu_ms": cpu / n * 1000,
        "server_cpu_s": server_cpu,
        "uss_mb": sum(uss) / len(uss) / MIB,
        "down_s": down_s,
        "exited_0": clean,
    }


def report(floor: dict[str, float], agents_up_s: float | None, agents_uss: float | None) -> None:
    n = int(floor["children"])
    print(f"floor: {n} bare nats-py workers forked from a preloaded parent")
    print(f"  0 -> {n} ready: {floor['up_s']:.2f} s (nats-server CPU meanwhile {floor['server_cpu_s']:.2f} s)")
    print(f"  CPU per worker, fork to ready: {floor['cpu_ms']:.2f} ms")
    print(f"  USS per idle worker: {floor['uss_mb']:.2f} MiB")
    print(f"  {n} -> 0: {floor['down_s']:.2f} s, {floor['exited_0']:.0f} exited 0")
    if agents_up_s is not None:
        print(f"  agents 0 -> {n} ready / floor: {agents_up_s / floor['up_s']:.2f}x")
    if agents_uss is not None:
        print(f"  agent USS / floor: {agents_uss / floor['uss_mb']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=1000, help="workers to fork")
    parser.add_argument("--window", type=int, default=100, help="workers starting at once (spawn_concurrency)")
    parser.add_argument("--agents-up-s", type=float, help="0 -> N agents of bench/spawn.py, for the ratio")
    parser.add_argument("--agents-uss", type=float, help="USS per agent of bench/spawn.py, for the ratio")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agentscaler-floor-"))
    server = EmbeddedServer(work / "nats", port=free_port())
    server.start()
    try:
        assert server.proc is not None
        floor = measure_floor(server.url, args.children, args.window, server.proc.pid)
    finally:
        server.stop()
    report(floor, args.agents_up_s, args.agents_uss)


if __name__ == "__main__":
    main()
