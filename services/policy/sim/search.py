"""The search behind ``agentscaler optimize``: which auto settings serve a recorded load at the least cost.

Pure: the caller simulates each configuration the search asks for (``run_trial``, possibly in other
processes) and hands the trials back. The search starts from the current settings and moves one setting at a
time (coordinate descent): each round tries every value of each setting in turn around the best so far, and
a round that moves nothing ends it. The values are fixed multiples of the current settings (or fixed
choices), so the search is finite and the same for the same current settings.

A trial is better than another when, in this order: it fits the budget (if any) and the other does not; it
keeps the current target wait (the operator's objective: other targets are tried for the cost/latency
trade-off, and recommended only when no configuration that keeps it fits the budget); it has fewer minutes
over target beyond what the current settings have; it leaves fewer tasks unstarted; it provisions at least
``MIN_GAIN`` fewer agent-seconds; or, within that, it changes fewer settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from agentscaler.shared.messages.optimize import Trial
from agentscaler.shared.messages.pools import AutoConfig

from .trial import Setup
from .workload import Recorded

MIN_GAIN = 0.005
"""The least share of agent-seconds a change of settings must save to count as better."""
MAX_ROUNDS = 3
"""Rounds over every setting at most."""
MIN_TASKS = 200
"""Tasks the recorded load needs at least for its figures to mean anything."""
MIN_SAMPLES = 20
"""Demand samples needed at least: ten minutes at the default sampling interval (30 s)."""
FRONT = 20
"""Points of the cost/latency trade-off kept in a report at most."""

FACTORS: dict[str, tuple[float, ...]] = {
    "target_wait": (0.5, 0.75, 1.0, 1.5, 2.0),
    "scale_down_window": (0.25, 0.5, 1.0, 2.0, 4.0),
    "rate_smoothing": (0.5, 1.0, 2.0),
}
"""Settings tried at these multiples of their current values."""
CHOICES: dict[str, tuple[Any, ...]] = {
    "utilization": (1.0, 0.9, 0.8, 0.7),
    "tolerance": (0.0, 0.05, 0.1, 0.2, 0.3),
    "min_agents": (0, 1, 2),
    "predict": (True, False),
}
"""Settings tried at these values (and their current ones)."""
CAPS = (0.9, 0.75, 0.5, 0.25)
"""``max_agents`` is tried at these shares of the peak the current settings reached (and at its current
value): a cap trades waits at the peaks for cost, which a budget may call for."""
ORDER = ("scale_down_window", "tolerance", "rate_smoothing", "utilization", "target_wait", "min_agents",
         "max_agents", "predict")  # fmt: skip
"""The settings in the order each round tries them."""


def shortfall(recorded: Recorded) -> str | None:
    """Why the recorded load is too little to tune to, or None when it is enough."""
    tasks = len(recorded.workload)
    if tasks >= MIN_TASKS and recorded.samples >= MIN_SAMPLES:
        return None
    return (
        f"it has {tasks} tasks in {recorded.samples} demand samples ({recorded.span / 60:.1f} min of recorded "
        f"load); optimize needs at least {MIN_TASKS} tasks and {MIN_SAMPLES} samples"
    )


def variants(name: str, current: AutoConfig, best: AutoConfig, baseline: Trial) -> list[AutoConfig]:
    """``best`` with setting ``name`` at each value the search tries (see ``FACTORS``, ``CHOICES``, ``CAPS``)."""
    base = getattr(current, name)
    if name in FACTORS:
        values: list[Any] = [round(base * f, 3) for f in FACTORS[name]]
    elif name == "max_agents":
        values = [base, *(max(1, round(baseline.peak_agents * share)) for share in CAPS)]
    else:
        values = [*CHOICES[name], base]
    out: list[AutoConfig] = []
    for value in dict.fromkeys(values):
        if name == "max_agents" and value is not None and value < best.min_agents:
            continue
        out.append(msgspec.structs.replace(best, **{name: value}))
    return out


def changes(current: AutoConfig, other: AutoConfig) -> list[str]:
    """The settings ``other`` changes, as ``name current -> other``."""
    return [
        f"{name} {_show(getattr(current, name))} -> {_show(getattr(other, name))}"
        for name in current.__struct_fields__
        if getattr(current, name) != getattr(other, name)
    ]


def _show(value: Any) -> str:
    if value is None:
        return "pool max"
    return f"{value:g}" if isinstance(value, float) else str(value)


def better(a: Trial, b: Trial, baseline: Trial, current: AutoConfig, budget: float | None) -> bool:
    """Whether trial ``a`` beats ``b`` (see the module docstring)."""
    ka, kb = _rank(a, baseline, current, budget), _rank(b, baseline, current, budget)
    if ka != kb:
        return ka < kb
    if a.agent_seconds < b.agent_seconds * (1 - MIN_GAIN):
        return True
    if b.agent_seconds < a.agent_seconds * (1 - MIN_GAIN):
        return False
    return len(changes(current, a.config)) < len(changes(current, b.config))


def _rank(t: Trial, baseline: Trial, current: AutoConfig, budget: float | None) -> tuple[bool, bool, float, int]:
    return (
        budget is not None and t.cost_per_hour > budget,
        t.config.target_wait != current.target_wait,
        max(t.minutes_over - baseline.minutes_over, 0),
        t.unfinished,
    )


def _key(config: AutoConfig) -> bytes:
    return msgspec.json.encode(config)


@dataclass
class Search:
    """The search's state: ask :meth:`next_batch` for configurations to simulate, :meth:`record` their
    trials, until :meth:`next_batch` returns none; then :attr:`best` is the answer."""

    current: AutoConfig
    setup: Setup
    rounds: int = MAX_ROUNDS
    trials: dict[bytes, Trial] = field(default_factory=dict)
    baseline: Trial | None = None
    best: Trial | None = None
    _round: int = 0
    _dim: int = 0
    _moved: bool = False

    def next_batch(self) -> list[AutoConfig]:
        """The configurations to simulate next (none tried before); empty when the search is over."""
        if self.baseline is None or self.best is None:
            return [self.current]
        while self._round < self.rounds:
            if self._dim == len(ORDER):
                if not self._moved:
                    break
                self._round, self._dim, self._moved = self._round + 1, 0, False
                continue
            name = ORDER[self._dim]
            self._dim += 1
            batch = [c for c in variants(name, self.current, self.best.config, self.baseline)
                     if _key(c) not in self.trials]  # fmt: skip
            if batch:
                return batch
        self._round = self.rounds
        return []

    def record(self, trials: Sequence[Trial]) -> None:
        """Take the trials of the configurations the last batch asked for."""
        for trial in trials:
            self.trials[_key(trial.config)] = trial
            if self.baseline is None or self.best is None:
                self.baseline = self.best = trial
            elif better(trial, self.best, self.baseline, self.current, self.setup.budget):
                self.best, self._moved = trial, True

    def recommended(self) -> Trial | None:
        """The best trial, or None when it does not fit the budget."""
        best = self.best
        if best is None or (self.setup.budget is not None and best.cost_per_hour > self.setup.budget):
            return None
        return best

    def front(self) -> list[Trial]:
        """The trade-off: the trials no other has both fewer agent-seconds and a lower p95 wait than,
        cheapest first, at most ``FRONT`` of them spread over it."""
        ordered = sorted(self.trials.values(), key=lambda t: (t.agent_seconds, t.p95_wait))
        front: list[Trial] = []
        for trial in ordered:
            if not front or trial.p95_wait < front[-1].p95_wait:
                front.append(trial)
        if len(front) <= FRONT:
            return front
        step = (len(front) - 1) / (FRONT - 1)
        return [front[round(i * step)] for i in range(FRONT)]

    def note(self) -> str:
        """The outcome in words."""
        base, best, budget = self.baseline, self.best, self.setup.budget
        if base is None or best is None:
            return "nothing was simulated"
        tried = f"{len(self.trials)} configurations simulated"
        if self.recommended() is None:
            cheapest = min(self.trials.values(), key=lambda t: t.cost_per_hour)
            return (
                f"no configuration found fits the budget of {budget:g}/h: the cheapest costs "
                f"{cheapest.cost_per_hour:.2f}/h ({tried})"
            )
        if _key(best.config) == _key(self.current):
            return f"the current settings are the best found ({tried})"
        saved = 1 - best.agent_seconds / base.agent_seconds if base.agent_seconds else 0.0
        return (
            f"{abs(saved):.1%} {'fewer' if saved >= 0 else 'more'} agent-seconds, minutes over target "
            f"{base.minutes_over:g} -> {best.minutes_over:g}, p95 wait {base.p95_wait:.2f}s -> {best.p95_wait:.2f}s "
            f"({tried})"
        )
