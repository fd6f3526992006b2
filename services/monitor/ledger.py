"""A pool's books: every finished task recorded once, by ``Ledger.add``, and kept per second, per minute and
as a short raw window; and the agent-seconds of its agents. The task figures of a snapshot, the scaling
impacts and the cost all read them. Pure: time is passed in, and only ``advance`` (the periodic snapshot)
moves anything with it."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from agentscaler.shared.messages.snapshots import TaskStats, WindowFigures
from agentscaler.shared.messages.tasks import TaskResult
from agentscaler.shared.numbers import percentile

from .ring import Ring

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
KEEP = 900
"""Whole seconds of per-second figures read back from now: enough for the windows around the changes
reported (``impact_window`` at most 400 s before a change, and ``impact_settle`` plus ``impact_window``, at
most 500 s, after it)."""
DAY_MINUTES = 1440
"""Minutes of per-minute figures: a day's."""
AHEAD = 60
"""Slots of each ring beyond what is read back (seconds or minutes): results stamped that far ahead of the
monitor's clock (another host's) do not push out a unit still read."""
RECENT = 10_000
"""Results the raw window holds at most, about 2 MB: the stats window's percentiles are over the latest
``RECENT`` of its results beyond ``RECENT`` / ``stats_window`` tasks a second."""


def throughput(tasks: int, seconds: float) -> float:
    """Tasks finished a second: ``tasks`` finished in a span of ``seconds`` over its length (0 for none). The
    one definition, for the stats window, the impact windows and the cost's burn rate."""
    return tasks / seconds if seconds > 0 else 0.0


@dataclass
class Ledger:
    """A pool's finished tasks and agent-seconds, in bounded memory:

    - ``seconds``: tasks, summed latency and summed wait per whole second of finishing, ``KEEP + AHEAD``
      seconds (the impact windows);
    - ``minutes``: tasks and agent-seconds per minute, ``DAY_MINUTES + AHEAD`` minutes (the cost);
    - ``recent``: (finished_at, latency, wait, service) of the latest results, at most ``RECENT``, let go
      ``stats_window`` seconds after they finished (the stats window's percentiles);
    - exact counts of results ``ok`` and failed, ever.

    Agent counts hold from one ``advance`` to the next: the agent-seconds are their integral over time. What
    happened before the first ``advance`` (e.g. before the monitor started) is not known, and ``covered``
    says how far back the figures reach."""

    completed: int = 0
    failed: int = 0
    seconds: Ring = field(default_factory=lambda: Ring(KEEP + AHEAD, 3))
    minutes: Ring = field(default_factory=lambda: Ring(DAY_MINUTES + AHEAD, 2))
    recent: deque[tuple[float, float, float, float]] = field(default_factory=lambda: deque(maxlen=RECENT))
    """(finished_at, latency, wait, service) of recent results, in the order they arrived."""
    cut: float = -math.inf
    """The latest finishing time among the results ``RECENT`` pushed out of ``recent``."""
    agents: tuple[float, int] | None = None
    """(time, agents) at the latest ``advance``."""
    since: float | None = None
    """The first ``advance``."""

    def add(self, result: TaskResult) -> None:
        """Record a finished task (once: results are created once per task id)."""
        if result.status == "ok":
            self.completed += 1
        else:
            self.failed += 1
        latency = max(result.finished_at - result.submitted_at, 0.0)
        wait = max(result.started_at - result.submitted_at, 0.0)
        service = max(result.finished_at - result.started_at, 0.0)
        if len(self.recent) == self.recent.maxlen:
            self.cut = max(self.cut, self.recent[0][0])
        self.recent.append((result.finished_at, latency, wait, service))
        self.seconds.add(math.floor(result.finished_at), (1.0, latency, wait))
        self.minutes.add(math.floor(result.finished_at / MINUTE), (1.0, 0.0))

    def advance(self, now: float, agents: int, window: float) -> None:
        """The periodic snapshot at ``now``: the pool had the previous count of agents until now and has
        ``agents`` from now on; raw results finished more than ``window`` seconds ago are let go."""
        if self.agents is not None and now > self.agents[0]:
            then, count = self.agents
            if count:
                self._spread(max(then, now - DAY), now, count)
        if self.agents is None or now >= self.agents[0]:
            self.agents = (now, agents)
        if self.since is None:
            self.since = now
        while self.recent and self.recent[0][0] < now - window:
            self.recent.popleft()

    def _spread(self, start: float, end: float, agents: int) -> None:
        """Add ``agents`` agents' seconds from ``start`` to ``end`` to the minutes they fall in."""
        t = start
        while t < end:
            minute = math.floor(t / MINUTE)
            until = min(end, (minute + 1) * MINUTE)
            self.minutes.add(minute, (0.0, agents * (until - t)))
            t = until

    def stats(self, now: float, window: float, arrival_rate: float = 0.0) -> TaskStats:
        """The task figures over the ``window`` seconds up to ``now``: results finished in it (exactly, from
        the raw window; to the second, from the per-second figures, when ``RECENT`` cut the raw window short
        of it), their latency and wait percentiles and mean service time."""
        start = now - window
        in_window = [r for r in self.recent if start <= r[0] <= now]
        if self.cut < start:
            tasks = len(in_window)
        else:
            tasks = round(self.seconds.total(max(math.ceil(start), math.floor(now) - KEEP), math.floor(now) + 1)[0])
        latencies = [r[1] for r in in_window]
        waits = [r[2] for r in in_window]
        services = [r[3] for r in in_window]
        return TaskStats(
            completed=self.completed,
            failed=self.failed,
            throughput=round(throughput(tasks, window), 3),
            latency_p50=round(percentile(latencies, 50), 4),
            latency_p95=round(percentile(latencies, 95), 4),
            wait_p95=round(percentile(waits, 95), 4),
            window=window,
            service_mean=round(sum(services) / len(services), 4) if services else 0.0,
            arrival_rate=arrival_rate,
        )

    def window(self, start: float, end: float, now: float) -> WindowFigures:
        """Tasks finished in the whole seconds from ``start`` to ``end``; seconds more than ``KEEP`` before
        ``now`` are no longer known and count none."""
        first, last = math.ceil(start), math.floor(end)
        count, latency, wait = self.seconds.total(max(first, math.floor(now) - KEEP), last)
        tasks = round(count)
        return WindowFigures(
            throughput=round(throughput(tasks, max(last - first, 1)), 4),
            latency_mean=round(latency / tasks, 4) if tasks else 0.0,
            wait_mean=round(wait / tasks, 4) if tasks else 0.0,
            tasks=tasks,
        )

    def used(self, now: float, window: float) -> tuple[float, int]:
        """Agent-seconds and finished tasks in the ``window`` seconds (at most a day) before ``now``, in whole
        minutes, the current one included; the agents' seconds since the latest ``advance`` too."""
        first = math.floor((now - window) / MINUTE) + 1
        tasks, seconds = self.minutes.total(first)
        if self.agents is not None:
            then, count = self.agents
            seconds += count * max(now - max(then, first * MINUTE), 0.0)
        return seconds, round(tasks)

    def covered(self, now: float) -> float:
        """Seconds back from ``now`` that the figures cover (at most a day)."""
        return 0.0 if self.since is None else min(max(now - self.since, 0.0), DAY)
