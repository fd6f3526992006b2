"""The Quickstart demo runs to the end on its own: scales up and down with tasks in flight, loses none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_and_loses_no_task(tmp_path: Path) -> None:
    # Output goes to files, not pipes: a process left behind holding a pipe would otherwise look like a hung
    # demo, and a demo that does hang is reported with what it printed so far.
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "demo", "--speed", "4"],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            code = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
    printed, errors = stdout.read_text(), stderr.read_text()
    assert code == 0, f"demo exit status {code}\n{printed[-3000:]}\n{errors[-3000:]}"
    assert "agentscaler up 24" in printed and "agentscaler down 0" in printed, printed[-3000:]
    last = printed.strip().splitlines()[-1]
    assert "tasks finished" in last and "0 failed" in last and "no task lost" in last
