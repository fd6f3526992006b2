"""The pool's durable consumer follows the pool's settings."""

from __future__ import annotations

import pytest

from agentscaler.shared.bus.jetstream import AGENT_CAPACITY, consumer_config
from agentscaler.shared.messages.pools import PoolConfig


@pytest.mark.parametrize(
    ("max_agents", "prefetch", "max_ack_pending"),
    [
        (100, 1, AGENT_CAPACITY),  # the floor: far above what a pool of one-task agents holds
        (500, 8, AGENT_CAPACITY),
        (500, 16, 16_000),
        (500, 64, 64_000),  # twice every agent's prefetch fits, or the consumer trickles tasks out one by one
        (0, 64, AGENT_CAPACITY),
    ],
)
def test_max_ack_pending_leaves_room_for_every_agents_prefetch(max_agents, prefetch, max_ack_pending):
    config = consumer_config(PoolConfig(name="p", max_agents=max_agents, prefetch=prefetch, ack_wait=12.0))
    assert (config.max_ack_pending, config.max_waiting, config.ack_wait) == (max_ack_pending, AGENT_CAPACITY, 12.0)
