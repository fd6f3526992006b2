"""The ``replicas`` setting reaches every stream and bucket config agentscaler creates, and what status shows
of the cluster."""

from __future__ import annotations

import pytest
from nats.js.api import StreamInfo
from nats.js.errors import APIError

from agentscaler.services.cli.render_cluster import render_cluster
from agentscaler.services.monitor.cluster import stream_replicas, streams_of
from agentscaler.shared import subjects
from agentscaler.shared.bus.audit import audit_config
from agentscaler.shared.bus.history import history_config
from agentscaler.shared.bus.jetstream import bucket_config, bucket_names, stream_config
from agentscaler.shared.bus.replicas import replicas, replicas_of, too_many, wanted
from agentscaler.shared.messages.cluster import ClusterView, StreamReplicas
from agentscaler.shared.settings import CommonSettings, SettingsError, load


def configs() -> dict[str, int | None]:
    """Every config builder's replicas, by stream."""
    found = {f"KV_{name}": bucket_config(name).replicas for name in bucket_names()}
    for config in (stream_config("p"), history_config(60.0, 1 << 20), audit_config(60.0, 1 << 20)):
        found[str(config.name)] = config.num_replicas
    return found


def test_the_setting_comes_from_the_environment_and_is_bounded() -> None:
    assert load(CommonSettings, "policy", env={}).replicas == 1
    assert load(CommonSettings, "policy", env={"AGENTSCALER_REPLICAS": "3"}).replicas == 3
    for bad in ("0", "6", "three"):
        with pytest.raises(SettingsError, match="replicas"):
            load(CommonSettings, "policy", env={"AGENTSCALER_REPLICAS": bad})


@pytest.mark.parametrize("count", [1, 3, 5])
def test_every_stream_and_bucket_config_gets_the_replicas_in_force(count: int) -> None:
    with replicas_of(count):
        found = configs()
    assert found and set(found.values()) == {count}, found
    assert set(configs().values()) == {1}, "outside the block: the default again"
    assert set(found) >= {"KV_agentscaler-pools", "KV_agentscaler-results", subjects.task_stream("p")}


@pytest.mark.parametrize(
    ("setting", "existing", "given"),
    [(3, 1, 3), (3, None, 3), (1, 3, 3), (3, 5, 5), (1, 1, 1)],  # raised to the setting, never lowered
)
def test_an_existing_stream_is_raised_never_lowered(setting: int, existing: int | None, given: int) -> None:
    with replicas_of(setting):
        assert wanted(existing) == given


@pytest.mark.parametrize(
    ("code", "description", "clear"),
    [
        (10074, "replicas > 1 not supported in non-clustered mode", True),
        (10005, "no suitable peers for placement", True),
        (10023, "insufficient resources", True),
        (10058, "stream name already in use with a different configuration", False),
    ],
)
def test_too_many_replicas_is_a_clear_error_naming_the_setting(code: int, description: str, clear: bool) -> None:
    error = too_many(APIError(code=500, err_code=code, description=description), "KV_agentscaler-pools", 3)
    if not clear:
        assert error is None
        return
    assert error is not None
    assert "replicas (AGENTSCALER_REPLICAS)" in str(error) and "KV_agentscaler-pools 3 replicas" in str(error)


def test_status_covers_every_stream_and_reads_leaders_and_current_copies() -> None:
    assert streams_of(["a"])[-3:] == [subjects.HISTORY_STREAM, subjects.AUDIT_STREAM, subjects.task_stream("a")]
    info = StreamInfo.from_response(
        {
            "config": {"name": "KV_agentscaler-pools", "num_replicas": 3},
            "state": {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0, "consumer_count": 0},
            "cluster": {
                "name": "c",
                "leader": "n1",
                "replicas": [{"name": "n2", "current": True, "active": 1}, {"name": "n3", "current": False}],
            },
        }
    )
    assert stream_replicas(info) == StreamReplicas(stream="KV_agentscaler-pools", replicas=3, leader="n1", current=2)


def test_the_cluster_block_names_servers_leaders_and_what_lags() -> None:
    view = ClusterView(
        name="c",
        connected="nats://a:4222",
        server="n1",
        servers=["nats://a:4222", "nats://b:4222"],
        replicas=3,
        streams=[
            StreamReplicas(stream="s1", replicas=3, leader="n1", current=3),
            StreamReplicas(stream="s2", replicas=3, leader="n2", current=2),
            StreamReplicas(stream="s3", replicas=1, leader="n1"),
            StreamReplicas(stream="s4", replicas=3, leader="", current=0),
        ],
    )
    assert render_cluster(view) == [
        "cluster  c   connected nats://a:4222 (n1)   also nats://b:4222",
        "  streams  1 with 1 replica, 3 with 3 replicas   leaders n1 2, n2 1",
        "  fewer    than the setting replicas 3: s3",
        "  behind   no leader: s4; 1 with 2 of 3 copies current",
    ]
    assert render_cluster(ClusterView(connected="nats://a:4222")) == [
        "cluster  none (one server)   connected nats://a:4222"
    ]


def test_the_default_is_one_copy() -> None:
    assert replicas() == 1
