"""The command line's argument types and parser, and the human status view. Nothing here talks to NATS."""

from __future__ import annotations

import argparse

import pytest

from agentscaler.services.cli.argtypes import MAX_COUNT, count, fraction, nonnegative, positive
from agentscaler.services.cli.main import parser
from agentscaler.services.cli.render import render_status
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import AutoConfig
from agentscaler.shared.messages.snapshots import (
    AgentCounts,
    PoolCost,
    QueueStats,
    ScalingImpact,
    TaskStats,
    WindowFigures,
)
from agentscaler.shared.numbers import GIB, MIB

from . import builders as b

# --- argument types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("5", 5), (" 7 ", 7), ("+3", 3), (str(MAX_COUNT), MAX_COUNT)])
def test_count_accepts(text, value):
    assert count(text) == value


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("five", "give a whole number of agents"),
        ("2.5", "give a whole number of agents"),
        ("", "give a whole number of agents"),
        ("-1", f"from 0 to {MAX_COUNT}"),
        (str(MAX_COUNT + 1), f"from 0 to {MAX_COUNT}"),
    ],
)
def test_count_rejects(text, needle):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        count(text)
    assert f"bad number {text!r}" in str(info.value)
    assert needle in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("1", 1.0), ("0.25", 0.25), ("1e-3", 0.001), ("120", 120.0)])
def test_positive_accepts(text, value):
    assert positive(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "-0.5", "soon", ""])
def test_positive_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="give a positive number") as info:
        positive(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("1", 1.0), ("0.8", 0.8)])
def test_fraction_accepts(text, value):
    assert fraction(text) == value


@pytest.mark.parametrize(("text", "needle"), [("0", "positive"), ("1.5", "at most 1"), ("most", "positive")])
def test_fraction_rejects(text, needle):
    with pytest.raises(argparse.ArgumentTypeError, match=needle):
        fraction(text)


def test_parse_auto_utilization():
    args = parse("auto", "--utilization", "0.8")
    assert (args.command, args.utilization, args.target_wait) == ("auto", 0.8, None)


def test_positive_rejects_nan():
    with pytest.raises(argparse.ArgumentTypeError):
        positive("nan")


# --- parser ---------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def test_parse_up():
    args = parse("up", "5", "--pool", "p")
    assert (args.command, args.n, args.pool, args.wait, args.timeout) == ("up", 5, "p", False, 120.0)


def test_parse_down_with_wait():
    args = parse("down", "0", "--wait", "--timeout", "3.5")
    assert (args.command, args.n, args.pool, args.wait, args.timeout) == ("down", 0, "default", True, 3.5)


def test_parse_status_json():
    args = parse("status", "--json")
    assert (args.command, args.json, args.pool) == ("status", True, None)


def test_parse_submit():
    args = parse("submit", "--count", "3", "{}")
    assert (args.command, args.count, args.payload, args.pool) == ("submit", 3, "{}", "default")


def test_parse_submit_from_stdin():
    args = parse("submit")
    assert (args.count, args.payload) == (1, None)


def test_parse_pool_set():
    args = parse("pool", "set", "x", "--max-agents", "4", "--env", "A=1", "--env", "B=2")
    assert (args.command, args.pool_command, args.name, args.max_agents, args.env) == (
        "pool",
        "set",
        "x",
        4,
        ["A=1", "B=2"],
    )
    assert args.handler is None and args.ack_wait is None  # unset options do not override the pool's


def test_parse_nats_url_on_any_command():
    assert parse("agents", "--nats-url", "nats://x:1").nats_url == "nats://x:1"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["up", "-1"], "bad number '-1'"),
        (["up", "many"], "bad number 'many'"),
        (["up"], "required: N"),
        (["submit", "--count", "x", "{}"], "bad number 'x'"),
        (["pool", "set", "x", "--ack-wait", "0"], "give a positive number"),
        (["serve", "scheduler"], "invalid choice: 'scheduler'"),
        ([], "required: COMMAND"),
    ],
)
def test_parse_errors_exit_2_with_a_message(argv, needle, capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(argv)
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


# --- render ---------------------------------------------------------------------------------------------


def test_render_status_shows_every_figure():
    snap = b.snapshot(
        host=b.host_snapshot(
            "box-7",
            cpu_count=12,
            cpu_percent=37.0,
            load1=1.75,
            memory_total=16 * GIB,
            memory_available=6 * GIB,
            disk_total=500 * GIB,
            disk_free=123 * GIB,
            disk_read_bps=3 * MIB,
            disk_write_bps=7 * MIB,
            agents=11,
            agent_memory_budget=96 * MIB,
            memory_reserve=1000 * MIB,
            agents_fit=42,
        ),
        pools=[
            b.pool_snapshot(
                "alpha",
                mode="manual",
                desired=9,
                max_agents=40,
                agents=AgentCounts(starting=2, ready=3, busy=4, draining=1),
                queue=QueueStats(pending=17, in_flight=5),
                tasks=TaskStats(
                    completed=1234, failed=56, throughput=7.25, latency_p50=0.81, latency_p95=2.47, window=60.0
                ),
            ),
            b.pool_snapshot("beta", mode="auto", desired=0, max_agents=8, agents=AgentCounts()),
        ],
    )
    text = render_status(snap)
    for figure in [
        "pool alpha",
        "mode manual",
        "desired 9",
        "running 7",  # ready + busy
        "max 40",
        "ready 3",
        "busy 4",
        "starting 2",
        "draining 1",
        "pending 17",
        "in flight 5",
        "completed 1234",
        "failed 56",
        "throughput 7.25/s",
        "p50 0.81s",
        "p95 2.47s",
        "last 60s",
        "pool beta",
        "mode auto",
        "max 8",
        "host box-7",
        "37%",
        "12 cores",
        "load 1.75",
        "10.0 GiB used",
        "6.0 GiB available",
        "16.0 GiB",
        "123.0 GiB free",
        "500.0 GiB",
        "read 3.0 MiB/s",
        "write 7.0 MiB/s",
        "11 running",
        "96 MiB each",
        "fits 42 more",
        "1000 MiB free",
    ]:
        assert figure in text, figure
    assert text.index("pool alpha") < text.index("pool beta") < text.index("host box-7")


def test_render_status_without_pools_shows_the_host():
    assert render_status(b.snapshot(pools=[])).startswith("host h1")


@pytest.mark.parametrize(
    ("changes", "figure"),
    [
        ({"queue": QueueStats(pending=1, in_flight=2, waiting_pulls=31)}, "31"),
        ({"tasks": TaskStats(wait_p95=13.39, window=60.0)}, "13.39"),
    ],
    ids=["waiting_pulls", "wait_p95"],
)
def test_render_status_shows_queue_wait_figures(changes, figure):
    assert figure in render_status(b.snapshot(pools=[b.pool_snapshot(**changes)]))


def test_parse_status_watch_and_prices():
    assert parse("status").watch is None
    assert parse("status", "--watch").watch == 2.0
    assert parse("status", "--watch", "0.5", "--json").watch == 0.5
    args = parse("pool", "set", "x", "--cost-per-agent-hour", "0.12", "--cost-per-task", "0")
    assert (args.cost_per_agent_hour, args.cost_per_task) == (0.12, 0.0)


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "cheap"])
def test_nonnegative_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="0 or more"):
        nonnegative(text)


def test_render_status_shows_the_auto_config_the_last_decision_and_the_cost():
    auto = AutoConfig(min_agents=2, max_agents=30, target_wait=4.0, scale_down_window=20.0, dry_run=True)
    decision = DecisionEvent(
        pool="p",
        previous=5,
        desired=9,
        rule="auto.backlog",
        reason="scale up 5 -> 9: 12 queued",
        trigger="arrival",
        at=1000.0 - 125,
        mode="auto",
        applied=False,
        limit="cpu",
        prediction="inactive: no period in the 2d of history",
    )
    cost = PoolCost(per_agent_hour=0.2, per_task=0.001, burn_rate=1.8, last_hour=1.5, last_day=9.25, covered=7200)
    pool = b.pool_snapshot(mode="auto", auto=auto, last_decision=decision, cost=cost, start_time=0.04)
    text = render_status(b.snapshot(1000.0, pools=[pool]))
    for figure in [
        "start 0.04s",
        "in force   DRY RUN",
        "min 2  max 30",
        "target wait 4s",
        "utilization 100%",
        "scale-down window 20s",
        "prediction on (season 1d)",
        "2m 5s ago",
        "auto.backlog on arrival   5 -> 9 (dry run, not applied)   limit cpu",
        "scale up 5 -> 9: 12 queued",
        "predict  inactive: no period in the 2d of history",
        "burning 1.80/h   last hour 1.50   last day 9.25 (seen for 2h)",
        "0.2 per agent-hour, 0.001 per task",
        "room     21 more agents (bound by its auto max 30)",
    ]:
        assert figure in text, (figure, text)


@pytest.mark.parametrize(
    ("pool", "host", "room"),
    [
        ({"desired": 9, "max_agents": 40}, {"agents_fit": 42}, "31 more agents (bound by the pool's max_agents 40)"),
        ({"desired": 9, "max_agents": 40}, {"agents_fit": 5}, "5 more agents (bound by memory on h1: fits 5 more)"),
        ({"desired": 50, "max_agents": 40}, {"agents_fit": 5}, "0 more agents (bound by the pool's max_agents 40)"),
    ],
)
def test_render_status_says_how_many_more_agents_fit_and_why(pool, host, room):
    snap = b.snapshot(host=b.host_snapshot(**host), pools=[b.pool_snapshot(**pool)])
    assert room in render_status(snap)


def test_render_status_warns_of_a_saturated_cpu_in_auto_mode():
    snap = b.snapshot(host=b.host_snapshot(cpu_percent=97.0), pools=[b.pool_snapshot(mode="auto", auto=AutoConfig())])
    assert "host CPU at 97%: auto mode adds none" in render_status(snap)


def test_render_status_shows_what_recent_changes_did():
    before = WindowFigures(throughput=2.0, latency_mean=9.0, wait_mean=6.0, tasks=120)
    after = WindowFigures(throughput=2.0, latency_mean=8.5, wait_mean=5.5, tasks=120)
    done = ScalingImpact(
        at=900.0, previous=4, desired=8, rule="auto.backlog", before=before, after=after,
        per_agent_before=0.5, per_agent_after=0.25, flags=["no_gain", "degraded"], cost_per_hour=2.0,
    )  # fmt: skip
    pending = ScalingImpact(
        at=990.0, previous=8, desired=6, rule="auto.scale_down", before=before, after=None,
        per_agent_before=0.25, per_agent_after=0.0, cost_per_hour=-1.0,
    )  # fmt: skip
    cost = PoolCost(per_agent_hour=0.5, per_task=0.0, burn_rate=3.0, last_hour=1.0, last_day=1.0, covered=600)
    text = render_status(b.snapshot(1000.0, pools=[b.pool_snapshot(impacts=[pending, done], cost=cost)]))
    assert (
        "10s ago   8 -> 6 (auto.scale_down): before throughput 2.00/s, wait 6.00s, latency 9.00s; after: "
        "measuring, -1.00/h saved" in text
    )
    assert (
        "1m 40s ago   4 -> 8 (auto.backlog): throughput 2.00 -> 2.00/s, per agent 0.500 -> 0.250/s, "
        "wait 6.00 -> 5.50s, latency 9.00 -> 8.50s, +2.00/h   NO THROUGHPUT GAIN   PER-AGENT THROUGHPUT DEGRADED"
    ) in text
    assert text.index("8 -> 6") < text.index("4 -> 8")  # newest first


def test_render_status_sums_every_pool_into_the_system():
    cost = PoolCost(per_agent_hour=0.5, per_task=0.0, burn_rate=3.0, last_hour=1.0, last_day=1.0, covered=600)
    pools = [b.pool_snapshot("a", cost=cost), b.pool_snapshot("b", desired=2, agents=AgentCounts(busy=2))]
    text = render_status(b.snapshot(pools=pools))
    assert "system   2 pools   desired 11   running 9   starting 2   draining 1   busy 6" in text
    assert "burning 3.00/h (1 priced)" in text
    assert "system" not in render_status(b.snapshot(pools=pools[:1]))
