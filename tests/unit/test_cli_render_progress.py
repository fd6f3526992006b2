"""The progress of ``up N --wait`` and ``down N --wait``: a bar redrawn in place on a terminal, a plain line
per change elsewhere. Written to a string buffer; time is passed in."""

from __future__ import annotations

import io

import pytest

from agentscaler.services.cli.progress import ERASE, ProgressView, bar_line, counts_line, remaining
from agentscaler.shared.messages.snapshots import AgentCounts


@pytest.mark.parametrize(
    ("counts", "target", "left"),
    [
        pytest.param(AgentCounts(), 8, 8, id="up-from-zero"),
        pytest.param(AgentCounts(ready=3, starting=5), 8, 5, id="up-halfway"),
        pytest.param(AgentCounts(ready=6, busy=2), 8, 0, id="up-done"),
        pytest.param(AgentCounts(ready=2, draining=6), 0, 8, id="down-draining"),
        pytest.param(AgentCounts(ready=8, starting=1), 8, 1, id="one-too-many-starting"),
        pytest.param(AgentCounts(), 0, 0, id="down-done"),
    ],
)
def test_remaining_counts_agents_to_start_or_to_leave(counts, target, left):
    assert remaining(counts, target) == left


def test_the_plain_line_is_the_one_logs_and_tests_read():
    assert counts_line(AgentCounts(ready=1, busy=2, starting=5), 8) == "  3/8 running (5 starting, 0 draining)"


def test_the_bar_line_shows_share_counts_rate_and_time():
    line = bar_line(AgentCounts(ready=500, starting=500), 1000, first=1000, elapsed=2.0)
    assert line.startswith("  [" + "#" * 12 + "." * 12 + "]  50%")
    for figure in ["500/1000 running", "500 starting", "0 draining", "250.0 agents/s", "2.0s", "~2s left"]:
        assert figure in line, (figure, line)


def test_off_a_terminal_a_line_per_change():
    out = io.StringIO()
    view = ProgressView(out, 2, started=0.0, tty=False)
    for at, counts in enumerate([AgentCounts(starting=2), AgentCounts(starting=2), AgentCounts(ready=2)]):
        view.show(counts, float(at))
    view.close()
    assert out.getvalue() == "  0/2 running (2 starting, 0 draining)\n  2/2 running (0 starting, 0 draining)\n"


def test_on_a_terminal_one_line_redrawn_then_ended():
    out = io.StringIO()
    view = ProgressView(out, 4, started=10.0, tty=True)
    view.show(AgentCounts(starting=4), 10.5)
    view.show(AgentCounts(ready=4), 12.0)
    view.close()
    view.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.count(ERASE) == 2 and text.endswith("\n") and text.count("\n") == 1
    last = text.split("\r")[-1]
    assert "100%" in last and "4/4 running" in last and "2.0 agents/s" in last and "2.0s" in last
