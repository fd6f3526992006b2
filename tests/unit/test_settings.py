"""Settings: defaults < TOML file < environment < overrides. The environment is always passed in."""

from __future__ import annotations

import msgspec
import pytest

from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.agent.settings import AgentSettings
from agentscaler.services.cli.launcher import RunSettings
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared.settings import DEFAULT_NATS_URL, CommonSettings, SettingsError, describe, load

SERVICES = [RegistrySettings, PolicySettings, MonitorSettings, ActuatorSettings, AgentSettings]


@pytest.fixture
def toml(tmp_path):
    def write(text: str) -> str:
        path = tmp_path / "agentscaler.toml"
        path.write_text(text)
        return str(path)

    return write


def test_defaults():
    s = load(RegistrySettings, "registry", env={})
    assert (s.nats_url, s.log_level, s.lost_after, s.start_timeout, s.sweep_interval) == (
        DEFAULT_NATS_URL,
        "info",
        15.0,
        60.0,
        1.0,
    )
    assert s.host  # the machine's name, made safe for subjects


def test_toml_top_level_keys_apply_to_every_service_and_the_section_to_one(toml):
    path = toml(
        """
        nats_url = "nats://file:4222"
        lost_after = 20
        interval = 9.0          # a monitor field: ignored by the registry
        unknown_key = "ignored"

        [registry]
        lost_after = 30.5
        start_timeout = 5

        [monitor]
        interval = 3.0
        """
    )
    reg = load(RegistrySettings, "registry", config_file=path, env={})
    assert (reg.nats_url, reg.lost_after, reg.start_timeout) == ("nats://file:4222", 30.5, 5.0)
    mon = load(MonitorSettings, "monitor", config_file=path, env={})
    assert (mon.nats_url, mon.interval) == ("nats://file:4222", 3.0)


def test_config_file_named_by_the_environment(toml):
    path = toml("[policy]\nsnapshot_max_age = 12\n")
    assert load(PolicySettings, "policy", env={"AGENTSCALER_CONFIG": path}).snapshot_max_age == 12.0


def test_explicit_config_file_beats_the_environment_one(toml, tmp_path):
    path = toml("[policy]\nsnapshot_max_age = 12\n")
    s = load(PolicySettings, "policy", config_file=path, env={"AGENTSCALER_CONFIG": str(tmp_path / "missing.toml")})
    assert s.snapshot_max_age == 12.0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENTSCALER_LOST_AFTER": "21"}, 21.0),
        ({"AGENTSCALER_REGISTRY_LOST_AFTER": "22"}, 22.0),
        ({"AGENTSCALER_LOST_AFTER": "21", "AGENTSCALER_REGISTRY_LOST_AFTER": "22"}, 22.0),
        ({"AGENTSCALER_REGISTRY_LOST_AFTER": "22", "AGENTSCALER_LOST_AFTER": "21"}, 22.0),
        ({"AGENTSCALER_MONITOR_LOST_AFTER": "23"}, 15.0),  # another service's section
        ({"agentscaler_lost_after": "24"}, 15.0),  # names are upper case
    ],
)
def test_environment(env, expected):
    assert load(RegistrySettings, "registry", env=env).lost_after == expected


def test_environment_beats_the_file_and_overrides_beat_everything(toml):
    path = toml("lost_after = 20\nstart_timeout = 20\nsweep_interval = 20\n[registry]\nlog_level = 'debug'\n")
    env = {"AGENTSCALER_START_TIMEOUT": "30", "AGENTSCALER_SWEEP_INTERVAL": "30", "AGENTSCALER_LOG_LEVEL": "error"}
    s = load(RegistrySettings, "registry", config_file=path, env=env, overrides={"sweep_interval": 40.0})
    assert (s.lost_after, s.start_timeout, s.sweep_interval, s.log_level) == (20.0, 30.0, 40.0, "error")


def test_none_and_unknown_overrides_are_skipped():
    s = load(
        RegistrySettings,
        "registry",
        env={"AGENTSCALER_NATS_URL": "nats://env:1"},
        overrides={"nats_url": None, "lost_after": None, "not_a_field": 3},
    )
    assert (s.nats_url, s.lost_after) == ("nats://env:1", 15.0)


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("false", False), ("1", True), ("0", False), ("False", False)]
)
def test_booleans_from_the_environment(value, expected):
    assert load(PolicySettings, "policy", env={"AGENTSCALER_DEFAULT_POOL": value}).default_pool is expected


@pytest.mark.parametrize(
    ("cls", "section", "source", "field"),
    [
        (RegistrySettings, "registry", {"env": {"AGENTSCALER_LOST_AFTER": "soon"}}, "lost_after"),
        (RegistrySettings, "registry", {"env": {"AGENTSCALER_REGISTRY_LOST_AFTER": "0"}}, "lost_after"),
        (RegistrySettings, "registry", {"overrides": {"sweep_interval": -1.0}}, "sweep_interval"),
        (ActuatorSettings, "actuator", {"overrides": {"spawn_batch": 0}}, "spawn_batch"),
        (MonitorSettings, "monitor", {"env": {"AGENTSCALER_MEMORY_RESERVE_MB": "-5"}}, "memory_reserve_mb"),
        (PolicySettings, "policy", {"env": {"AGENTSCALER_DEFAULT_POOL": "perhaps"}}, "default_pool"),
        (AgentSettings, "agent", {"env": {"AGENTSCALER_MAX_ATTEMPTS": "0"}}, "max_attempts"),
    ],
)
def test_bad_values_raise_settings_error_naming_the_field(cls, section, source, field):
    kwargs = {"env": {}, **source}
    with pytest.raises(SettingsError) as info:
        load(cls, section, **kwargs)
    assert f"`$.{field}`" in str(info.value)
    assert section in str(info.value)


def test_bad_value_in_file_names_the_field(toml):
    with pytest.raises(SettingsError, match=r"\$\.start_timeout"):
        load(RegistrySettings, "registry", config_file=toml("[registry]\nstart_timeout = 'never'\n"), env={})


@pytest.mark.parametrize("text", ["lost_after = ", "[registry\n"])
def test_unreadable_config_file(toml, text):
    path = toml(text)
    with pytest.raises(SettingsError, match="cannot read config file"):
        load(RegistrySettings, "registry", config_file=path, env={})


def test_missing_config_file(tmp_path):
    with pytest.raises(SettingsError, match="cannot read config file"):
        load(RegistrySettings, "registry", env={"AGENTSCALER_CONFIG": str(tmp_path / "nope.toml")})


def test_list_setting_from_file(toml):
    s = load(ActuatorSettings, "actuator", config_file=toml("[actuator]\npools = ['a', 'b']\n"), env={})
    assert s.pools == ["a", "b"]


def test_list_setting_from_environment():
    s = load(ActuatorSettings, "actuator", env={"AGENTSCALER_ACTUATOR_POOLS": "a,b"})
    assert s.pools == ["a", "b"]


def test_settings_are_frozen():
    s = load(RegistrySettings, "registry", env={})
    with pytest.raises(AttributeError):
        s.lost_after = 1.0  # type: ignore[misc]


# --- describe -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_describe_lists_every_field_with_a_description(cls):
    rows = describe(cls)
    assert [name for name, _, _ in rows] == [f.name for f in msgspec.structs.fields(cls)]
    assert {f.name for f in msgspec.structs.fields(CommonSettings)} <= {name for name, _, _ in rows}
    missing = [name for name, _, text in rows if not text.strip()]
    assert missing == [], f"{cls.__name__} fields without a description: {missing}"


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_describe_defaults_load_back(cls):
    """What ``agentscaler config`` prints as the defaults is what load() gives with nothing set."""
    section = cls.__name__.removesuffix("Settings").lower()
    loaded = load(cls, section, env={})
    assert [(name, default) for name, default, _ in describe(cls)] == [
        (f.name, getattr(loaded, f.name)) for f in msgspec.structs.fields(cls)
    ]


# --- run's own settings ---------------------------------------------------------------------------------


def test_run_settings_default_to_the_restart_policy_run_always_had():
    s = load(RunSettings, "run", env={})
    assert (s.server_restarts, s.server_restart_delay) == (5, 0.5)


def test_run_settings_come_from_the_file_the_environment_and_the_flags(toml):
    path = toml("server_restarts = 3\nserver_restart_delay = 2\n[run]\nserver_restart_delay = 0.25\n")
    s = load(RunSettings, "run", config_file=path, env={})
    assert (s.server_restarts, s.server_restart_delay) == (3, 0.25)
    env = {"AGENTSCALER_SERVER_RESTARTS": "2", "AGENTSCALER_RUN_SERVER_RESTART_DELAY": "0.1"}
    s = load(RunSettings, "run", config_file=path, env=env)
    assert (s.server_restarts, s.server_restart_delay) == (2, 0.1)
    flags = {"server_restarts": 0, "server_restart_delay": None}  # a flag not given is None
    s = load(RunSettings, "run", config_file=path, env=env, overrides=flags)
    assert (s.server_restarts, s.server_restart_delay) == (0, 0.1)


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"overrides": {"server_restarts": -1}}, "server_restarts"),
        ({"overrides": {"server_restarts": 101}}, "server_restarts"),
        ({"env": {"AGENTSCALER_SERVER_RESTARTS": "2.5"}}, "server_restarts"),
        ({"overrides": {"server_restart_delay": 0.0}}, "server_restart_delay"),
        ({"overrides": {"server_restart_delay": 61.0}}, "server_restart_delay"),
        ({"env": {"AGENTSCALER_RUN_SERVER_RESTART_DELAY": "soon"}}, "server_restart_delay"),
    ],
)
def test_run_settings_out_of_range_name_the_field(source, field):
    with pytest.raises(SettingsError) as info:
        load(RunSettings, "run", **{"env": {}, **source})
    assert "invalid run settings" in str(info.value) and f"`$.{field}`" in str(info.value)


def test_run_settings_are_described():
    assert [(name, default) for name, default, _ in describe(RunSettings)] == [
        ("server_restarts", 5),
        ("server_restart_delay", 0.5),
        ("metrics_port", 9464),
    ]
    assert all(text.strip() for _, _, text in describe(RunSettings))


@pytest.mark.parametrize(
    "kind", [ActuatorSettings, AgentSettings, MonitorSettings, PolicySettings, RegistrySettings, RunSettings]
)
def test_every_numeric_setting_is_bounded_both_ways(kind: type[msgspec.Struct]) -> None:
    """No setting takes 1e300 or 10**18: each number has a lower and an upper bound, and the default is in it."""
    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    numbers = 0
    for field in info.fields:
        t = field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type
        if not isinstance(t, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            continue
        numbers += 1
        low = t.ge if t.ge is not None else t.gt
        high = t.le if t.le is not None else t.lt
        assert low is not None and high is not None, f"{kind.__name__}.{field.name} is not bounded both ways"
        assert low <= field.default <= high, f"{kind.__name__}.{field.name}: default {field.default} out of range"
        too_big = {field.name: int(high) * 10 + 10 if isinstance(t, msgspec.inspect.IntType) else float(high) * 10 + 10}
        with pytest.raises(SettingsError, match=field.name):
            load(kind, "test", env={}, overrides=too_big)
    assert numbers >= 1
