"""Why agents died, kept in the deaths bucket for the tasks they held.

A task whose agent dies is redelivered, and a task that keeps killing its agents is given up on by the agent
that gets it once more than ``max_attempts`` times. That agent cannot see why the others died; the actuator
that reaped them can (the exit status, its own kills, the pool cgroup's OOM kill count). So for each agent
that did not exit cleanly it writes one entry, key: the agent's id, value: why it died, in words; the bucket
keeps entries a day. The giving-up agent reads the entry of the agent that ran the task last (the attempts
bucket names it) into the task's error.
"""

from __future__ import annotations

import re
import signal

import nats.errors
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from agentscaler.services.agent.limits import EXIT_HUNG
from agentscaler.services.agent.main import EXIT_CONFIG, EXIT_RECYCLED
from agentscaler.shared import subjects
from agentscaler.shared.bus.jetstream import bucket

from .processes import UNKNOWN_EXIT

log = structlog.get_logger()

OOM_FIX = "raise the pool's agent_memory_limit_mb, or lower its max_agents"
OOM_KILLED = f"killed by the kernel's OOM killer (its pool's cgroup ran out of memory: {OOM_FIX})"
DRAIN_DEADLINE = "it was still running at its pool's drain_timeout after being asked to stop"
"""Why the actuator kills an agent that does not finish draining in time."""

EXITS = {
    EXIT_CONFIG: "it could not start: a handler that cannot be loaded, or a bad setting",
    EXIT_RECYCLED: "a task hit its time or memory limit, and the agent left to be replaced",
    EXIT_HUNG: "its handler blocked the event loop past the task timeout and could not be interrupted",
}
"""What the agent's own exit statuses mean."""

_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


def death_reason(code: int, *, drained: bool = False, oom: bool = False, killed_for: str = "") -> str:
    """Why an agent that exited with ``code`` died, in words; "" for a clean exit (0, or the drain signal of
    a draining agent), which is not recorded. ``oom``: the pool cgroup's OOM kill count says the kernel killed
    it; ``killed_for``: why the actuator sent it SIGKILL, if it did."""
    if code == 0 or (drained and code == -signal.SIGTERM):
        return ""
    if oom:
        return OOM_KILLED
    if killed_for and code == -signal.SIGKILL:
        return f"killed by the actuator: {killed_for}"
    if code == UNKNOWN_EXIT:
        return "ended after its fork server died (its exit status is unknown)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"killed by signal {-code}"
        return f"killed by signal {-code} ({name})"
    meaning = EXITS.get(code)
    return f"exited with code {code}" + (f" ({meaning})" if meaning else "")


class DeathRecords:
    """The actuator's writes to the deaths bucket: one publish per agent death, not waited for (a reap pass
    with many deaths is not held up; the entry is read only when a task is given up on, long after)."""

    def __init__(self, nc: Client, opened: bool = True) -> None:
        self.nc = nc
        self.opened = opened

    @classmethod
    async def open(cls, nc: Client, js: JetStreamContext) -> DeathRecords:
        """Make sure the bucket exists (writes to a missing one are lost); without it, deaths go unrecorded."""
        try:
            await bucket(js, subjects.DEATHS_BUCKET)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("agent deaths are not recorded: tasks given up on will not say why", error=repr(exc))
            return cls(nc, opened=False)
        return cls(nc)

    async def record(self, agent_id: str, reason: str) -> None:
        if not (self.opened and reason and _KEY.match(agent_id)):
            return
        try:
            await self.nc.publish(f"$KV.{subjects.DEATHS_BUCKET}.{agent_id}", reason.encode())
        except nats.errors.Error as exc:
            log.warning("could not record why an agent died", agent=agent_id, error=repr(exc))
