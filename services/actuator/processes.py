"""Starting, signalling and reaping agent processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from agentscaler.shared.messages.pools import PoolConfig

from .settings import ActuatorSettings

_PR_SET_PDEATHSIG = 1


@dataclass
class AgentProcess:
    agent_id: str
    pool: str
    popen: subprocess.Popen[bytes]
    started_at: float
    drain_deadline: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def draining(self) -> bool:
        return self.drain_deadline is not None

    def drain(self, deadline: float) -> None:
        """Ask the agent to finish its task and exit (SIGTERM); it is killed at ``deadline``."""
        if self.drain_deadline is None:
            self.drain_deadline = deadline
            self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def poll(self) -> int | None:
        return self.popen.poll()

    def _signal(self, sig: signal.Signals) -> None:
        if self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)


def agent_environment(settings: ActuatorSettings, pool: PoolConfig, agent_id: str, traceparent: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(pool.env)
    env.update(
        {
            "AGENTSCALER_AGENT_AGENT_ID": agent_id,
            "AGENTSCALER_AGENT_POOL": pool.name,
            "AGENTSCALER_AGENT_HOST": settings.host,
            "AGENTSCALER_AGENT_NATS_URL": settings.nats_url,
            "AGENTSCALER_AGENT_LOG_LEVEL": settings.log_level,
            "AGENTSCALER_AGENT_HANDLER": pool.handler,
            "AGENTSCALER_AGENT_ACK_WAIT": str(pool.ack_wait),
            "AGENTSCALER_AGENT_MAX_ATTEMPTS": str(pool.max_attempts),
            "AGENTSCALER_AGENT_HEARTBEAT_INTERVAL": str(pool.heartbeat_interval),
            "AGENTSCALER_AGENT_PULL_TIMEOUT": str(pool.pull_timeout),
            "AGENTSCALER_AGENT_TRACEPARENT": traceparent,
        }
    )
    return env


def spawn(settings: ActuatorSettings, pool: PoolConfig, agent_id: str, traceparent: str, now: float) -> AgentProcess:
    out = open(settings.agent_log, "ab") if settings.agent_log else None  # noqa: SIM115 - closed below
    try:
        popen = subprocess.Popen(
            [settings.python, "-m", "agentscaler.services.agent"],
            env=agent_environment(settings, pool, agent_id, traceparent),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            preexec_fn=_die_with_parent(os.getpid()),
            close_fds=True,
        )
    finally:
        if out is not None:
            out.close()
    return AgentProcess(agent_id=agent_id, pool=pool.name, popen=popen, started_at=now)


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """In the child before exec: ask the kernel for SIGTERM (a drain) when the actuator dies, so a crashed
    actuator leaves no orphan agents behind; exit at once if it is already gone."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec
