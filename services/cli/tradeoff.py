"""The cost/latency trade-off of an optimize report as a chart: in the terminal, or as a PNG."""

from __future__ import annotations

import math
from pathlib import Path

from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.optimize import Optimized, Trial

from .units import duration

WIDTH = 56
HEIGHT = 12


def _x(report: Optimized, t: Trial) -> float:
    """A trial's cost: per hour when the pool is priced, else in agent-seconds."""
    return t.cost_per_hour if report.per_agent_hour > 0 else t.agent_seconds


def _x_label(report: Optimized) -> str:
    return "cost per hour" if report.per_agent_hour > 0 else "agent-seconds"


def _points(report: Optimized) -> list[tuple[Trial, str]]:
    """The trade-off's trials with their marks: ``C`` current, ``R`` recommended, ``*`` the rest of the
    front (a later mark wins where two meet)."""
    points = [(t, "*") for t in report.front] + [(report.current, "C")]
    if report.recommended is not None:
        points.append((report.recommended, "R"))
    return points


def chart(report: Optimized) -> list[str]:
    """A text scatter of p95 wait against cost, for a terminal."""
    points = _points(report)
    xs, ys = [_x(report, t) for t, _ in points], [t.p95_wait for t, _ in points]
    x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
    grid = [[" "] * WIDTH for _ in range(HEIGHT)]
    for (_, mark), x, y in zip(points, xs, ys, strict=True):
        col = 0 if x_hi == x_lo else round((x - x_lo) / (x_hi - x_lo) * (WIDTH - 1))
        row = 0 if y_hi == y_lo else round((y_hi - y) / (y_hi - y_lo) * (HEIGHT - 1))
        grid[row][col] = mark
    lines = [f"cost/latency trade-off: p95 wait (s) against {_x_label(report)}; C current, R recommended, * others"]
    for i, row in enumerate(grid):
        label = f"{y_hi:>8.2f}" if i == 0 else f"{y_lo:>8.2f}" if i == HEIGHT - 1 else " " * 8
        lines.append(f"{label} |{''.join(row).rstrip()}")
    lines.append(" " * 9 + "+" + "-" * WIDTH)
    left, right = _number(x_lo), _number(x_hi)
    lines.append(" " * 10 + left + " " * max(WIDTH - len(left) - len(right), 1) + right)
    return lines


def _number(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def plot(report: Optimized, path: Path) -> None:
    """The trade-off as a PNG at ``path`` (needs matplotlib: ``pip install 'agentscaler[plot]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AgentscalerError(
            "--plot needs matplotlib: install it with `pip install 'agentscaler[plot]'` (or `pip install matplotlib`)"
        ) from None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    front = sorted(report.front, key=lambda t: _x(report, t))
    ax.plot([_x(report, t) for t in front], [t.p95_wait for t in front], "o-", color="0.6", label="trade-off")
    ax.plot([_x(report, report.current)], [report.current.p95_wait], "s", color="tab:blue", label="current")
    if report.recommended is not None:
        r = report.recommended
        ax.plot([_x(report, r)], [r.p95_wait], "*", markersize=14, color="tab:green", label="recommended")
    if report.budget is not None and report.per_agent_hour > 0:
        ax.axvline(report.budget, color="tab:red", linestyle="--", label=f"budget {report.budget:g}/h")
    ax.axhline(report.target_wait, color="0.3", linestyle=":", label=f"target wait {report.target_wait:g}s")
    ax.set_xlabel(_x_label(report))
    ax.set_ylabel("p95 queue wait (s)")
    ax.set_title(f"pool {report.pool}: {report.tasks:,} tasks over {duration(report.span)} of recorded load")
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    if math.isfinite(report.current.p95_wait):
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise AgentscalerError(f"cannot write the plot to {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
