"""An actuator that starts tells the registry which agents of its host are gone: those the registry still
lists there that this actuator did not start belong to its previous run, whose processes ended with it.
Without this word their records (kept in KV across restarts) would count as running until their heartbeats
time out, three heartbeat intervals later, misleading ``up --wait`` and the auto policy meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.bus.agents import list_agents
from agentscaler.shared.bus.events import publish
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import AgentRecord, Exited
from agentscaler.shared.messages.summaries import summed
from agentscaler.shared.supervisor import wait_or_stop

log = structlog.get_logger()

ASK_FOR = 60.0
"""Seconds an actuator keeps asking a registry that does not answer yet (it may be starting too)."""

ASK_EVERY = 0.5

FIRST_WORD = 2.0
"""Seconds a starting actuator waits for this word to reach the registry before it starts agents (it goes on
trying in the background if the registry is not there yet)."""

REASON = "an agent of the actuator's previous run on this host: its process ended with that run"


def leftovers(records: list[AgentRecord], pools: list[str], ours: Callable[[AgentRecord], bool]) -> list[AgentRecord]:
    """The records (of this host) of agents this actuator did not start, in the pools it runs (``pools``;
    empty for all)."""
    return [r for r in records if not ours(r) and (not pools or r.pool in pools)]


async def forget_previous_run(
    nc: Client,
    host: str,
    pools: list[str],
    ours: Callable[[AgentRecord], bool],
    now: Callable[[], float],
    stop: asyncio.Event,
) -> int:
    """Ask the registry for this host's agents (until it answers, for up to ``ASK_FOR`` seconds) and report
    those of a previous run gone. Returns how many."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ASK_FOR
    while True:
        try:
            listed = await list_agents(nc, host=host)
            break
        except AgentscalerError as exc:
            if loop.time() >= deadline:
                log.warning("registry did not answer; agents of a previous run time out instead", error=str(exc))
                return 0
        if await wait_or_stop(stop, ASK_EVERY):
            return 0
    gone = leftovers(listed, pools, ours)
    for record in gone:
        event = summed(
            Exited(
                agent_id=record.agent_id,
                pool=record.pool,
                host=host,
                pid=record.pid,
                code=0,
                drained=False,
                at=now(),
                reason=REASON,
            )
        )
        await publish(nc, subjects.agent_event_subject("exited"), event, traced=False)
    if gone:
        log.info("reported the agents of a previous run gone", count=len(gone), agents=[r.agent_id for r in gone][:10])
    return len(gone)
