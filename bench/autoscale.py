"""Autoscaling evaluation: the auto policy and its baselines over workload traces, on a simulated clock.

    python bench/autoscale.py --kind all
    python bench/autoscale.py --trace my-trace.jsonl --target-wait 10
    python bench/autoscale.py --trace my-trace.jsonl --target-wait 5 --json
    python bench/autoscale.py --kind all --markdown

Each trace (a shipped kind from ``traces.py``, generated with ``--seed``, or JSON-lines files given with
``--trace``, as often as wanted) is run through the simulator (``services/policy/sim/simulate.py``) once per
policy of :data:`POLICIES`: agentscaler's ``decide_auto`` (with and without its seasonal prediction), the
faithful HPA and KEDA baselines and static peak (``baselines.py``), all under the same queue, start delay and
cap. By default it prints a table per trace (agent-seconds, their ratio to the oracle's when an ``oracle`` row
is there, else to the work's, slack, p95 queue wait, minutes whose p95 wait exceeds the target, scaling
actions, peak agents), then whether agentscaler meets its goals on it:

- agent-seconds <= 1.3x the oracle's (only when an ``oracle`` row is there);
- no more minutes over the target wait than ``hpa`` and than ``keda``;
- on a periodic trace with 10 s start-up (``--start-delay 10``), fewer minutes over the target wait with
  prediction than without, at <= 5% more agent-seconds.

``--json`` prints one JSON object instead: policy -> ``{agent_seconds, slack, p95_wait, minutes_over, actions,
peak}``, keyed first by trace name when there are several traces. ``--markdown`` prints one markdown table of
every trace x policy (the one in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import traces
from baselines import Hpa, Keda, StaticPeak, peak_need

from agentscaler.services.policy.sim.metrics import Metrics, measure
from agentscaler.services.policy.sim.oracle import Oracle
from agentscaler.services.policy.sim.simulate import SizingPolicy, simulate
from agentscaler.services.policy.sim.trial import AutoPolicy
from agentscaler.services.policy.sim.workload import Workload
from agentscaler.shared.messages.pools import AutoConfig

OURS = "agentscaler"
NO_PREDICTION = "agentscaler-no-prediction"
ORACLE = "oracle"
MAX_OVER_ORACLE = 1.3
PREDICTION_START_DELAY = 10.0
MAX_PREDICTION_COST = 0.05

Factory = Callable[[argparse.Namespace, Workload, int], SizingPolicy]
"""Makes a fresh policy (and its state) for one run, from the command line, the workload and its peak need."""


def auto(args: argparse.Namespace, predict: bool, name: str) -> AutoPolicy:
    """agentscaler's auto policy with default settings but the target wait (and prediction off if not ``predict``)."""
    config = AutoConfig(target_wait=args.target_wait)
    if not predict:
        config = msgspec.structs.replace(config, predict=False)
    return AutoPolicy(config, args.max_agents, name=name, period=args.tick)


def oracle(args: argparse.Namespace, workload: Workload) -> Oracle:
    """The clairvoyant policy for this trace, with the same start delay and cap as every other."""
    return Oracle(workload, target_wait=args.target_wait, start_delay=args.start_delay, max_agents=args.max_agents)


POLICIES: dict[str, Factory] = {
    ORACLE: lambda args, w, _peak: oracle(args, w),
    OURS: lambda args, _w, _peak: auto(args, predict=True, name=OURS),
    NO_PREDICTION: lambda args, _w, _peak: auto(args, predict=False, name=NO_PREDICTION),
    "hpa": lambda args, _w, _peak: Hpa(args.max_agents, target=args.backlog_target),
    "keda": lambda args, _w, _peak: Keda(args.max_agents, target=args.backlog_target),
    "static": lambda args, _w, peak: StaticPeak(min(peak, args.max_agents)),
}
"""Every policy compared, in table order, by the key its row and JSON entry carry."""


@dataclass(frozen=True)
class Evaluation:
    """The figures of every policy on one trace."""

    name: str
    workload: Workload
    peak: int
    rows: list[Metrics]
    rules: dict[str, Counter[str]]
    seconds: float
    bound: float = 0.0
    """The oracle's lower bound: agent-seconds no policy that keeps every wait within the target can beat."""

    def row(self, policy: str) -> Metrics | None:
        return next((m for m in self.rows if m.policy == policy), None)

    def reference(self) -> tuple[str, float]:
        """What agent-seconds are compared with: the oracle's when it ran, else the work's."""
        oracle = self.row(ORACLE)
        return (ORACLE, oracle.agent_seconds) if oracle else ("work", self.workload.work)


def evaluate(name: str, workload: Workload, args: argparse.Namespace) -> Evaluation:
    """Run every policy over ``workload`` and measure each run (its per-task waits are dropped after)."""
    started = time.perf_counter()
    peak = peak_need(workload.arrivals, workload.services)
    rows: list[Metrics] = []
    rules: dict[str, Counter[str]] = {}
    bound = 0.0
    for key, make in POLICIES.items():
        policy = make(args, workload, peak)
        if isinstance(policy, Oracle):
            bound = policy.lower_bound
        result = simulate(
            workload, policy, start_delay=args.start_delay, max_agents=args.max_agents, spawn_rate=args.spawn_rate
        )
        rows.append(dataclasses.replace(measure(result, workload, args.target_wait), policy=key))
        if isinstance(policy, AutoPolicy):
            rules[key] = policy.rules
    return Evaluation(name, workload, peak, rows, rules, time.perf_counter() - started, bound)


def figures(m: Metrics) -> dict[str, float | int]:
    """A row as the JSON output's entry."""
    return {
        "agent_seconds": round(m.agent_seconds, 1),
        "slack": round(m.slack, 4),
        "p95_wait": round(m.p95_wait, 3),
        "minutes_over": m.minutes_over,
        "actions": m.actions,
        "peak": m.peak_agents,
    }


def as_json(evaluations: list[Evaluation]) -> str:
    """Policy -> figures for one trace; trace name -> that for several."""
    per_trace = {
        e.name: {
            m.policy: figures(m) | ({"lower_bound": round(e.bound, 1)} if m.policy == ORACLE else {}) for m in e.rows
        }
        for e in evaluations
    }
    return json.dumps(per_trace[evaluations[0].name] if len(evaluations) == 1 else per_trace)


def ratio(m: Metrics, evaluation: Evaluation) -> float:
    """``m``'s agent-seconds over the reference's (the oracle's, else the work's)."""
    _, reference = evaluation.reference()
    return m.agent_seconds / reference if reference else 0.0


def markdown(evaluations: list[Evaluation]) -> list[str]:
    """One markdown table of every trace x policy."""
    against = "oracle" if all(e.row(ORACLE) for e in evaluations) else "the work"
    lines = [
        f"| trace | policy | agent-s | x {against} | slack | p95 wait s | min over | actions | peak |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in evaluations:
        for m in e.rows:
            lines.append(
                f"| {e.name} | {m.policy} | {m.agent_seconds:,.0f} | {ratio(m, e):.2f} | {100 * m.slack:.1f}% | "
                f"{m.p95_wait:.2f} | {m.minutes_over} | {m.actions} | {m.peak_agents} |"
            )
        if e.bound:
            _, reference = e.reference()
            lines.append(f"| {e.name} | (lower bound) | {e.bound:,.0f} | {e.bound / reference:.2f} | | | | | |")
    return lines


def describe(evaluation: Evaluation, args: argparse.Namespace) -> str:
    """A heading line for a trace (with its seed when generated)."""
    w = evaluation.workload
    span, mean = w.end / 3600.0, w.work / max(len(w), 1)
    seed = "" if args.trace else f" (seed {args.seed})"
    return (
        f"== {evaluation.name}{seed}: {len(w):,} tasks over {span:.1f} h, mean service {mean:.1f} s, "
        f"peak need {evaluation.peak} agents, target wait {args.target_wait:g} s"
    )


def table(evaluation: Evaluation) -> list[str]:
    """One row per policy, then the work's."""
    against, _ = evaluation.reference()
    lines = [
        f"{'policy':<28} {'agent-s':>12} {'x ' + against:>9} {'slack %':>8} {'p95 wait s':>11} "
        f"{'min over':>9} {'actions':>8} {'peak agents':>12}"
    ]
    for m in evaluation.rows:
        lines.append(
            f"{m.policy:<28} {m.agent_seconds:>12,.0f} {ratio(m, evaluation):>8.2f}x {100 * m.slack:>7.1f}% "
            f"{m.p95_wait:>11.2f} {m.minutes_over:>9} {m.actions:>8} {m.peak_agents:>12}"
        )
        if m.unfinished:
            lines.append(f"{'':<28} ! {m.unfinished:,} tasks never started before the run was cut off")
    work = evaluation.workload.work
    if evaluation.bound:
        lines.append(f"{'(lower bound: no policy less)':<28} {evaluation.bound:>12,.0f}")
    lines.append(f"{'(the work)':<28} {work:>12,.0f} {'':>9} {0.0:>7.1f}%")
    return lines


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def goals(evaluation: Evaluation, periodic: bool, start_delay: float) -> list[str]:
    """A line per goal for agentscaler on this trace, with the figures it is judged on."""
    ours, hpa, keda, oracle = (evaluation.row(key) for key in (OURS, "hpa", "keda", ORACLE))
    assert ours is not None and hpa is not None and keda is not None
    lines = []
    if oracle is not None:
        over = ours.agent_seconds / oracle.agent_seconds if oracle.agent_seconds else 0.0
        lines.append(
            f"goal: agent-seconds {over:.2f}x the oracle's <= {MAX_OVER_ORACLE}x: {verdict(over <= MAX_OVER_ORACLE)}"
        )
    fewer = ours.minutes_over <= hpa.minutes_over and ours.minutes_over <= keda.minutes_over
    lines.append(
        f"goal: minutes over target {ours.minutes_over} <= hpa {hpa.minutes_over} and keda {keda.minutes_over}: "
        f"{verdict(fewer)}"
    )
    plain = evaluation.row(NO_PREDICTION)
    if periodic and plain is not None:
        cost = ours.agent_seconds / plain.agent_seconds - 1.0 if plain.agent_seconds else 0.0
        ok = ours.minutes_over < plain.minutes_over and ours.agent_seconds <= plain.agent_seconds * (
            1 + MAX_PREDICTION_COST
        )
        line = (
            f"goal: minutes over target with prediction {ours.minutes_over} < without {plain.minutes_over}, at "
            f"{100 * cost:+.1f}% agent-seconds <= +{100 * MAX_PREDICTION_COST:.0f}%: {verdict(ok)}"
        )
        if start_delay != PREDICTION_START_DELAY:
            line += f" (the goal is set for {PREDICTION_START_DELAY:g} s start-up: --start-delay 10)"
        lines.append(line)
    return lines


def rule_counts(evaluation: Evaluation) -> list[str]:
    """How often each of agentscaler's rules changed the count."""
    return [
        f"{name} changes by rule: " + ", ".join(f"{rule} {n}" for rule, n in counts.most_common())
        for name, counts in evaluation.rules.items()
    ]


def workloads(args: argparse.Namespace) -> list[tuple[str, Workload, bool]]:
    """The traces to evaluate: (name, workload, whether the prediction goal applies)."""
    if args.trace:
        return [(str(path), Workload.from_tasks(traces.read_trace(path)), False) for path in dict.fromkeys(args.trace)]
    kinds = list(traces.GENERATORS) if args.kind == "all" else [args.kind]
    return [(kind, Workload.from_tasks(traces.generate(kind, args.seed)), kind in traces.PERIODIC) for kind in kinds]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, or the process's arguments)."""
    parser = argparse.ArgumentParser(description="Evaluate agentscaler's auto policy and baselines on traces.")
    parser.add_argument("--kind", choices=[*traces.GENERATORS, "all"], default="all", help="shipped trace(s)")
    parser.add_argument(
        "--trace", type=Path, action="append", help="a JSON-lines trace file instead of --kind (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated traces")
    parser.add_argument("--target-wait", type=float, default=5.0, help="p95 queue wait target, seconds")
    parser.add_argument("--start-delay", type=float, default=1.0, help="seconds from adding an agent to ready")
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=0.0,
        help="agents the host starts per second (default 0: no limit, which the oracle plans for)",
    )
    parser.add_argument("--max-agents", type=int, default=1000, help="cap on agents, passed to every policy")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between agentscaler's policy calls")
    parser.add_argument(
        "--backlog-target", type=float, default=1.0, help="hpa/keda backlog per agent target (lagThreshold)"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object of every policy's figures")
    output.add_argument("--markdown", action="store_true", help="print one markdown table of trace x policy")
    parser.add_argument("--rules", action="store_true", help="also print which agentscaler rules changed counts")
    args = parser.parse_args(argv)
    if args.target_wait <= 0 or args.start_delay < 0 or args.spawn_rate < 0 or args.max_agents < 0 or args.tick <= 0:
        parser.error("--target-wait and --tick must be > 0, --start-delay, --spawn-rate and --max-agents >= 0")
    if args.backlog_target <= 0:
        parser.error("--backlog-target must be > 0")
    return args


def report(evaluation: Evaluation, periodic: bool, args: argparse.Namespace) -> list[str]:
    """The human output for one trace."""
    lines = [describe(evaluation, args), *table(evaluation)]
    lines += goals(evaluation, periodic, args.start_delay)
    if args.rules:
        lines += rule_counts(evaluation)
    return [*lines, f"evaluated in {evaluation.seconds:.1f} s (wall)", ""]


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    try:
        loaded = workloads(args)
    except (OSError, traces.TraceError) as e:
        raise SystemExit(f"autoscale: cannot read the trace: {e}") from None
    if any(len(workload) == 0 for _, workload, _ in loaded):
        raise SystemExit("autoscale: a trace has no task; give a file with at least one JSON line")
    generated = time.perf_counter() - started
    evaluations = []
    for name, workload, periodic in loaded:
        evaluation = evaluate(name, workload, args)
        evaluations.append(evaluation)
        if not (args.json or args.markdown):
            print("\n".join(report(evaluation, periodic, args)), flush=True)
    if args.json:
        print(as_json(evaluations))
    elif args.markdown:
        print("\n".join(markdown(evaluations)) + "\n")
        for evaluation, (_, _, periodic) in zip(evaluations, loaded, strict=True):
            lines = goals(evaluation, periodic, args.start_delay)
            print(f"- {evaluation.name}: " + "; ".join(line.removeprefix("goal: ") for line in lines))
        print(f"\n(evaluated in {sum(e.seconds for e in evaluations):.0f} s)")
    else:
        evaluated = sum(e.seconds for e in evaluations)
        source = "read" if args.trace else "generated"
        print(f"wall time: {evaluated:.1f} s evaluating, {generated:.1f} s traces {source}")


if __name__ == "__main__":
    main()
