"""The benchmarks keep working: a tiny run of each prints its figures and its ratio to the baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def test_spawn_benchmark_runs_small() -> None:
    out = run_bench("spawn.py", "--agents", "6", "--baseline", "2", "--quiet", "1")
    assert "ratio exec/fork" in out
    exited = next(line for line in out.splitlines() if line.startswith("agents that exited 0"))
    assert exited.split()[-2:] == ["6.00", "2.00"], exited


def test_spawn_benchmark_runs_small_secured() -> None:
    out = run_bench("spawn.py", "--secured", "--agents", "4", "--quiet", "1")
    assert "start time ratio secured/unsecured" in out
    exited = next(line for line in out.splitlines() if line.startswith("agents that exited 0"))
    assert exited.split()[-2:] == ["4.00", "4.00"], exited


def test_commands_benchmark_runs_small() -> None:
    out = run_bench("commands.py", "--requests", "20")
    assert [line.split()[0] for line in out.splitlines()[-2:]] == ["list_pools", "scale"], out


def test_drain_benchmark_runs_small() -> None:
    assert "lost tasks = 0" in run_bench("drain.py", "--agents", "5", "--task", "0.5")


def test_throughput_benchmark_runs_small() -> None:
    # Enough tasks that the pre-filled queue's middle 60% spans several samples.
    out = run_bench("throughput.py", "--agents", "4", "--tasks", "2000", "--prefetch", "2")
    assert "ratio agentscaler/bare" in out and "pre-filled queue" in out and "agents us/task" in out, out


def test_floor_benchmark_runs_small() -> None:
    out = run_bench("floor.py", "--children", "8", "--window", "4", "--agents-uss", "6.0")
    assert "USS per idle worker" in out and "agent USS / floor" in out, out
    assert "8 -> 0" in out and "8 exited 0" in out, out


def test_autoscale_evaluation_runs_on_a_trace_file(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(f'{{"t": {i * 0.5}, "service_s": 2.0}}\n' for i in range(200)))
    out = run_bench("autoscale.py", "--trace", str(trace))
    for policy in ("agentscaler", "hpa", "keda", "static"):
        assert f"\n{policy} " in out, out
    assert "goal: minutes over target" in out and "wall time" in out, out


def test_replay_benchmark_runs_small() -> None:
    out = run_bench("replay.py", "--kind", "steady", "--speed", "20", "--duration", "60")
    assert "live/sim" in out and "unfinished tasks: live 0," in out, out


def test_burst_benchmark_runs_small() -> None:
    out = run_bench("burst.py", "--tasks", "40", "--agents", "8", "--task", "0.2")
    assert "first decision published" in out and "8 agents running" in out and "ratio auto/manual" in out, out


def test_arrivals_benchmark_runs_small() -> None:
    out = run_bench("arrivals.py", "--rate", "200", "--seconds", "1")
    assert "counting arrivals costs" in out and "auto pool" in out and "manual pool" in out, out


def test_fleet_benchmark_runs_small() -> None:
    out = run_bench("fleet.py", "--quick")
    assert "messages/s per agent" in out and "CPU s/s registry" in out and "up N: all registered" in out, out
    lost = next(line for line in out.splitlines() if line.startswith("agents lost in the window"))
    assert lost.split()[-2:] == ["0", "0"], out
    done = next(line for line in out.splitlines() if line.startswith("tasks completed"))
    assert int(done.split()[-2]) > 0 and int(done.split()[-1]) > 0, out
