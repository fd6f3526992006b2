"""Trying a pool's handler before its agents need it: when a pool's handler is new to this actuator (and the
host allows it), a probe process (``agentscaler.services.agent.probe``) imports it as an agent would, with the
agent's environment and user. What it finds is published with the host's problems, and marked as checked, so
that ``pool set`` can say at once that a handler is missing or broken, and status says so until it is fixed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from agentscaler.shared.children import die_with_parent
from agentscaler.shared.messages.pools import PoolConfig

from .agentuser import agent_user
from .processes import agent_environment
from .settings import ActuatorSettings

log = structlog.get_logger()

PROBE = "agentscaler.services.agent.probe"
PROBE_TIMEOUT = 60.0
"""Seconds a handler may take to import before the probe is killed and the handler reported as hanging."""
SHOWN = 2000
"""Characters of a probe's output kept as the error."""
AT_ONCE = 2
"""Probes running at once: an actuator that starts with many pools tries their handlers a few at a time."""


class HandlerProbes:
    """One probe at a time per pool; ``on_result(config, error)`` hears each outcome ("" when it loads)."""

    def __init__(self, settings: ActuatorSettings, on_result: Callable[[PoolConfig, str], None]) -> None:
        self.settings = settings
        self.on_result = on_result
        self.running: dict[str, asyncio.Task[None]] = {}

    def check(self, config: PoolConfig) -> None:
        """Start a probe of ``config``'s handler unless one for this pool runs already, or ``AT_ONCE`` do (the
        caller asks again on its next pass)."""
        if config.name not in self.running and len(self.running) < AT_ONCE:
            self.running[config.name] = asyncio.create_task(self._probe(config))

    async def _probe(self, config: PoolConfig) -> None:
        try:
            error = await self._run(config)
        except Exception as exc:  # a probe is an aid: agents still report a handler they cannot load
            log.warning("could not try the pool's handler", pool=config.name, error=repr(exc))
            return
        finally:
            self.running.pop(config.name, None)
        self.on_result(config, error)

    async def _run(self, config: PoolConfig) -> str:
        user = agent_user(self.settings.agent_user)
        as_user = {} if user is None else {"user": user.uid, "group": user.gid, "extra_groups": []}
        proc = await asyncio.create_subprocess_exec(
            self.settings.python,
            "-m",
            PROBE,
            env=agent_environment(self.settings, config, f"{config.name}-probe", ""),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            **as_user,  # type: ignore[arg-type]
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return f"importing handler {config.handler!r} took over {PROBE_TIMEOUT:g}s"
        if proc.returncode == 0:
            return ""
        text = out.decode("utf-8", "replace").strip()
        lines = [line for line in text.splitlines() if line.strip()]
        return (lines[-1] if lines else f"the handler probe exited with status {proc.returncode}")[:SHOWN]

    def cancel(self) -> None:
        for task in self.running.values():
            task.cancel()
