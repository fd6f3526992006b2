"""``agentscaler pool set`` has a flag for every ``PoolConfig`` field, helped by the field's own docstring."""

from __future__ import annotations

import argparse

import msgspec
import msgspec.inspect
import pytest

from agentscaler.services.cli.main import parser
from agentscaler.services.cli.pool_flags import NOT_FLAGS, _options, flag, flag_fields
from agentscaler.shared.messages.fielddocs import field_docs
from agentscaler.shared.messages.pools import POOL_DEFAULTS, AutoConfig, PoolConfig

FIELDS = [f.name for f in msgspec.structs.fields(PoolConfig)]

TODAYS_FLAGS = [
    "--handler",
    "--max-agents",
    "--ack-wait",
    "--max-attempts",
    "--drain-timeout",
    "--agent-memory-mb",
    "--agent-memory-limit-mb",
    "--agent-pids-limit",
    "--heartbeat-interval",
    "--pull-timeout",
    "--prefetch",
    "--cost-per-agent-hour",
    "--cost-per-task",
    "--env",
    "--spawn",
]
"""The flags ``pool set`` had when they were written by hand: scripts use them, so they stay."""


def pool_set() -> argparse.ArgumentParser:
    [sub] = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    [pool_sub] = [a for a in sub.choices["pool"]._actions if isinstance(a, argparse._SubParsersAction)]
    return pool_sub.choices["set"]


def actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in pool_set()._actions}


def parse(*argv: str) -> argparse.Namespace:
    return parser().parse_args(["pool", "set", "x", *argv])


def test_every_field_has_a_flag_or_a_reason_not_to():
    assert set(NOT_FLAGS) <= set(FIELDS)
    assert all(reason.strip() for reason in NOT_FLAGS.values())
    assert flag_fields() == [name for name in FIELDS if name not in NOT_FLAGS]
    have = actions()
    for name in flag_fields():
        assert name in have, f"PoolConfig.{name} has no `pool set` flag"
        assert have[name].option_strings == [flag(name)]


def test_the_flags_written_by_hand_are_all_still_there():
    options = {option for a in pool_set()._actions for option in a.option_strings}
    assert set(TODAYS_FLAGS) <= options


@pytest.mark.parametrize("name", [n for n in FIELDS if n not in NOT_FLAGS])
def test_a_flags_help_is_its_fields_docstring_and_default(name):
    doc = field_docs(PoolConfig)[name]
    assert doc.strip(), f"PoolConfig.{name} has no docstring"
    default = getattr(POOL_DEFAULTS, name)
    expected = doc if isinstance(default, dict | list) else f"{doc} (default: {default})"
    assert actions()[name].help == expected.replace("%", "%%")
    assert actions()[name].default is None  # not given: the pool's current value stays


def test_parsing_every_flag():
    args = parse(
        "--handler", "m:f", "--max-agents", "4", "--ack-wait", "3", "--max-attempts", "2", "--drain-timeout", "30",
        "--task-timeout", "600", "--agent-memory-mb", "40", "--agent-memory-limit-mb", "0", "--agent-pids-limit", "8",
        "--heartbeat-interval", "0.5", "--pull-timeout", "1", "--prefetch", "16", "--env", "A=1", "--env", "B=2",
        "--cost-per-agent-hour", "0.12", "--cost-per-task", "0", "--spawn", "exec", "--placement", "pack",
        "--hosts", "gpu-*, zone=eu",
    )  # fmt: skip
    assert {name: getattr(args, name) for name in flag_fields()} == {
        "handler": "m:f",
        "max_agents": 4,
        "ack_wait": 3.0,
        "max_attempts": 2,
        "drain_timeout": 30.0,
        "task_timeout": 600.0,
        "agent_memory_mb": 40.0,
        "agent_memory_limit_mb": 0,
        "agent_pids_limit": 8,
        "heartbeat_interval": 0.5,
        "pull_timeout": 1.0,
        "prefetch": 16,
        "env": ["A=1", "B=2"],
        "cost_per_agent_hour": 0.12,
        "cost_per_task": 0.0,
        "spawn": "exec",
        "placement": "pack",
        "hosts": ["gpu-*", "zone=eu"],
    }


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--drain-timeout", "0"], "give a positive number"),
        (["--cost-per-task", "-1"], "0 or more"),
        (["--prefetch", "-1"], "bad number '-1'"),
        (["--spawn", "clone"], "invalid choice: 'clone'"),
    ],
)
def test_a_flags_type_follows_its_field(argv, needle, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert needle in capsys.readouterr().err


def test_a_field_of_a_type_without_a_flag_mapping_is_refused():
    with pytest.raises(TypeError, match="NOT_FLAGS"):
        _options("auto", msgspec.inspect.type_info(AutoConfig), AutoConfig)


def test_field_docs_read_the_docstrings_under_the_fields():
    docs = field_docs(PoolConfig)
    assert docs["max_agents"] == "The most agents this pool may run."
    assert docs["prefetch"].startswith("Tasks an agent takes from the queue at once. 1 (the default)")
    assert "name" not in docs  # written without one
