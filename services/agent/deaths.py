"""Why a task's earlier agent died, for the error of a task an agent gives up on.

An actuator that reaps an agent which did not exit cleanly writes why in the deaths bucket (key: the agent's
id; e.g. killed by the kernel's OOM killer), and the attempts bucket names the agent that started a task last
(``attempts.py``). An agent that gives up on a task (it was delivered more than ``max_attempts`` times) reads
the one entry of that agent, so the task's result says what kept killing its agents. Only giving up costs
the read: a redelivery that runs the task reads nothing.
"""

from __future__ import annotations

import asyncio
import re

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from agentscaler.shared import subjects

log = structlog.get_logger()

WAIT = 2.0
"""Seconds to wait for the reason before giving up without it (the result is what matters)."""

_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
"""A KV key (an agent id that is not one cannot have an entry)."""


def gave_up(deliveries: int, agent: str = "", reason: str = "") -> str:
    """The error of a task given up on after ``deliveries``: with why ``agent``, the last to run it, died,
    where its actuator recorded that."""
    if not (agent and reason):
        return f"gave up after {deliveries} deliveries (agents died or timed out)"
    return f"gave up after {deliveries} deliveries: the agent that ran it last ({agent}) died: {reason}"


class Deaths:
    """The deaths bucket, read one key at a time; opened on first use, never created (its writers do that)."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._kv: KeyValue | None = None

    async def reason(self, agent_id: str) -> str:
        """Why ``agent_id`` died, as its actuator recorded it; "" when not recorded or not readable."""
        if not _KEY.match(agent_id):
            return ""
        try:
            return await asyncio.wait_for(self._read(agent_id), WAIT)
        except (BucketNotFoundError, KeyNotFoundError):
            return ""
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("could not read why the task's last agent died", agent=agent_id, error=repr(exc))
            return ""

    async def _read(self, agent_id: str) -> str:
        if self._kv is None:
            self._kv = await self._js.key_value(subjects.DEATHS_BUCKET)
        entry = await self._kv.get(agent_id)
        return (entry.value or b"").decode(errors="replace").strip()
