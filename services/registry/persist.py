"""Write-behind persistence of the agent table: state changes are coalesced per agent and written to KV
in concurrent batches, off the path that answers agents. A burst of 1000 registrations then costs a few
round trips instead of 1000 sequential ones."""

from __future__ import annotations

import asyncio

import structlog
from nats.js.kv import KeyValue

from agentscaler.shared.codec import encode
from agentscaler.shared.messages.agents import AgentRecord

log = structlog.get_logger()

BATCH = 256
"""Writes in flight at once."""


class Persister:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.pending: dict[str, AgentRecord | None] = {}
        """Latest state per agent id not yet written; None means delete."""
        self._wake = asyncio.Event()

    def put(self, record: AgentRecord) -> None:
        self.pending[record.agent_id] = record
        self._wake.set()

    def delete(self, agent_id: str) -> None:
        self.pending[agent_id] = None
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Write changes as they come until ``stop``, then write what is left."""
        stopped = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({woken, stopped}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                await self.flush()
        finally:
            stopped.cancel()
            await self.flush()

    async def flush(self) -> None:
        self._wake.clear()
        while self.pending:
            batch = dict(list(self.pending.items())[:BATCH])
            for agent_id in batch:
                del self.pending[agent_id]
            results = await asyncio.gather(*(self._write(a, r) for a, r in batch.items()), return_exceptions=True)
            for (agent_id, record), result in zip(batch.items(), results, strict=True):
                if isinstance(result, Exception):
                    log.warning("agent record not persisted; will retry", agent=agent_id, error=repr(result))
                    self.pending.setdefault(agent_id, record)
            if any(isinstance(r, Exception) for r in results):  # NATS trouble: retry after a pause
                await asyncio.sleep(0.5)
                self._wake.set()
                return

    async def _write(self, agent_id: str, record: AgentRecord | None) -> None:
        if record is None:
            await self.kv.delete(agent_id)
        else:
            await self.kv.put(agent_id, encode(record))
