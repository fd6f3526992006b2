"""Autoscaling evaluation: the auto policy and its baselines over workload traces, on a simulated clock.

    python bench/autoscale.py --kind all
    python bench/autoscale.py --trace my-trace.jsonl --target-wait 10

Each trace (a shipped kind from ``traces.py``, generated with ``--seed``, or any JSON-lines file) is run through the
simulator (``services/policy/sim/simulate.py``) once per policy: agentscaler's ``decide_auto`` (with and without
its seasonal prediction), the HPA-like and KEDA-like baselines and static-peak (``baselines.py``), all under the
same queue, start delay and cap. It prints a table per trace (agent-seconds, their share of static-peak's, slack,
p95 queue wait, minutes whose p95 wait exceeds the target, scaling actions), then whether agentscaler meets its
goals on it:

- slack <= 15%;
- agent-seconds <= 60% of static-peak's;
- fewer minutes over the target wait than HPA-like and than KEDA-like, with no more agent-seconds than either;
- on the periodic trace, fewer minutes over the target wait with prediction than without.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import traces
from baselines import HpaLike, KedaLike, StaticPeak, peak_need

from agentscaler.services.policy.core.demand import SLOW_START
from agentscaler.services.policy.sim.metrics import Metrics, measure
from agentscaler.services.policy.sim.simulate import SizingPolicy, simulate
from agentscaler.services.policy.sim.trial import AutoPolicy
from agentscaler.services.policy.sim.workload import Workload
from agentscaler.shared.messages.pools import AutoConfig

OURS = "agentscaler"
NO_PREDICTION = "agentscaler (no prediction)"
MAX_SLACK = 0.15
MAX_SHARE_OF_STATIC = 0.60


@dataclass(frozen=True)
class Evaluation:
    """The figures of every policy on one trace."""

    name: str
    workload: Workload
    peak: int
    rows: list[Metrics]
    rules: dict[str, Counter[str]]
    seconds: float

    def row(self, policy: str) -> Metrics:
        return next(m for m in self.rows if m.policy == policy)


def policies(args: argparse.Namespace, peak: int) -> list[Callable[[], SizingPolicy]]:
    """Factories of the policies to compare, in table order (each run gets a fresh policy and its state)."""
    config = AutoConfig(target_wait=args.target_wait)
    no_prediction = msgspec.structs.replace(config, predict=False)
    return [
        lambda: AutoPolicy(config, args.max_agents, period=args.tick),
        lambda: AutoPolicy(no_prediction, args.max_agents, name=NO_PREDICTION, period=args.tick),
        lambda: HpaLike(args.max_agents, target=args.backlog_target),
        lambda: KedaLike(args.max_agents, target=args.backlog_target),
        lambda: StaticPeak(min(peak, args.max_agents)),
    ]


def evaluate(name: str, workload: Workload, args: argparse.Namespace) -> Evaluation:
    """Run every policy over ``workload`` and measure each run (its per-task waits are dropped after)."""
    started = time.perf_counter()
    peak = peak_need(workload.arrivals, workload.services)
    rows: list[Metrics] = []
    rules: dict[str, Counter[str]] = {}
    for make in policies(args, peak):
        policy = make()
        result = simulate(
            workload, policy, start_delay=args.start_delay, max_agents=args.max_agents, spawn_rate=args.spawn_rate
        )
        rows.append(measure(result, workload, args.target_wait))
        if isinstance(policy, AutoPolicy):
            rules[policy.name] = policy.rules
    return Evaluation(name, workload, peak, rows, rules, time.perf_counter() - started)


def describe(evaluation: Evaluation, target_wait: float) -> str:
    """A heading line for a trace."""
    w = evaluation.workload
    span = w.end / 3600.0
    return (
        f"== {evaluation.name}: {len(w):,} tasks over {span:.1f} h, mean service {w.work / max(len(w), 1):.1f} s, "
        f"peak need {evaluation.peak} agents, target wait {target_wait:g} s"
    )


def table(evaluation: Evaluation) -> list[str]:
    """One row per policy."""
    static = evaluation.row("static-peak").agent_seconds
    lines = [
        f"{'policy':<28} {'agent-s':>12} {'% static':>9} {'slack %':>8} {'p95 wait s':>11} "
        f"{'min over':>9} {'actions':>8} {'peak agents':>12}"
    ]
    for m in evaluation.rows:
        share = 100.0 * m.agent_seconds / static if static else 0.0
        lines.append(
            f"{m.policy:<28} {m.agent_seconds:>12,.0f} {share:>8.1f}% {100 * m.slack:>7.1f}% {m.p95_wait:>11.2f} "
            f"{m.minutes_over:>9} {m.actions:>8} {m.peak_agents:>12}"
        )
        if m.unfinished:
            lines.append(f"{'':<28} ! {m.unfinished:,} tasks never started before the run was cut off")
    work = evaluation.workload.work
    share = 100.0 * work / static if static else 0.0
    lines.append(f"{'(the work: least possible)':<28} {work:>12,.0f} {share:>8.1f}% {0.0:>7.1f}%")
    return lines


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def goals(evaluation: Evaluation, periodic: bool, start_delay: float, target_wait: float) -> list[str]:
    """A line per goal for agentscaler on this trace, with the figures it is judged on."""
    ours, hpa, keda = evaluation.row(OURS), evaluation.row("HPA-like"), evaluation.row("KEDA-like")
    static = evaluation.row("static-peak").agent_seconds
    share = ours.agent_seconds / static if static else 0.0
    fewer = ours.minutes_over < hpa.minutes_over and ours.minutes_over < keda.minutes_over
    cheaper = ours.agent_seconds <= hpa.agent_seconds and ours.agent_seconds <= keda.agent_seconds
    lines = [
        f"goal: slack {100 * ours.slack:.1f}% <= {100 * MAX_SLACK:.0f}%: {verdict(ours.slack <= MAX_SLACK)}",
        f"goal: agent-seconds {100 * share:.1f}% of static-peak <= {100 * MAX_SHARE_OF_STATIC:.0f}%: "
        f"{verdict(share <= MAX_SHARE_OF_STATIC)}",
        f"goal: minutes over target {ours.minutes_over} < HPA-like {hpa.minutes_over} and "
        f"< KEDA-like {keda.minutes_over}, with agent-seconds {ours.agent_seconds:,.0f} <= HPA-like "
        f"{hpa.agent_seconds:,.0f} and KEDA-like {keda.agent_seconds:,.0f}: {verdict(fewer and cheaper)}",
    ]
    if periodic:
        plain = evaluation.row(NO_PREDICTION)
        line = (
            f"goal: minutes over target with prediction {ours.minutes_over} < without {plain.minutes_over}: "
            f"{verdict(ours.minutes_over < plain.minutes_over)}"
        )
        if start_delay < target_wait * SLOW_START:
            line += (
                f" (agents starting in {start_delay:g} s follow the load as it comes, so the profile's floor "
                f"stays off; it acts for agents slower than the {target_wait:g} s target wait, e.g. "
                f"--start-delay 10)"
            )
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
    if args.trace is not None:
        return [(str(args.trace), Workload.from_tasks(traces.read_trace(args.trace)), False)]
    kinds = list(traces.GENERATORS) if args.kind == "all" else [args.kind]
    return [
        (f"{kind} (seed {args.seed})", Workload.from_tasks(traces.generate(kind, args.seed)), kind == "periodic")
        for kind in kinds
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, or the process's arguments)."""
    parser = argparse.ArgumentParser(description="Evaluate agentscaler's auto policy and baselines on traces.")
    parser.add_argument("--kind", choices=[*traces.GENERATORS, "all"], default="all", help="shipped trace(s)")
    parser.add_argument("--trace", type=Path, help="a JSON-lines trace file instead of --kind")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated traces")
    parser.add_argument("--target-wait", type=float, default=5.0, help="p95 queue wait target, seconds")
    parser.add_argument("--start-delay", type=float, default=1.0, help="seconds from adding an agent to ready")
    parser.add_argument(
        "--spawn-rate", type=float, default=0.0, help="agents the host starts per second (default 0: no limit)"
    )
    parser.add_argument("--max-agents", type=int, default=1000, help="cap on agents, passed to every policy")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between agentscaler's policy calls")
    parser.add_argument(
        "--backlog-target", type=float, default=1.0, help="HPA-/KEDA-like backlog per agent target (lagThreshold)"
    )
    parser.add_argument("--rules", action="store_true", help="also print which agentscaler rules changed counts")
    args = parser.parse_args(argv)
    if args.target_wait <= 0 or args.start_delay < 0 or args.spawn_rate < 0 or args.max_agents < 0 or args.tick <= 0:
        parser.error("--target-wait and --tick must be > 0, --start-delay, --spawn-rate and --max-agents >= 0")
    if args.backlog_target <= 0:
        parser.error("--backlog-target must be > 0")
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    try:
        loaded = workloads(args)
    except (OSError, traces.TraceError) as e:
        raise SystemExit(f"autoscale: cannot read the trace: {e}") from None
    generated = time.perf_counter() - started
    evaluated = 0.0
    for name, workload, periodic in loaded:
        evaluation = evaluate(name, workload, args)
        evaluated += evaluation.seconds
        print(describe(evaluation, args.target_wait))
        print("\n".join(table(evaluation)))
        print("\n".join(goals(evaluation, periodic, args.start_delay, args.target_wait)))
        if args.rules:
            print("\n".join(rule_counts(evaluation)))
        print(f"evaluated in {evaluation.seconds:.1f} s (wall)\n")
    source = "read" if args.trace is not None else "generated"
    print(f"wall time: {evaluated:.1f} s evaluating, {generated:.1f} s traces {source}")


if __name__ == "__main__":
    main()
