"""The registry's agents, read page by page (``agentscaler.registry.agents``): one reply holds at most
``AGENTS_PAGE`` of them, so a fleet of any size fits NATS's message limit."""

from __future__ import annotations

from nats.aio.client import Client

from .. import subjects
from ..messages.agents import AgentList, AgentRecord, AgentsQuery
from .rpc import request


async def list_agents(
    nc: Client, pool: str | None = None, host: str | None = None, *, timeout: float = 2.0, what: str = "registry"
) -> list[AgentRecord]:
    """Every agent of ``pool`` on ``host`` (None: any) the registry knows, by id (``request``'s errors when it
    does not answer). Pages are read one after another: agents that come or go meanwhile may be missed or
    seen once more, as in any one look at a changing table."""
    found: list[AgentRecord] = []
    after = ""
    while True:
        query = AgentsQuery(pool=pool, host=host, after=after)
        reply: AgentList = await request(nc, subjects.REGISTRY_QUERY, query, AgentList, timeout=timeout, what=what)
        found.extend(reply.agents)
        if not reply.next or reply.next <= after:
            return found
        after = reply.next
