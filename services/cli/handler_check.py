"""``pool set`` reports a handler the hosts cannot load: the actuators that run the pool try each new handler
(a probe imports it as an agent would) and publish the verdict in the ``agentscaler-hosts`` bucket; this waits
for them, briefly."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from agentscaler.shared.allowlist import runs_pool
from agentscaler.shared.bus.hosts import actuators
from agentscaler.shared.messages.pools import PoolConfig

POLL = 0.2


@dataclass
class Verdict:
    problems: dict[str, str] = field(default_factory=dict)
    """Host -> why it cannot run the pool (its handler does not load there, or the host refuses it)."""
    unchecked: list[str] = field(default_factory=list)
    """Live hosts running the pool that had not tried its handler in time."""


async def handler_verdict(js: JetStreamContext, config: PoolConfig, wait: float) -> Verdict:
    """What the live actuators that run ``config``'s pool found of its handler, waiting up to ``wait`` seconds
    for each to have tried it. No actuator running: nothing to report."""
    deadline = time.monotonic() + wait
    while True:
        now = time.time()
        hosts = [info for info in await actuators(js) if info.live(now) and runs_pool(info, config.name)]
        unchecked = sorted(i.host for i in hosts if i.checked.get(config.name) != config.handler)
        if not unchecked or time.monotonic() >= deadline:
            problems = {
                i.host: i.problems[config.name] for i in hosts if config.name in i.problems and i.host not in unchecked
            }
            return Verdict(problems, unchecked)
        await asyncio.sleep(POLL)
