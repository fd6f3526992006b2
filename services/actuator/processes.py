"""Starting, signalling and reaping agent processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass

from agentscaler.shared.children import die_with_parent
from agentscaler.shared.messages.pools import PoolConfig

from .settings import ActuatorSettings


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
            preexec_fn=die_with_parent(),  # a crashed actuator leaves no orphans: they drain
            close_fds=True,
        )
    finally:
        if out is not None:
            out.close()
    return AgentProcess(agent_id=agent_id, pool=pool.name, popen=popen, started_at=now)
