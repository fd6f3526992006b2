"""The Quickstart demo runs to the end on its own: scales up and down with tasks in flight, loses none."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_and_loses_no_task() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agentscaler.services.cli", "demo", "--speed", "4"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "agentscaler up 24" in out.stdout and "agentscaler down 0" in out.stdout
    last = out.stdout.strip().splitlines()[-1]
    assert "tasks finished" in last and "0 failed" in last and "no task lost" in last
