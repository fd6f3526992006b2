"""bench/autoscale.py's outputs: every policy on a small trace, the JSON object, the markdown table and the goal
lines, the last three on hand-made figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import autoscale
import traces

from agentscaler.services.policy.sim.metrics import Metrics
from agentscaler.services.policy.sim.workload import Workload

FIGURES = {"agent_seconds", "slack", "p95_wait", "minutes_over", "actions", "peak"}


def metrics(policy: str, agent_seconds: float, minutes_over: int = 0) -> Metrics:
    return Metrics(policy, agent_seconds, 0.25, 1.5, minutes_over, 60, 7, 0, 9)


def evaluation(name: str, *rows: Metrics, work: float = 50.0) -> autoscale.Evaluation:
    workload = Workload([0.0, 1.0], [work / 2, work / 2])
    return autoscale.Evaluation(name, workload, 2, list(rows), {}, 0.0)


def test_every_policy_finishes_a_small_spiky_trace() -> None:
    args = autoscale.parse_args(["--max-agents", "200"])
    result = autoscale.evaluate("spiky", Workload.from_tasks(traces.spiky(seed=3, scale=0.02)), args)
    assert [m.policy for m in result.rows] == list(autoscale.POLICIES)
    assert {"agentscaler", "agentscaler-no-prediction", "oracle", "hpa", "keda", "static"} <= set(autoscale.POLICIES)
    assert all(m.unfinished == 0 for m in result.rows)
    static = result.row("static")
    assert static is not None and static.actions == 1


def test_json_maps_each_policy_to_its_figures_and_each_trace_when_several() -> None:
    one = evaluation("a", metrics("agentscaler", 100.0), metrics("hpa", 150.0))
    two = evaluation("b", metrics("agentscaler", 80.0))
    single = json.loads(autoscale.as_json([one]))
    assert set(single) == {"agentscaler", "hpa"}
    assert single["hpa"] == {
        "agent_seconds": 150.0,
        "slack": 0.25,
        "p95_wait": 1.5,
        "minutes_over": 0,
        "actions": 7,
        "peak": 9,
    }
    several = json.loads(autoscale.as_json([one, two]))
    assert set(several) == {"a", "b"} and set(several["b"]["agentscaler"]) == FIGURES


def test_markdown_ratios_are_to_the_work_without_an_oracle_and_to_the_oracle_with_one() -> None:
    plain = autoscale.markdown([evaluation("a", metrics("agentscaler", 100.0), metrics("hpa", 150.0))])
    assert "x the work" in plain[0] and len(plain) == 4
    assert plain[2].startswith("| a | agentscaler | 100 | 2.00 | 25.0% | 1.50 | 0 | 7 | 9 |")
    with_oracle = autoscale.markdown([evaluation("a", metrics("agentscaler", 100.0), metrics("oracle", 80.0))])
    assert "x oracle" in with_oracle[0]
    assert with_oracle[2].startswith("| a | agentscaler | 100 | 1.25 |")


@pytest.mark.parametrize(
    ("ours", "oracle", "line"),
    [
        (130.0, 100.0, "goal: agent-seconds 1.30x the oracle's <= 1.3x: met"),
        (131.0, 100.0, "goal: agent-seconds 1.31x the oracle's <= 1.3x: NOT MET"),
    ],
)
def test_oracle_goal(ours: float, oracle: float, line: str) -> None:
    rows = [metrics("agentscaler", ours), metrics("hpa", 200.0), metrics("keda", 200.0), metrics("oracle", oracle)]
    assert autoscale.goals(evaluation("a", *rows), periodic=False, start_delay=1.0)[0] == line


@pytest.mark.parametrize(("ours", "hpa", "keda", "met"), [(2, 2, 3, True), (0, 0, 0, True), (3, 2, 9, False)])
def test_minutes_over_goal_is_no_more_than_hpa_and_keda(ours: int, hpa: int, keda: int, met: bool) -> None:
    rows = [metrics("agentscaler", 1.0, ours), metrics("hpa", 1.0, hpa), metrics("keda", 1.0, keda)]
    lines = autoscale.goals(evaluation("a", *rows), periodic=False, start_delay=1.0)
    assert len(lines) == 1  # no oracle row, no oracle goal
    assert lines[0].endswith(": met" if met else ": NOT MET")


@pytest.mark.parametrize(
    ("ours", "plain", "delay", "ending"),
    [
        ((105.0, 1), (100.0, 2), 10.0, "at +5.0% agent-seconds <= +5%: met"),
        ((106.0, 1), (100.0, 2), 10.0, "at +6.0% agent-seconds <= +5%: NOT MET"),
        ((100.0, 2), (100.0, 2), 10.0, "at +0.0% agent-seconds <= +5%: NOT MET"),
        ((100.0, 0), (100.0, 1), 1.0, "met (the goal is set for 10 s start-up: --start-delay 10)"),
    ],
)
def test_prediction_goal_on_periodic_traces(
    ours: tuple[float, int], plain: tuple[float, int], delay: float, ending: str
) -> None:
    rows = [
        metrics("agentscaler", *ours),
        metrics("agentscaler-no-prediction", *plain),
        metrics("hpa", 1.0, 99),
        metrics("keda", 1.0, 99),
    ]
    assert autoscale.goals(evaluation("a", *rows), periodic=False, start_delay=delay)[-1].startswith("goal: minutes")
    assert autoscale.goals(evaluation("a", *rows), periodic=True, start_delay=delay)[-1].endswith(ending)


def test_json_command_prints_one_object_for_a_trace_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    traces.write_trace(trace, [(i * 0.5, 2.0) for i in range(100)])
    monkeypatch.setattr(sys, "argv", ["autoscale.py", "--trace", str(trace), "--target-wait", "5", "--json"])
    autoscale.main()
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(autoscale.POLICIES)
    assert all(set(figures) == FIGURES for key, figures in out.items() if key != "oracle")
    oracle = out["oracle"]
    assert set(oracle) == FIGURES | {"lower_bound"}
    assert oracle["lower_bound"] <= oracle["agent_seconds"] <= out["agentscaler"]["agent_seconds"]
    assert oracle["p95_wait"] <= 5 and oracle["minutes_over"] == 0


def test_an_empty_trace_is_refused_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = tmp_path / "empty.jsonl"
    trace.write_text("\n")
    monkeypatch.setattr(sys, "argv", ["autoscale.py", "--trace", str(trace)])
    with pytest.raises(SystemExit, match="no task"):
        autoscale.main()
