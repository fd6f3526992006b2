"""Agent processes: started by exec or forked by the pool's fork server, signalled, and reaped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from typing import IO, Any

from agentscaler.shared.allowlist import refusal
from agentscaler.shared.bus.options import agent_connection_env, is_connection_variable
from agentscaler.shared.children import die_with_parent
from agentscaler.shared.messages.pools import PoolConfig

from .agentuser import agent_user
from .cgroups import PoolCgroup
from .settings import ActuatorSettings

UNKNOWN_EXIT = -1000
"""Exit status of an agent that ended after its fork server died (nobody could read its status)."""


@dataclass
class AgentProcess:
    agent_id: str
    pool: str
    pid: int
    started_at: float
    popen: subprocess.Popen[bytes] | None = None
    """Set for agents this process started by exec; forked agents learn their exit from the fork server."""
    returncode: int | None = None
    orphaned: bool = False
    """Its fork server died: its exit is found by polling the pid."""
    drain_deadline: float | None = None

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
        if self.popen is not None:
            return self.popen.poll()
        if self.returncode is None and self.orphaned:
            self.returncode = _poll_orphan(self.pid)
        return self.returncode

    def _signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def _poll_orphan(pid: int) -> int | None:
    """The exit status of a process that is not (or no longer) a child of a live fork server."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)  # reparented to us (we are a child subreaper)
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return UNKNOWN_EXIT
        return None
    return os.waitstatus_to_exitcode(status) if done else None


class NotAllowed(Exception):
    """The host does not allow the pool's handler or environment (the actuator's ``handlers`` and ``env_keys``)."""


def check_allowed(settings: ActuatorSettings, pool: PoolConfig) -> None:
    """Raise :class:`NotAllowed` unless this host lets ``pool``'s agents run: checked before any process that
    would import the pool's handler starts."""
    reason = refusal(settings.host, settings.handlers, settings.env_keys, pool)
    if reason:
        raise NotAllowed(reason)


def agent_environment(settings: ActuatorSettings, pool: PoolConfig, agent_id: str, traceparent: str) -> dict[str, str]:
    # The actuator's own credentials stay here: agents get theirs by file (agent_signer, agent_creds, ...).
    env = {k: v for k, v in os.environ.items() if not is_connection_variable(k)}
    env.update(pool.env)
    s = settings
    env.update(agent_connection_env(s, s.agent_creds, s.agent_nkey, s.agent_tls_cert, s.agent_tls_key))
    # With a signing key each agent has a user of its own, found by its id (``agentcreds.py``); never a pool's say.
    env["AGENTSCALER_AGENT_CREDS_DIR"] = s.agent_creds_dir if s.agent_signer else ""
    env.update(
        {
            "AGENTSCALER_AGENT_AGENT_ID": agent_id,
            "AGENTSCALER_AGENT_POOL": pool.name,
            "AGENTSCALER_AGENT_HOST": settings.host,
            "AGENTSCALER_AGENT_LOG_LEVEL": settings.log_level,
            "AGENTSCALER_AGENT_REPLICAS": str(settings.replicas),  # the attempts bucket, which the agents create
            "AGENTSCALER_AGENT_HANDLER": pool.handler,
            "AGENTSCALER_AGENT_ACK_WAIT": str(pool.ack_wait),
            "AGENTSCALER_AGENT_MAX_ATTEMPTS": str(pool.max_attempts),
            "AGENTSCALER_AGENT_HEARTBEAT_INTERVAL": str(pool.heartbeat_interval),
            "AGENTSCALER_AGENT_PULL_TIMEOUT": str(pool.pull_timeout),
            "AGENTSCALER_AGENT_PREFETCH": str(pool.prefetch),
            "AGENTSCALER_AGENT_TASK_TIMEOUT": str(pool.task_timeout),
            "AGENTSCALER_AGENT_MEMORY_LIMIT_MB": str(pool.agent_memory_limit_mb),
            "AGENTSCALER_AGENT_SPAWN_CONCURRENCY": str(settings.spawn_concurrency),
            "AGENTSCALER_AGENT_TRACEPARENT": traceparent,
        }
    )
    return env


def same_agents(settings: ActuatorSettings, a: PoolConfig, b: PoolConfig) -> bool:
    """Whether agents of pool configs ``a`` and ``b`` would run alike (the same environment)."""
    return agent_environment(settings, a, "", "") == agent_environment(settings, b, "", "")


def start_process(
    settings: ActuatorSettings,
    module: str,
    env: dict[str, str],
    *,
    pipes: bool = False,
    cgroup: PoolCgroup | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``python -m module`` that dies with this process, its output to the agent log, in ``cgroup``, as
    ``agent_user`` when set (the parent's :meth:`PoolCgroup.add` then does the move the child may not)."""
    preexec = die_with_parent()  # a crashed actuator leaves no orphans: they drain
    out: IO[bytes] | None = open(settings.agent_log, "ab") if settings.agent_log else None  # noqa: SIM115
    user = agent_user(settings.agent_user)  # its group only: none of the actuator's
    as_user: dict[str, Any] = {} if user is None else {"user": user.uid, "group": user.gid, "extra_groups": []}
    try:
        popen = subprocess.Popen(
            [settings.python, "-m", module],
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else out,
            stderr=out,
            preexec_fn=preexec if cgroup is None else cgroup.joining(preexec),
            close_fds=True,
            **as_user,
        )
    finally:
        if out is not None:
            out.close()
    if cgroup is not None:
        cgroup.add(popen.pid)
    return popen


def spawn_exec(
    settings: ActuatorSettings,
    pool: PoolConfig,
    agent_id: str,
    traceparent: str,
    now: float,
    cgroup: PoolCgroup | None = None,
) -> AgentProcess:
    """Start an agent as a fresh interpreter (for pools whose handler is not fork-safe)."""
    check_allowed(settings, pool)
    env = agent_environment(settings, pool, agent_id, traceparent)
    popen = start_process(settings, "agentscaler.services.agent", env, cgroup=cgroup)
    return AgentProcess(agent_id=agent_id, pool=pool.name, pid=popen.pid, started_at=now, popen=popen)
