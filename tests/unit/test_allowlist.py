"""The hosts' allow-lists: which handlers and pool env keys a pattern admits, and how a refusal reads."""

from __future__ import annotations

import pytest

from agentscaler.services.actuator.processes import NotAllowed, check_allowed
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.handler import HandlerError, load_handler
from agentscaler.services.cli.render import render_status
from agentscaler.shared.allowlist import (
    EXAMPLE_ENV_KEYS,
    EXAMPLE_HANDLERS,
    env_refused,
    fleet_refusal,
    handler_allowed,
    host_matches,
    refusal,
)
from agentscaler.shared.messages.hosts import ActuatorInfo
from agentscaler.shared.messages.pools import DEFAULT_HANDLER, POOL_DEFAULTS, PoolConfig
from agentscaler.shared.settings import load
from tests.unit import builders as b


@pytest.mark.parametrize(
    ("patterns", "spec", "allowed"),
    [
        ([EXAMPLE_HANDLERS], DEFAULT_HANDLER, True),
        ([EXAMPLE_HANDLERS], "asyncio:create_subprocess_shell", False),
        ([EXAMPLE_HANDLERS], "agentscaler.services.agent.main:serve", False),
        ([EXAMPLE_HANDLERS], "agentscaler.services.agent.examples:x", False),  # the package itself is not under it
        (["myagents.*"], "myagents.tasks:run", True),
        (["myagents.*"], "myagents.a.b:run", True),
        (["myagents.*"], "myagentsevil.tasks:run", False),
        (["myagents.*"], "MyAgents.tasks:run", False),
        (["myagents.tasks"], "myagents.tasks:run", True),
        (["myagents.tasks"], "myagents.tasks2:run", False),
        (["myagents.tasks:run"], "myagents.tasks:run", True),
        (["myagents.tasks:run"], "myagents.tasks:other", False),
        (["*"], "anything:at_all", True),
        ([], DEFAULT_HANDLER, False),
    ],
)
def test_handler_patterns(patterns: list[str], spec: str, allowed: bool) -> None:
    assert handler_allowed(patterns, spec) is allowed


def test_env_keys_the_patterns_do_not_cover_are_listed() -> None:
    env = {"AGENTSCALER_SIM_LATENCY": "fixed:1", "BROWSER": "x", "LD_PRELOAD": "y"}
    assert env_refused([EXAMPLE_ENV_KEYS], env) == ["BROWSER", "LD_PRELOAD"]
    assert env_refused([EXAMPLE_ENV_KEYS, "*"], env) == []


def test_a_refusal_names_the_setting_the_host_and_what_it_allows() -> None:
    shell = PoolConfig(name="p", handler="asyncio:create_subprocess_shell")
    assert refusal("h1", [EXAMPLE_HANDLERS], [], shell) == (
        "handler 'asyncio:create_subprocess_shell' is not allowed by the `handlers` setting of the actuator on "
        "host 'h1' (allowed: agentscaler.services.agent.examples.*); the host's operator adds it there"
    )
    browser = PoolConfig(name="p", env={"BROWSER": "x"})
    assert "env 'BROWSER' not allowed by the `env_keys` setting of the actuator on host 'h1' (allowed: nothing)" in (
        refusal("h1", [EXAMPLE_HANDLERS], [], browser)
    )
    assert refusal("h1", [EXAMPLE_HANDLERS], [EXAMPLE_ENV_KEYS], POOL_DEFAULTS) == ""


def info(host: str, handlers: list[str], at: float = 1000.0, pools: list[str] | None = None) -> ActuatorInfo:
    return ActuatorInfo(host=host, handlers=handlers, env_keys=[], pools=pools or [], at=at, interval=10.0)


def test_the_fleet_refuses_only_what_no_live_actuator_running_the_pool_allows() -> None:
    mine = PoolConfig(name="mine", handler="myagents.tasks:run")
    examples = info("h1", [EXAMPLE_HANDLERS])
    assert fleet_refusal([], mine, now=1000.0) == ""  # nothing known: nothing to check against
    assert fleet_refusal([examples], mine, now=1000.0).startswith("no actuator would run pool 'mine': handler")
    assert fleet_refusal([examples, info("h2", ["myagents.*"])], mine, now=1000.0) == ""
    assert fleet_refusal([examples, info("h2", ["myagents.*"], at=900.0)], mine, now=1000.0) != ""  # h2 is gone
    assert fleet_refusal([examples, info("h2", ["myagents.*"], pools=["other"])], mine, now=1000.0) != ""
    assert fleet_refusal([info("h1", [EXAMPLE_HANDLERS], at=0.0)], mine, now=1000.0) == ""  # only a gone one


def test_settings_default_to_the_examples_and_read_comma_separated_lists() -> None:
    default = load(ActuatorSettings, "actuator", env={})
    assert (default.handlers, default.env_keys) == ([EXAMPLE_HANDLERS], [EXAMPLE_ENV_KEYS])
    env = {"AGENTSCALER_ACTUATOR_HANDLERS": "myagents.*, other.mod:run", "AGENTSCALER_ACTUATOR_ENV_KEYS": "MY_*"}
    loaded = load(ActuatorSettings, "actuator", env=env)
    assert (loaded.handlers, loaded.env_keys) == (["myagents.*", "other.mod:run"], ["MY_*"])


def test_no_process_is_started_for_a_refused_pool() -> None:
    with pytest.raises(NotAllowed, match="`handlers` setting"):
        check_allowed(ActuatorSettings(host="h1"), PoolConfig(name="p", handler="asyncio:create_subprocess_shell"))
    check_allowed(ActuatorSettings(host="h1"), POOL_DEFAULTS)


def test_a_function_an_allowed_module_only_imports_is_not_a_handler() -> None:
    with pytest.raises(HandlerError, match=r"is defined in module 'asyncio\.subprocess', not in 'agentscaler\.servi"):
        load_handler("agentscaler.services.agent.examples.llm:asyncio.create_subprocess_shell")


def test_status_prints_each_problem() -> None:
    problem = "handler 'asyncio:x' is not allowed by the `handlers` setting of the actuator on host 'h1'"
    text = render_status(b.snapshot(pools=[b.pool_snapshot(problems=[problem])]))
    assert f"  problem  {problem}" in text.splitlines()
    assert "problem" not in render_status(b.snapshot(pools=[b.pool_snapshot()]))


@pytest.mark.parametrize(
    ("patterns", "host", "labels", "matches"),
    [
        ([], "any", [], True),  # no limit: any host
        (["gpu-*"], "gpu-3", [], True),
        (["gpu-*"], "cpu-1", ["gpu"], False),
        (["gpu"], "cpu-1", ["gpu", "zone=eu"], True),  # a label the actuator announces
        (["zone=eu"], "h", ["zone=eu"], True),
        (["zone=us", "h?"], "h1", ["zone=eu"], True),  # any one pattern
        (["GPU-*"], "gpu-1", [], False),  # case matters
    ],
)
def test_a_pools_hosts_match_host_names_and_labels(
    patterns: list[str], host: str, labels: list[str], matches: bool
) -> None:
    info = ActuatorInfo(host=host, handlers=[], env_keys=[], labels=labels, at=0.0)
    assert host_matches(info, patterns) is matches


def test_a_host_is_lost_after_its_own_lost_after_or_three_intervals() -> None:
    announced = ActuatorInfo(host="h", handlers=[], env_keys=[], at=100.0, interval=2.0, lost_after=10.0)
    assert announced.live(110.0) and not announced.live(110.1)
    older = ActuatorInfo(host="h", handlers=[], env_keys=[], at=100.0, interval=10.0)
    assert older.live(130.0) and not older.live(130.1)
