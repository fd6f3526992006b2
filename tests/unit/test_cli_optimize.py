"""What ``agentscaler optimize`` prints and how ``status`` shows its last report: durations read and written,
the report's table and verdict, the text chart and the PNG. Built from messages; nothing here talks to NATS."""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec
import pytest

from agentscaler.services.cli.main import parser
from agentscaler.services.cli.optimize_report import render_report
from agentscaler.services.cli.render import render_status
from agentscaler.services.cli.tradeoff import HEIGHT, chart, plot
from agentscaler.services.cli.units import duration, parse_duration
from agentscaler.shared.messages.optimize import Optimized, Trial
from agentscaler.shared.messages.pools import AutoConfig

from . import builders as b

CURRENT = AutoConfig()
BETTER = AutoConfig(scale_down_window=5.0, tolerance=0.2)


def trial(config: AutoConfig, agent_seconds: float, p95: float, minutes_over: int = 1) -> Trial:
    return Trial(
        config=config, agent_seconds=agent_seconds, cost=agent_seconds / 3600 * 0.5,
        cost_per_hour=agent_seconds / 3600 * 0.5 / 2, p95_wait=p95, minutes_over=minutes_over, minutes=120,
        actions=300, peak_agents=40,
    )  # fmt: skip


def report(**changes: object) -> Optimized:
    cur, rec = trial(CURRENT, 100_000, 2.1), trial(BETTER, 96_000, 2.4)
    fields: dict[str, object] = dict(
        pool="p", at=1000.0, since=0.0, span=7200.0, samples=240, tasks=30_000, start_delay=0.05, target_wait=5.0,
        per_agent_hour=0.5, evaluated=40, seconds=12.5, current=cur, recommended=rec,
        changes=["scale_down_window 10 -> 5", "tolerance 0.1 -> 0.2"],
        front=[trial(BETTER, 90_000, 4.0), rec, trial(CURRENT, 99_000, 2.2), trial(CURRENT, 130_000, 1.0)],
        note="4.0% fewer agent-seconds, minutes over target 1 -> 1, p95 wait 2.10s -> 2.40s (40 configurations)",
    )  # fmt: skip
    fields.update(changes)
    return Optimized(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
        (" 2H ", 7200.0),
    ],
)
def test_durations_read_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "24x", "-5m", "0", "nan", "inf"])
def test_bad_durations_say_what_to_give(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_optimize_usage_errors_name_the_bad_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["optimize", "--since", "yesterday"])
    assert "bad duration 'yesterday'" in capsys.readouterr().err
    args = parser().parse_args(["optimize", "--since", "6h", "--budget", "2.5", "--apply"])
    assert isinstance(args, argparse.Namespace) and (args.since, args.budget, args.apply) == (21600.0, 2.5, True)


@pytest.mark.parametrize(("seconds", "words"), [(0.4, "0.4s"), (42, "42s"), (303, "5m 3s"), (7800, "2h 10m"),
                                                  (93600, "1d 2h"), (86400, "1d")])  # fmt: skip
def test_durations_in_words(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_the_report_sets_current_beside_recommended_with_the_changes() -> None:
    text = "\n".join(render_report(report()))
    assert "optimize pool p: 2h of recorded load (30,000 tasks in 240 samples)" in text
    assert "agent-seconds                100,000        96,000   (-4.0%)" in text
    assert "cost per hour" in text and "minutes over 5s" in text and "(of 120 with arrivals)" in text
    assert "change: scale_down_window 10 -> 5; tolerance 0.1 -> 0.2" in text
    assert "apply with `agentscaler optimize --pool p --apply`" in text
    assert "cost/latency trade-off" in text
    applied = "\n".join(render_report(report(applied=True)))
    assert "applied: stored with the pool" in applied and "--apply`" not in applied


def test_the_report_says_when_to_keep_the_settings_or_why_nothing_fits() -> None:
    keep = report(recommended=trial(CURRENT, 100_000, 2.1), changes=[], note="the current settings are the best")
    assert "keep the current settings: the current settings are the best" in "\n".join(render_report(keep))
    broke = "\n".join(render_report(report(recommended=None, changes=[], budget=0.1, note="no configuration fits")))
    assert "no recommendation: no configuration fits" in broke and "budget 0.1/h" in broke
    assert "cost per hour" in broke


def test_the_chart_marks_current_and_recommended_on_the_trade_off() -> None:
    lines = chart(report())
    grid = lines[1 : 1 + HEIGHT]
    assert len(lines) == HEIGHT + 3 and "against cost per hour" in lines[0]
    marks = "".join(grid)
    assert marks.count("R") == 1 and marks.count("C") == 1 and marks.count("*") >= 2
    assert grid[0].startswith("    4.00 |*")  # the cheapest point waits longest: top left
    assert grid[-1].lstrip().startswith("1.00 |") and grid[-1].endswith("*")  # the dearest: bottom right
    unpriced = chart(report(per_agent_hour=0.0))
    assert "against agent-seconds" in unpriced[0] and "90.0k" in unpriced[-1]


def test_the_png_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "t.png"
    plot(report(budget=0.02), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def status_lines(**pool: object) -> list[str]:
    text = render_status(b.snapshot(at=4780.0, pools=[b.pool_snapshot("p", **pool)]))
    return [line for line in text.splitlines() if "optimize" in line or line.startswith("           agent-seconds")]


def test_status_shows_the_last_recommendation_and_whether_it_is_stored() -> None:
    assert status_lines() == [
        "  optimize none yet: `agentscaler optimize --pool p` tunes the auto settings to the load"
    ]
    slim = msgspec.structs.replace(report(), front=[])
    pending = status_lines(optimized=slim, auto=CURRENT, mode="auto")
    assert pending[0] == (
        "  optimize 1h 3m ago, on 2h of recorded load: recommends scale_down_window 10 -> 5; tolerance 0.1 -> 0.2"
    )
    assert "agent-seconds -4.0%, cost 6.94 -> 6.67/h, minutes over 5s 1 -> 1, p95 wait 2.10 -> 2.40s" in pending[1]
    assert pending[1].endswith("not applied: `agentscaler optimize --pool p --apply`")
    assert status_lines(optimized=slim, auto=BETTER, mode="auto")[1].endswith("stored with the pool and in force")
    assert status_lines(optimized=slim, auto=BETTER, mode="manual")[1].endswith("stored with the pool")
    keep = msgspec.structs.replace(slim, changes=[], note="the current settings are the best found")
    assert status_lines(optimized=keep)[0].endswith(
        "keep the current settings (the current settings are the best found)"
    )
