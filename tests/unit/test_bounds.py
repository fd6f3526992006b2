"""The range of every number and name a request carries: refused outside at decoding, naming the field; the
ranges admit what the tests and benchmarks use; the API reference's table is the code's; settings too."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.settings import AgentSettings
from agentscaler.services.cli.main import parser
from agentscaler.services.cli.pool_flags import flag_fields
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy.core.scaling import ScaleRefused, check_auto
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared.codec import BadMessage, decode, encode
from agentscaler.shared.messages.agents import Deregister, Heartbeat, Register
from agentscaler.shared.messages.bounds import into_range, out_of_range, request_bounds
from agentscaler.shared.messages.commands import Command, SetMode, SetPool
from agentscaler.shared.messages.optimize import Optimize
from agentscaler.shared.messages.pools import POOL_DEFAULTS, AutoConfig, PoolConfig
from agentscaler.shared.settings import SettingsError, load

from .builders import PROPERTY

DOCS = Path(__file__).parents[2] / "docs" / "nats-api.md"
REGISTER = {"agent_id": "p-h-ab12-1", "pool": "p", "host": "h", "pid": 42, "started_at": 1.7e9}


def refusal(kind: Any, body: dict[str, Any]) -> str:
    with pytest.raises(BadMessage) as err:
        decode(kind, msgspec.json.encode(body))
    return str(err.value)


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        (Command, {"type": "set_pool", "config": {"name": "p", "ack_wait": 1e300}}, "config.ack_wait"),
        (Command, {"type": "set_pool", "config": {"name": "p", "ack_wait": 1e-9}}, "config.ack_wait"),
        (Command, {"type": "set_pool", "config": {"name": "p", "max_agents": 10**18}}, "config.max_agents"),
        (Command, {"type": "set_pool", "config": {"name": "p", "heartbeat_interval": 1e-6}},
         "config.heartbeat_interval"),
        (Command, {"type": "set_pool", "config": {"name": "p", "env": {"A=B": "x"}}}, "config.env"),
        (Command, {"type": "set_pool", "config": {"name": "p", "env": {"A": "x\u0000y"}}}, "config.env[...]"),
        (Command, {"type": "set_mode", "mode": "auto", "auto": {"season": 1e400}}, "auto.season"),
        (Optimize, {"type": "optimize", "since": 1e300}, "since"),
        (Optimize, {"type": "optimize", "budget": -1}, "budget"),
        (Register, REGISTER | {"agent_id": "a.b.>"}, "agent_id"),
        (Register, REGISTER | {"pool": "*"}, "pool"),
        (Register, REGISTER | {"pid": -5}, "pid"),
        (Register, REGISTER | {"interval": 1e9}, "interval"),
        (Heartbeat, REGISTER | {"state": "ready", "sent_at": -1.0}, "sent_at"),
        (Deregister, {"agent_id": "a", "pool": "p", "completed": -1}, "completed"),
    ],
)  # fmt: skip
def test_out_of_range_is_refused_naming_the_field(kind: Any, body: dict[str, Any], field: str) -> None:
    assert f"`{field}`" in refusal(kind, body)


def _numbers(struct: type[msgspec.Struct]) -> list[tuple[str, mi.IntType | mi.FloatType]]:
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    out = []
    for field in info.fields:
        kinds = field.type.types if isinstance(field.type, mi.UnionType) else (field.type,)
        out += [(field.name, k) for k in kinds if isinstance(k, mi.IntType | mi.FloatType)]
    return out


POOL_NUMBERS = [(s, n, k) for s in (PoolConfig, AutoConfig) for n, k in _numbers(s)]
NUMBER_IDS = [f"{s.__name__}.{n}" for s, n, _ in POOL_NUMBERS]


@pytest.mark.parametrize(("struct", "name", "kind"), POOL_NUMBERS, ids=NUMBER_IDS)
def test_every_pool_number_is_bounded_both_ways_and_its_ends_are_accepted(
    struct: type[msgspec.Struct], name: str, kind: mi.IntType | mi.FloatType
) -> None:
    low, high = kind.ge if kind.ge is not None else kind.gt, kind.le if kind.le is not None else kind.lt
    assert low is not None and high is not None, f"{struct.__name__}.{name} needs a lower and an upper bound"
    base = {"name": "p"} if struct is PoolConfig else {}
    step = 1 if isinstance(kind, mi.IntType) else max(abs(high), 1) * 1e-6
    for value in (low, high):
        if (value == low and kind.ge is not None) or (value == high and kind.le is not None):
            msgspec.convert(base | {name: value}, struct)  # an end that is in range
    for value in (low - step, high + step) if isinstance(kind, mi.IntType) else (low - step, high * 2 + 1):
        with pytest.raises(msgspec.ValidationError, match=re.escape(f"`$.{name}`")):
            msgspec.convert(base | {name: value}, struct)


def test_the_defaults_are_in_range() -> None:
    assert decode(PoolConfig, encode(POOL_DEFAULTS)) == POOL_DEFAULTS
    assert decode(Optimize, encode(Optimize())) == Optimize()


@pytest.mark.parametrize(
    "argv",
    [
        ["--heartbeat-interval", "0.5", "--pull-timeout", "1", "--ack-wait", "3", "--drain-timeout", "30"],
        ["--max-agents", "200", "--max-attempts", "2", "--prefetch", "16", "--agent-memory-mb", "40"],
        ["--agent-memory-limit-mb", "0", "--agent-pids-limit", "8", "--cost-per-task", "0"],
    ],
)
def test_the_values_the_tests_and_benchmarks_use_are_accepted(argv: list[str]) -> None:
    args = vars(parser().parse_args(["pool", "set", "p", *argv]))
    values = {name: args[name] for name in flag_fields() if args.get(name) is not None}
    assert len(values) == len(argv) // 2
    msgspec.convert({"name": "p"} | values, PoolConfig)
    fast = {"target_wait": 0.05, "scale_down_window": 0.1, "flap_window": 0.6, "rate_smoothing": 0.15}
    msgspec.convert(fast | {"season": 864.0}, AutoConfig)  # bench/replay.py at --speed 100


@pytest.mark.parametrize(("low", "high", "ok"), [(5, 2, False), (2, 2, True), (5, None, True), (0, 0, True)])
def test_auto_min_above_max_is_refused_saying_what_to_do(low: int, high: int | None, ok: bool) -> None:
    auto = AutoConfig(min_agents=low, max_agents=high)
    if ok:
        check_auto("p", auto)
        return
    with pytest.raises(ScaleRefused) as err:
        check_auto("p", auto)
    assert err.value.code == "bad_request"
    assert "min_agents 5 is above max_agents 2" in err.value.message and "--min 2 --max 2" in err.value.message


def test_the_docs_table_is_the_codes() -> None:
    text = DOCS.read_text()
    start, end = text.index("<!-- bounds:begin -->\n"), text.index("<!-- bounds:end -->")
    assert text[start + len("<!-- bounds:begin -->\n") : end] == request_bounds(), (
        "docs/nats-api.md's ranges drifted from the messages: paste request_bounds()'s output between the markers"
    )


def test_the_docs_table_names_every_bounded_field() -> None:
    table = request_bounds()
    for struct in (PoolConfig, AutoConfig, Register, Heartbeat):
        for name, _ in _numbers(struct):
            assert f"| `{struct.__name__}` | `{name}` |" in table


SETTINGS = [
    (MonitorSettings, "monitor"),
    (PolicySettings, "policy"),
    (ActuatorSettings, "actuator"),
    (RegistrySettings, "registry"),
    (AgentSettings, "agent"),
]
ODD = st.one_of(
    st.sampled_from(["0", "-1", "inf", "-inf", "nan", "1e300", "1e-300", "", " ", "x", "1,2", "true", "\u00e9"]),
    st.text(max_size=12),
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(repr),
)


@PROPERTY
@given(data=st.data())
@pytest.mark.parametrize(("cls", "section"), SETTINGS, ids=[s for _, s in SETTINGS])
def test_any_settings_text_loads_or_gives_a_settings_error(cls: Any, section: str, data: st.DataObject) -> None:
    names = [f.name for f in msgspec.structs.fields(cls)]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    env = {f"AGENTSCALER_{section.upper()}_{n.upper()}": data.draw(ODD) for n in chosen}
    try:
        load(cls, section, env=env)
    except SettingsError as exc:
        assert str(exc).startswith(f"invalid {section} settings")


@pytest.mark.parametrize("value", ["0", "-2", "inf", "nan", "1e999"])
def test_a_bad_interval_names_the_service_and_the_field(value: str) -> None:
    with pytest.raises(SettingsError, match=r"invalid monitor settings: .*interval"):
        load(MonitorSettings, "monitor", env={"AGENTSCALER_MONITOR_INTERVAL": value})


def test_finite_settings_still_load() -> None:
    assert load(MonitorSettings, "monitor", env={"AGENTSCALER_MONITOR_INTERVAL": "0.5"}).interval == 0.5


def test_set_pool_and_set_mode_decode_in_range() -> None:
    cmd = decode(Command, b'{"type": "set_pool", "config": {"name": "p", "ack_wait": 3, "heartbeat_interval": 0.5}}')
    assert isinstance(cmd, SetPool) and cmd.config.ack_wait == 3
    mode = decode(Command, b'{"type": "set_mode", "pool": "p", "mode": "auto", "auto": {"min_agents": 2}}')
    assert isinstance(mode, SetMode) and mode.auto is not None and mode.auto.min_agents == 2


def test_settings_built_in_code_are_checked_before_they_are_stored() -> None:
    """``optimize --apply`` stores what the search built; out of range, it would make the pool unreadable."""
    assert out_of_range(AutoConfig()) == "" and out_of_range(POOL_DEFAULTS) == ""
    assert "`$.scale_down_window`" in out_of_range(AutoConfig(scale_down_window=0.001))


NUMBER = st.one_of(
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False),
)


@given(st.data())
def test_a_stored_config_from_wider_ranges_is_brought_into_range(data: st.DataObject) -> None:
    """Any numbers where a PoolConfig (and its AutoConfig) has numbers: after ``into_range`` it decodes, and only
    the numbers that were out of range moved, to an end of their range."""
    stored = msgspec.to_builtins(PoolConfig(name="p"))
    for body in (stored, stored["auto"]):
        for key, value in body.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and data.draw(st.booleans()):
                body[key] = int(data.draw(NUMBER)) if isinstance(value, int) else float(data.draw(NUMBER))
    fixed, moved = into_range(PoolConfig, stored)
    config = msgspec.convert(fixed, PoolConfig)  # raises if anything is still out of range
    assert out_of_range(config) == ""
    unmoved = {n.split(" ")[0] for n in moved}
    for key, value in stored.items():
        if key not in unmoved and not isinstance(value, dict):
            assert fixed[key] == value


def test_what_moved_is_said_in_words() -> None:
    stored = msgspec.to_builtins(PoolConfig(name="p"))
    stored.update(ack_wait=1e300, max_agents=10**18, heartbeat_interval=1e-6)
    stored["auto"]["min_agents"] = -3
    fixed, moved = into_range(PoolConfig, stored)
    config = msgspec.convert(fixed, PoolConfig)
    ranges = {f.encode_name: f.type for f in mi.type_info(PoolConfig).fields}  # type: ignore[union-attr]
    assert (config.ack_wait, config.max_agents) == (ranges["ack_wait"].le, ranges["max_agents"].le)
    low = ranges["heartbeat_interval"]
    assert config.heartbeat_interval == (low.ge if low.ge is not None else math.nextafter(low.gt, math.inf))
    assert config.auto.min_agents == 0
    assert [m.split(" ")[0] for m in moved] == ["max_agents", "ack_wait", "heartbeat_interval", "auto.min_agents"]
    assert into_range(PoolConfig, msgspec.to_builtins(PoolConfig(name="p"))) == (
        msgspec.to_builtins(PoolConfig(name="p")),
        [],
    )
