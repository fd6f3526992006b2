"""One default per setting: an agent's pool settings default to ``PoolConfig``'s and are set from the pool's
config by the actuator; the actuator and the fork server share one ``spawn_concurrency`` default."""

from __future__ import annotations

import msgspec

from agentscaler.services.actuator.processes import agent_environment
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.settings import DEFAULT_SPAWN_CONCURRENCY, AgentSettings
from agentscaler.shared.messages.commands import GetPool, Scale, SetMode
from agentscaler.shared.messages.optimize import Optimize
from agentscaler.shared.messages.pools import DEFAULT_POOL, POOL_DEFAULTS, PoolConfig
from agentscaler.shared.settings import load

POOL_SETTINGS = {
    "handler",
    "ack_wait",
    "max_attempts",
    "heartbeat_interval",
    "pull_timeout",
    "prefetch",
    "task_timeout",
}
"""The agent settings that are pool settings (``pool`` is the pool's ``name``)."""


def defaults(cls: type[msgspec.Struct]) -> dict[str, object]:
    return {f.name: f.default for f in msgspec.structs.fields(cls) if f.default is not msgspec.NODEFAULT}


def names(cls: type[msgspec.Struct]) -> set[str]:
    return {f.name for f in msgspec.structs.fields(cls)}


def test_the_agent_settings_that_are_pool_settings_are_known():
    assert names(AgentSettings) & names(PoolConfig) == POOL_SETTINGS


def test_an_agents_pool_settings_default_to_the_pools():
    agent, pool = defaults(AgentSettings), defaults(PoolConfig)
    assert {name: agent[name] for name in POOL_SETTINGS} == {name: pool[name] for name in POOL_SETTINGS}
    assert agent["pool"] == POOL_DEFAULTS.name == DEFAULT_POOL
    assert load(AgentSettings, "agent", env={}).heartbeat_interval == PoolConfig(name="p").heartbeat_interval


def test_the_actuator_gives_an_agent_every_pool_setting_of_its_pool():
    pool = PoolConfig(
        name="p",
        handler="m:f",
        ack_wait=7.0,
        max_attempts=5,
        heartbeat_interval=2.0,
        pull_timeout=3.0,
        prefetch=4,
        task_timeout=9.0,
        agent_memory_limit_mb=77,
    )
    assert all(getattr(pool, name) != getattr(POOL_DEFAULTS, name) for name in POOL_SETTINGS)  # each one checked
    env = agent_environment(ActuatorSettings(spawn_concurrency=9), pool, "p-1", "")
    agent = load(AgentSettings, "agent", env=env)
    for name in POOL_SETTINGS:
        assert getattr(agent, name) == getattr(pool, name), name
    assert (agent.pool, agent.agent_id, agent.spawn_concurrency) == ("p", "p-1", 9)
    assert agent.memory_limit_mb == pool.agent_memory_limit_mb


def test_spawn_concurrency_has_one_default():
    assert ActuatorSettings().spawn_concurrency == AgentSettings().spawn_concurrency == DEFAULT_SPAWN_CONCURRENCY


def test_commands_default_to_the_default_pool():
    assert Scale(direction="up", count=1).pool == DEFAULT_POOL
    assert GetPool().pool == SetMode(mode="manual").pool == Optimize().pool == DEFAULT_POOL
