"""End to end: a pool in auto mode runs real tasks on real agents, the policy records its load, and
``agentscaler optimize`` tunes the pool's settings to it (report, JSON, chart, PNG, --apply); ``status``
shows the recommendation; a pool without recorded load gets a clear error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentscaler.services.cli.exit_codes import EXIT
from tests.e2e.harness import System, make_pool, wait_until

pytestmark = pytest.mark.e2e

RECORDING = {"AGENTSCALER_POLICY_HISTORY_INTERVAL": "0.25", "AGENTSCALER_POLICY_OPTIMIZE_WORKERS": "1"}
"""A demand sample every quarter second, so that a few seconds of load are enough history."""


@pytest.mark.parametrize("system", [RECORDING], indirect=True)
def test_optimize_tunes_a_pool_to_the_load_it_ran(system: System, tmp_path: Path) -> None:
    make_pool(system, "tune", "--cost-per-agent-hour", "0.5")
    assert "optimize none yet" in system.cli("status", "--pool", "tune").stdout
    system.cli("auto", "--pool", "tune", "--max", "20", "--target-wait", "1", "--scale-down-window", "4")
    for _ in range(10):  # 300 tasks of 50 ms in waves over ~6 s
        system.cli("submit", "--pool", "tune", '{"sleep": 0.05}', "--count", "30")
        time.sleep(0.5)
    wait_until(lambda: system.status("tune")["tasks"]["completed"] >= 300, timeout=60, what="the tasks done")
    time.sleep(1.0)  # the last samples are recorded

    data = json.loads(system.cli("optimize", "--pool", "tune", "--since", "10m", "--json", timeout=300).stdout)
    assert 200 <= data["tasks"] <= 300 and data["samples"] >= 20, data
    assert data["current"]["config"]["target_wait"] == 1.0 and data["current"]["config"]["scale_down_window"] == 4.0
    assert data["evaluated"] > 5 and data["front"] and data["per_agent_hour"] == 0.5
    assert data["recommended"] is not None and data["applied"] is False
    assert data["current"]["cost_per_hour"] > 0

    png = tmp_path / "tradeoff.png"
    human = system.cli("optimize", "--pool", "tune", "--since", "10m", "--plot", str(png), timeout=300).stdout
    for words in ("optimize pool tune:", "current", "recommended", "agent-seconds", "cost per hour",
                  "minutes over 1s", "cost/latency trade-off", f"trade-off plotted to {png}"):  # fmt: skip
        assert words in human, (words, human)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    applied = json.loads(system.cli("optimize", "--pool", "tune", "--since", "10m", "--apply", "--json").stdout)
    pool = system.status("tune")
    assert pool["optimized"] is not None and pool["optimized"]["at"] == applied["at"]
    assert pool["optimized"]["front"] == []  # the trade-off points stay in the bucket
    if applied["changes"]:
        assert applied["applied"] is True and pool["auto"] == applied["recommended"]["config"]
        assert "stored with the pool and in force" in system.cli("status", "--pool", "tune").stdout
    else:
        assert applied["applied"] is False and "keep the current settings" in system.cli("status").stdout

    make_pool(system, "fresh")
    result = system.cli("optimize", "--pool", "fresh", check=False)
    assert result.returncode == EXIT["refused"] and "Traceback" not in result.stderr
    assert "no recorded load for pool 'fresh'" in result.stderr and "agentscaler auto --pool fresh" in result.stderr
