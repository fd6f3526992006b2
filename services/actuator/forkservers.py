"""The actuator's side of a pool's fork server: start it, ask it for agents, hear of their exits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable

import structlog

from agentscaler.services.agent.forkserver.protocol import (
    ChildExited,
    ChildStarted,
    Ready,
    Spawn,
    decode_report,
    encode,
)
from agentscaler.shared.messages.pools import PoolConfig

from .cgroups import PoolCgroup
from .processes import agent_environment, check_allowed, start_process
from .settings import ActuatorSettings

log = structlog.get_logger()


class ForkServerGone(Exception):
    """The fork server exited or stopped answering."""


class ForkServerClient:
    """One running fork server for one pool configuration."""

    def __init__(
        self,
        settings: ActuatorSettings,
        pool: PoolConfig,
        on_exit: Callable[[str, int], None],
        cgroup: PoolCgroup | None = None,
    ) -> None:
        self.pool = pool
        self.on_exit = on_exit
        check_allowed(settings, pool)  # the server imports the handler: never one the host does not allow
        env = agent_environment(settings, pool, "", "")
        # In the pool's cgroup from its start: the agents it forks are born there.
        self.proc: subprocess.Popen[bytes] = start_process(
            settings, "agentscaler.services.agent.forkserver", env, pipes=True, cgroup=cgroup
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._out, False)
        self._buffer = b""
        self._ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self.children: set[str] = set()
        self.gone = False
        self.load_error = ""
        """Why the pool's handler could not be loaded, as the server reported when ready ("" if it loaded)."""
        asyncio.get_running_loop().add_reader(self._out, self._on_readable)

    async def ready(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    async def spawn_many(self, agent_ids: list[str], traceparent: str, timeout: float = 30.0) -> dict[str, int]:
        """Fork one agent per id, all requests in one write; returns each agent's pid."""
        if self.gone:
            raise ForkServerGone(f"the fork server of pool {self.pool.name!r} is gone")
        loop = asyncio.get_running_loop()
        futures = {agent_id: loop.create_future() for agent_id in agent_ids}
        self._waiting.update(futures)
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(
                b"".join(encode(Spawn(agent_id=a, traceparent=traceparent)) + b"\n" for a in agent_ids)
            )
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self._lost()
            raise ForkServerGone(f"the fork server of pool {self.pool.name!r} is gone: {exc}") from exc
        try:
            await asyncio.wait(futures.values(), timeout=timeout)
        finally:
            for agent_id in agent_ids:
                self._waiting.pop(agent_id, None)
        # Agents the server answered for are running, even if others failed: the caller must track them.
        return {a: f.result() for a, f in futures.items() if f.done() and not f.cancelled() and f.exception() is None}

    def retire(self) -> None:
        """No more spawns: it drains its agents and exits once its input closes."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()

    def _on_readable(self) -> None:
        try:
            data = os.read(self._out, 65536)
        except BlockingIOError:
            return
        if not data:
            self._lost()
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            report = decode_report(line)
            if isinstance(report, Ready):
                self.load_error = report.error
                if not self._ready.done():
                    self._ready.set_result(report.pid)
            elif isinstance(report, ChildStarted):
                self.children.add(report.agent_id)
                future = self._waiting.get(report.agent_id)
                if future is not None and not future.done():
                    future.set_result(report.pid)
            elif isinstance(report, ChildExited):
                self.children.discard(report.agent_id)
                self.on_exit(report.agent_id, report.code)

    def _lost(self) -> None:
        if self.gone:
            return
        self.gone = True
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._out)
        error = ForkServerGone(f"the fork server of pool {self.pool.name!r} exited")
        for future in [self._ready, *self._waiting.values()]:
            if not future.done():
                future.set_exception(error)
        self.proc.poll()
        log.warning("fork server gone", pool=self.pool.name, code=self.proc.returncode, agents=len(self.children))
