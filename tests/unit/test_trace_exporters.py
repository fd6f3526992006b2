"""Which span exporters the ``OTEL_*`` variables ask for, as the OpenTelemetry specification spells them."""

from __future__ import annotations

import pytest

from agentscaler.shared.telemetry.exporters import ExportPlan, TracingConfigError, export_plan


@pytest.mark.parametrize(
    ("env", "exporters", "protocol"),
    [
        ({}, (), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "none"}, (), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": ""}, (), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ("otlp",), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ("otlp", "console"), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": " Console , OTLP,console"}, ("console", "otlp"), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "none,console"}, ("console",), "http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ("otlp",), "grpc"),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            ("otlp",),
            "http/protobuf",
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "GRPC"}, ("otlp",), "grpc"),
        # the protocol matters to OTLP only: a console-only process ignores it
        (
            {"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            ("console",),
            "http/protobuf",
        ),
    ],
)
def test_valid_settings_choose_the_exporters(env: dict[str, str], exporters: tuple[str, ...], protocol: str) -> None:
    plan = export_plan(env)
    assert (plan.exporters, plan.protocol) == (exporters, protocol)


@pytest.mark.parametrize(
    ("env", "variable", "value"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER", "'jaeger'"),
        ({"OTEL_TRACES_EXPORTER": "otlp,zipkin"}, "OTEL_TRACES_EXPORTER", "'zipkin'"),
        ({"OTEL_TRACES_EXPORTER": "otlp;console"}, "OTEL_TRACES_EXPORTER", "'otlp;console'"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "'http/json'",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "'udp'",
        ),
    ],
)
def test_an_unknown_value_is_a_one_line_error_naming_the_variable_and_the_choices(
    env: dict[str, str], variable: str, value: str
) -> None:
    with pytest.raises(TracingConfigError) as raised:
        export_plan(env)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{variable}: ") and value in message
    allowed = ("otlp", "console", "none") if variable == "OTEL_TRACES_EXPORTER" else ("grpc", "http/protobuf")
    assert all(choice in message for choice in allowed), message


def test_the_console_file_and_a_timeout_from_the_environment_are_kept() -> None:
    plan = export_plan(
        {
            "OTEL_TRACES_EXPORTER": "console",
            "AGENTSCALER_TRACES_FILE": " /tmp/spans.jsonl ",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "7",
        }
    )
    assert plan == ExportPlan(exporters=("console",), traces_file="/tmp/spans.jsonl", export_timeout_set=True)
    assert not export_plan({"OTEL_TRACES_EXPORTER": "otlp"}).export_timeout_set
