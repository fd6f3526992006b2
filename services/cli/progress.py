"""Progress of ``up N --wait`` and ``down N --wait``: one line redrawn in place on a terminal (a bar, the
counts, the rate and the time so far), or a plain line per change of the counts elsewhere (logs, pipes)."""

from __future__ import annotations

from typing import TextIO

from agentscaler.shared.messages.snapshots import AgentCounts

BAR = 24
"""Characters of the bar."""
ERASE = "\x1b[K"
"""Erase to the end of the line: a shorter line redrawn leaves nothing of the longer one behind."""


def counts_line(a: AgentCounts, target: int) -> str:
    """The plain line: ``  3/8 running (5 starting, 0 draining)``."""
    return f"  {a.ready + a.busy}/{target} running ({a.starting} starting, {a.draining} draining)"


def remaining(a: AgentCounts, target: int) -> int:
    """Agents still to start (up) or to leave (down) before the pool holds ``target`` running agents and no
    other."""
    running, total = a.ready + a.busy, a.ready + a.busy + a.starting + a.draining
    return max(target - running, total - target, 0)


def bar_line(a: AgentCounts, target: int, first: int, elapsed: float) -> str:
    """The line drawn on a terminal. ``first`` is what remained at the start, ``elapsed`` the seconds since."""
    left = remaining(a, target)
    done = max(first - left, 0)
    share = 1.0 if first == 0 else min(done / first, 1.0)
    filled = round(share * BAR)
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = f"   ~{left / rate:.0f}s left" if rate > 0 and left else ""
    return (
        f"  [{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%}   {a.ready + a.busy}/{target} running   "
        f"{a.starting} starting   {a.draining} draining   {rate:.1f} agents/s   {elapsed:.1f}s{eta}"
    )


class ProgressView:
    """Shows the counts of a pool on its way to ``target`` agents on ``stream``: redrawn in place when
    ``tty``, else a line each time the counts change. ``close`` ends the redrawn line."""

    def __init__(self, stream: TextIO, target: int, started: float, *, tty: bool) -> None:
        self.stream = stream
        self.target = target
        self.started = started
        self.tty = tty
        self._first: int | None = None
        self._last = ""

    def show(self, a: AgentCounts, now: float) -> None:
        """Show the counts ``a`` seen at ``now`` (monotonic seconds, like ``started``)."""
        if self._first is None:
            self._first = remaining(a, self.target)
        if self.tty:
            self.stream.write("\r" + bar_line(a, self.target, self._first, now - self.started) + ERASE)
            self.stream.flush()
            self._last = "drawn"
            return
        line = counts_line(a, self.target)
        if line != self._last:
            print(line, file=self.stream, flush=True)
            self._last = line

    def close(self) -> None:
        """End the line drawn in place, so what follows starts on a line of its own. Safe to call twice."""
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
            self._last = ""
