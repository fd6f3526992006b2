"""The rules behind the exported metrics: which host counts a result, the per-host agent counts, the parts of
a reading, the pool figures of the leading policy, and when metrics go out over OTLP."""

from __future__ import annotations

import pytest

from agentscaler.services.monitor.metrics import agent_counts, ran_on
from agentscaler.services.policy.metrics import DESIRED, QUEUE_PENDING, PoolGauges
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.snapshots import QueueStats
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.telemetry.metrics import Readings, labels, otlp_protocol
from tests.unit.builders import pool_snapshot, record, snapshot


def result(agent_id: str, pool: str = "p") -> TaskResult:
    return TaskResult(id="t", pool=pool, status="ok", agent_id=agent_id)


@pytest.mark.parametrize(
    ("agent_id", "host", "counted"),
    [
        ("p-gpu-ab12-7", "gpu", True),
        ("p-gpu-2-ab12-7", "gpu", False),  # host gpu-2's agent, not gpu's
        ("p-gpu-2-ab12-7", "gpu-2", True),
        ("p-cpu-ab12-7", "gpu", False),
        ("", "gpu", False),
    ],
)
def test_a_result_is_counted_by_the_host_whose_agent_ran_it(agent_id: str, host: str, counted: bool):
    assert ran_on(result(agent_id), host) is counted


def test_a_pool_with_a_dash_is_told_from_its_host():
    assert ran_on(result("my-pool-h1-ab12-1", pool="my-pool"), "h1")
    assert not ran_on(result("my-pool-h1-ab12-1", pool="my"), "h1")


def test_agent_counts_are_the_hosts_own_with_every_state_of_every_pool():
    agents = [
        record("a1", pool="p", host="h", state="ready"),
        record("a2", pool="p", host="h", state="busy"),
        record("a3", pool="p", host="h", state="busy"),
        record("a4", pool="p", host="other", state="busy"),  # another host's monitor counts it
    ]
    counts = agent_counts(agents, ["p", "q"], "h")
    assert counts[labels(pool="p", state="busy", host="h")] == 2
    assert counts[labels(pool="p", state="ready", host="h")] == 1
    assert counts[labels(pool="q", state="ready", host="h")] == 0
    assert len(counts) == 8 and sum(counts.values()) == 3


def test_a_reading_is_the_union_of_its_parts_and_a_part_replaced_or_cleared_goes():
    reading = Readings("agentscaler_test_reading", "a test gauge")
    reading.set("h1", {labels(host="h1", pool="p"): 1, labels(host="h1", pool="q"): 2})
    reading.set("h2", {labels(host="h2", pool="p"): 3})
    reading.set("h1", {labels(host="h1", pool="p"): 4})  # q went away on h1
    assert reading.values() == {labels(host="h1", pool="p"): 4, labels(host="h2", pool="p"): 3}
    reading.clear("h2")
    assert reading.values() == {labels(host="h1", pool="p"): 4}


def test_the_leading_policy_drops_deleted_pools_and_its_figures_go_with_its_lead():
    gauges = PoolGauges()
    gauges.desired_is("p", 3)
    gauges.desired_is("gone", 1)
    gauges.snapshot(snapshot(pools=[pool_snapshot("p", queue=QueueStats(pending=7))]))
    assert DESIRED.values() == {labels(pool="p"): 3}
    assert QUEUE_PENDING.values() == {labels(pool="p"): 7}
    gauges.close()
    assert DESIRED.values() == {} and QUEUE_PENDING.values() == {}


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"}, "http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"),
        ({"OTEL_METRICS_EXPORTER": "otlp"}, "http/protobuf"),
        ({"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, "grpc"),
        ({"OTEL_METRICS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
        ({"OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None),
    ],
)
def test_metrics_go_out_over_otlp_when_the_otel_variables_ask(env: dict[str, str], protocol: str | None):
    assert otlp_protocol(env) == protocol


def test_an_unknown_otlp_protocol_is_refused_by_name():
    with pytest.raises(AgentscalerError, match="'http/json'"):
        otlp_protocol({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
