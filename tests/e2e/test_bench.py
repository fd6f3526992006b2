"""The benchmarks keep working: a tiny run of each prints its figures and its ratio to the baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_spawn_benchmark_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "spawn.py"), "--agents", "6", "--baseline", "2", "--quiet", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "ratio exec/fork" in out.stdout
    exited = next(line for line in out.stdout.splitlines() if line.startswith("agents that exited 0"))
    assert exited.split()[-2:] == ["6.00", "2.00"], exited


def test_drain_benchmark_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "drain.py"), "--agents", "5", "--task", "0.5"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "lost tasks = 0" in out.stdout


def test_throughput_benchmark_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "throughput.py"), "--agents", "4", "--tasks", "200"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "ratio agentscaler/bare" in out.stdout
