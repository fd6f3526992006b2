"""Decoding at the edge: typed messages, clear errors, tolerant of fields added by newer senders."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.shared.codec import BadMessage, decode, decoder, encode
from agentscaler.shared.messages.agents import AgentEvent, Heartbeat, Lost, Spawned
from agentscaler.shared.messages.commands import (
    Command,
    CommandReply,
    Error,
    GetPool,
    ListPools,
    PoolInfo,
    Scale,
    Scaled,
    SetPool,
)
from agentscaler.shared.messages.pools import DEFAULT_HANDLER, DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.subjects import NAME_PATTERN

from . import builders as b
from .builders import PROPERTY


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


HB = {"agent_id": "a1", "pool": "p", "host": "h", "pid": 7, "state": "ready"}
POOL = b'{"type": "set_pool", "config": '


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "data", "needles"),
    [
        (Heartbeat, "Heartbeat", b"not json", ["malformed JSON for Heartbeat"]),
        (Heartbeat, "Heartbeat", b'{"agent_id": "a1"', ["malformed JSON for Heartbeat"]),
        (Heartbeat, "Heartbeat", b"", ["malformed JSON for Heartbeat"]),
        (Heartbeat, "Heartbeat", raw([HB]), ["invalid Heartbeat: the body must be an object (got [{"]),
        (
            Heartbeat,
            "Heartbeat",
            raw({**HB, "pid": "seven"}),
            ["invalid Heartbeat", "`pid` must be an integer", '(got "seven")'],
        ),
        (
            Heartbeat,
            "Heartbeat",
            raw({**HB, "state": "sleeping"}),
            ["invalid Heartbeat", "`state` must be one of ", '(got "sleeping")'],
        ),
        (Heartbeat, "Heartbeat", raw({"agent_id": "a1"}), ["invalid Heartbeat", "` is required ("]),
        (TaskResult, "TaskResult", raw({"id": "t", "pool": "p", "status": "maybe"}), ["invalid TaskResult"]),
        (Snapshot, "Snapshot", raw({"at": 1.0, "host": {}, "pools": []}), ["invalid Snapshot", "`host."]),
        (Command, "Command", b"{", ["malformed JSON for Command"]),
    ],
)
def test_bad_messages_name_the_type_and_the_problem(kind, name, data, needles):
    with pytest.raises(BadMessage) as info:
        decode(kind, data)
    assert name in str(info.value) and name not in info.value.problem and "messages." not in str(info.value)
    for needle in needles:
        assert needle in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no msgspec traceback chained


@pytest.mark.parametrize(
    ("kind", "data", "problem"),
    [
        (AgentEvent, b'{"type": "gone"}', 'unknown agent event type "gone": use one of spawned, exited, registered,'),
        (Command, POOL + b'{"name": null, "ack_wait": NaN}}', "`config.name` must be text (got null)"),
        (Command, POOL + b'{"name": "x", "env": {"A=B": "1"}}}', "the keys of `config.env` must be text"),
        (Command, POOL + b'{"name": "x", "env": {"A": 1}}}', "`config.env[...]` must be text of at most"),
        (Heartbeat, raw({**HB, "agent_id": "a b"}),
         '`agent_id` must be text of 1-200 characters: letters, digits, _ or - (got "a b")'),
        (Heartbeat, raw({**HB, "pid": "x" * 100}), '`pid` must be an integer above 0 and at most 2147483647 (got "x'),
        (Scale, raw({"type": "scal", "direction": "up", "count": 1}), '`type` must be "scale" (got "scal")'),
    ],
)  # fmt: skip
def test_problems_are_worded_in_the_message_terms(kind, data, problem):
    with pytest.raises(BadMessage) as info:
        decode(kind, data)
    assert info.value.problem.startswith(problem) and str(info.value).endswith(info.value.problem)
    assert len(info.value.problem) < 200  # a long wrong value is cut short


def test_bad_message_is_a_value_error():
    assert issubclass(BadMessage, ValueError)


def test_one_decoder_per_type():
    assert decoder(Heartbeat) is decoder(Heartbeat)
    assert decoder(Command) is decoder(Command)
    assert decoder(Heartbeat) is not decoder(Command)


def test_unknown_fields_are_ignored():
    hb = decode(Heartbeat, raw({**HB, "added_in_v2": {"x": 1}, "completed": 3}))
    assert hb == Heartbeat(agent_id="a1", pool="p", host="h", pid=7, state="ready", completed=3)


# --- the Command union ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "scale", "direction": "up", "count": 3}, Scale(direction="up", count=3)),
        ({"type": "scale", "pool": "b", "direction": "down", "count": 0}, Scale(pool="b", direction="down", count=0)),
        ({"type": "set_pool", "config": {"name": "x"}}, SetPool(config=PoolConfig(name="x"))),
        (
            {"type": "set_pool", "config": {"name": "x", "max_agents": 4, "env": {"A": "1"}}},
            SetPool(config=PoolConfig(name="x", max_agents=4, env={"A": "1"})),
        ),
        ({"type": "get_pool"}, GetPool()),
        ({"type": "get_pool", "pool": "b"}, GetPool(pool="b")),
        ({"type": "list_pools"}, ListPools()),
        ({"type": "list_pools", "from_the_future": True}, ListPools()),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else "",
)
def test_command_variants_decode_by_type(data, expected):
    assert decode(Command, raw(data)) == expected


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"type": "explode"}, 'unknown command type "explode": use one of scale, set_pool, get_pool, list_pools,'),
        ({"type": 5}, "unknown command type 5: use one of scale, set_pool,"),
        ({"direction": "up", "count": 3}, "`type` is required: use one of scale, set_pool, get_pool,"),
        ({"type": "scale", "direction": "up", "count": -1}, "`count` must be an integer from 0 to 1000000 (got -1)"),
        ({"type": "scale", "direction": "up", "count": 1_000_001}, "`count` must be an integer from 0 to 1000000"),
        ({"type": "scale", "direction": "up", "count": 2.5}, "`count` must be an integer from 0 to 1000000 (got 2.5)"),
        ({"type": "scale", "direction": "up", "count": "3"}, '`count` must be an integer from 0 to 1000000 (got "3")'),
        (
            {"type": "scale", "direction": "sideways", "count": 1},
            '`direction` must be one of down, up (got "sideways")',
        ),
        ({"type": "scale", "count": 1}, "`direction` is required (one of down, up)"),
        (
            {"type": "set_pool", "config": {"name": "x", "max_agents": -1}},
            "`config.max_agents` must be an integer from 0",
        ),
        (
            {"type": "set_pool", "config": {"name": "x", "ack_wait": 0}},
            "`config.ack_wait` must be a number from 1 to 86400 (got 0)",
        ),
        ({"type": "set_pool", "config": {"name": "x", "max_attempts": 0}}, "`config.max_attempts` must be an integer"),
        ({"type": "set_pool", "config": {"name": "x", "hosts": [7]}}, "`config.hosts[0]` must be text of 1-128 char"),
        ({"type": "set_pool", "config": {}}, "`config.name` is required (text"),
        ({"type": "host", "host": "", "action": "cordon"}, '`host` must be text of 1-64 characters (got "")'),
        ([1], "the body must be an object (got [1])"),
    ],
)
def test_command_rejects(data, needle):
    with pytest.raises(BadMessage, match=r"^invalid Command: ") as info:
        decode(Command, raw(data))
    assert needle in str(info.value) and needle in info.value.problem


def test_scale_encodes_its_tag():
    assert json.loads(encode(Scale(pool="b", direction="up", count=3))) == {
        "type": "scale",
        "pool": "b",
        "direction": "up",
        "count": 3,
    }


@pytest.mark.parametrize(
    "reply",
    [
        Scaled(pool="p", previous=1, desired=3, note="n"),
        PoolInfo(config=b.pool_config(), state=b.desired_state(desired=2)),
        Error(code="refused", message="no"),
    ],
    ids=lambda r: type(r).__name__,
)
def test_command_replies_round_trip(reply):
    assert decode(CommandReply, encode(reply)) == reply


@pytest.mark.parametrize(
    "event",
    [Spawned(agent_id="a", pool="p", host="h", pid=1, at=2.0), Lost(agent=b.record("a"), reason="gone")],
    ids=lambda e: type(e).__name__,
)
def test_agent_events_round_trip(event):
    assert decode(AgentEvent, encode(event)) == event


def test_pool_config_defaults():
    config = decode(PoolConfig, b'{"name": "x"}')
    assert (config.handler, config.max_agents, config.max_attempts, config.env) == (DEFAULT_HANDLER, 100, 3, {})
    assert decode(DesiredState, b'{"pool": "x", "desired": 2}').mode == "manual"


# --- round trips ----------------------------------------------------------------------------------------

TEXT = st.text(max_size=20)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


@PROPERTY
@given(
    st.builds(
        Scale,
        pool=TEXT,
        direction=st.sampled_from(["up", "down"]),
        count=st.integers(0, 1_000_000),
    )
)
def test_scale_round_trips(cmd):
    assert decode(Command, encode(cmd)) == cmd
    assert decode(Scale, encode(cmd)) == cmd


@PROPERTY
@given(
    st.builds(
        Heartbeat,  # every heartbeat in the documented ranges (tests/unit/test_bounds.py: the others are refused)
        agent_id=st.from_regex(r"[A-Za-z0-9_-]{1,200}", fullmatch=True),
        pool=st.from_regex(NAME_PATTERN, fullmatch=True),
        host=st.from_regex(NAME_PATTERN, fullmatch=True),
        pid=st.integers(1, 2**31 - 1),
        state=st.sampled_from(["starting", "ready", "busy", "draining"]),
        completed=st.integers(0, 2**40),
        failed=st.integers(0, 2**40),
        busy_since=st.floats(0, 1e10),
        sent_at=st.floats(0, 1e10),
    )
)
def test_heartbeat_round_trips(hb):
    assert decode(Heartbeat, encode(hb)) == hb
    assert msgspec.json.decode(encode(hb))["agent_id"] == hb.agent_id
