"""``agentscaler demo``: an embedded NATS server, all services, a scripted workload and a live status view."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.pools import DEFAULT_POOL, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot
from agentscaler.shared.supervisor import stop_on_signals, supervise, wait_or_stop
from agentscaler.shared.telemetry.logging import configure_logging

from . import launcher
from .client import Client, connected
from .render import CLEAR, render_status


class Script:
    """The demo's steps and what happened, shown above the live status."""

    def __init__(self, client: Client, speed: float) -> None:
        self.client = client
        self.speed = speed
        self.log: list[str] = []
        self.submitted: list[str] = []
        self.started = time.monotonic()
        self.last_submit = 0.0
        self.done = False

    def say(self, text: str) -> None:
        self.log.append(f"[{time.monotonic() - self.started:5.1f}s] {text}")

    async def pause(self, seconds: float, stop: asyncio.Event) -> bool:
        return await wait_or_stop(stop, seconds / self.speed)

    async def submit(self, n: int, prefix: str) -> None:
        ids = await self.client.submit(DEFAULT_POOL, [{"prompt": f"{prefix} {i}"} for i in range(n)])
        self.submitted.extend(ids)
        self.last_submit = time.time()
        self.say(f"submitted {n} tasks ({prefix})")

    async def scale(self, direction: str, n: int) -> None:
        reply = await self.client.scale(DEFAULT_POOL, direction, n)
        self.say(f"agentscaler {direction} {n}: desired {reply.desired} (was {reply.previous})")

    async def status(self, stop: asyncio.Event) -> Snapshot | None:
        """The default pool's status, or None once stopped. A monitor too busy to answer in time (agents
        starting on a small machine) is asked again rather than ending the demo."""
        while not stop.is_set():
            try:
                return await self.client.status(DEFAULT_POOL)
            except AgentscalerError as exc:
                self.say(f"status slow to answer ({exc}); asking again")
                await wait_or_stop(stop, 0.5)
        return None

    async def queue_empty(self, stop: asyncio.Event) -> None:
        """Wait for a snapshot taken after the last submission that shows no task waiting."""
        while (snap := await self.status(stop)) is not None:
            if snap.at > self.last_submit and snap.pools[0].queue.pending == 0:
                break
            await asyncio.sleep(0.5)
        if not stop.is_set():
            self.say("queue empty: every task has been picked up")

    async def run(self, stop: asyncio.Event) -> None:
        steps: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (0, lambda: self.scale("up", 4)),
            (0, lambda: self.submit(40, "warm-up")),
            (8, lambda: self.scale("up", 24)),
            (0, lambda: self.submit(300, "burst")),
            (5, lambda: self.scale("down", 10)),
            (0, lambda: self.queue_empty(stop)),
            (0, lambda: self.submit(30, "tail")),
            (0, lambda: self.queue_empty(stop)),
            (0, lambda: self.scale("down", 0)),
        ]
        for delay, step in steps:
            if await self.pause(delay, stop):
                return
            await step()
        while (snap := await self.status(stop)) is not None:
            p = snap.pools[0]
            a = p.agents
            if (
                p.tasks.completed + p.tasks.failed >= len(self.submitted)
                and a.ready + a.busy + a.starting + a.draining == 0
            ):
                self.say(
                    f"all {len(self.submitted)} tasks finished ({p.tasks.completed} ok, {p.tasks.failed} failed), "
                    "every agent drained: no task lost"
                )
                break
            await asyncio.sleep(0.5)
        self.done = True
        await self.pause(2, stop)
        stop.set()


async def _wait_for_policy(url: str, stop: asyncio.Event) -> None:
    """Wait until the policy answers (it creates the default pool on start)."""
    deadline = time.monotonic() + 30
    while not stop.is_set():
        try:
            async with connected(url) as probe:
                await probe.pool(DEFAULT_POOL)
            break
        except AgentscalerError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _demo(url: str, speed: float, data_dir: Path, as_json: bool = False) -> int:
    stop = asyncio.Event()
    stop_on_signals(stop)
    # The script's steps are seconds apart: compare the figures around each change over a matching span.
    os.environ.setdefault("AGENTSCALER_MONITOR_IMPACT_WINDOW", "4")
    os.environ.setdefault("AGENTSCALER_MONITOR_IMPACT_SETTLE", "1")
    roots = launcher.build_roots(list(launcher.SERVICES), url, None, stop, log_file=data_dir / "agentscaler.log")
    services = asyncio.create_task(supervise(roots, stop, grace=60))
    await _wait_for_policy(url, stop)
    async with connected(url) as client:
        await client.set_pool(
            PoolConfig(
                name=DEFAULT_POOL, max_agents=50, drain_timeout=30, env={"AGENTSCALER_SIM_LATENCY": "lognormal:0.4:0.5"}
            )
        )
        script = Script(client, speed)
        runner = asyncio.create_task(script.run(stop))
        tty = sys.stdout.isatty()
        shown = 0  # without a terminal every script line is printed once, not just the latest few
        while not stop.is_set():
            try:
                snap = await client.status()
            except AgentscalerError as exc:
                script.say(f"status unavailable: {exc}")
            else:
                if as_json:  # a line a frame: the snapshot and the script's lines since the last one
                    frame_json = {"status": msgspec.to_builtins(snap), "script": script.log[shown:]}
                    shown = len(script.log)
                    print(msgspec.json.encode(frame_json).decode(), flush=True)
                    await wait_or_stop(stop, 1.0)
                    continue
                frame = "\n".join(
                    [
                        "agentscaler demo  (Ctrl-C to stop; logs in " + str(data_dir) + ")",
                        "",
                        render_status(snap),
                        "",
                        *(script.log[-8:] if tty else script.log[shown:]),
                    ]
                )
                shown = len(script.log)
                print((CLEAR if tty else "\n") + frame, flush=True)
            await wait_or_stop(stop, 1.0 if tty else 3.0)
        await runner
    code = await services
    # The script's last lines may come after the last frame: a terminal shows the outcome, other output every
    # line not printed yet.
    if as_json:
        print(msgspec.json.encode({"script": script.log[shown:], "done": script.done}).decode())
    else:
        print("\n".join(script.log[-1:] if tty else script.log[shown:]))
    if not script.done:
        print("demo stopped early; every agent was drained", file=sys.stderr if as_json else sys.stdout)
        return 130 if code == 0 else 1
    return code


def main(data_dir: Path | None, speed: float, as_json: bool = False) -> int:
    temporary = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="agentscaler-demo-"))
    log = open(data_dir / "agentscaler.log", "a", buffering=1)  # noqa: SIM115
    configure_logging("agentscaler", stream=log)
    server = EmbeddedServer(data_dir, port=free_port())
    try:
        server.start()
        return asyncio.run(_demo(server.url, speed, data_dir, as_json))
    finally:
        server.stop()
        log.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
