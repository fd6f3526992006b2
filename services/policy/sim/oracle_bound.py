"""A lower bound on the agent-seconds of any policy that keeps every task's wait within the target (see
``oracle``'s module docstring for the argument)."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from .workload import Workload


def deadline(arrival: float, target_wait: float, start_delay: float) -> float:
    """The latest start a task may have: its arrival plus the target wait, but no earlier than ``start_delay``
    (no agent is ready before then, so a task arriving earlier may wait until then)."""
    return max(arrival + target_wait, start_delay)


def forced_levels(workload: Workload, target_wait: float, start_delay: float) -> tuple[int, float, list[float]]:
    """The forced busy count ``b_f(t)``: the tasks that run at ``t`` whatever their start, i.e. those with
    ``deadline <= t < arrival + service``. Returns its peak, its integral, and the gaps between the consecutive
    on-periods of each of its levels ``{b_f >= k}``."""
    edges: list[tuple[float, int]] = []
    for arrival, service in zip(workload.arrivals, workload.services, strict=True):
        begin, end = deadline(arrival, target_wait, start_delay), arrival + service
        if end > begin:
            edges += ((begin, 1), (end, -1))
    edges.sort()  # at a tie, an end (-1) sorts first: a level that ends and starts again at once has no gap
    level, peak, area, last = 0, 0, 0.0, 0.0
    off: list[float] = []  # when each level last turned off
    gaps: list[float] = []
    for at, step in edges:
        area += level * (at - last)
        last = at
        if step > 0:
            level += 1
            if level > peak:
                peak = level
                off.append(at)
            elif at > off[level - 1]:
                gaps.append(at - off[level - 1])
        else:
            off[level - 1] = at
            level -= 1
    return peak, area, gaps


def lower_bound(workload: Workload, *, target_wait: float, start_delay: float) -> float:
    """The most of ``D * peak + l * work + (1 - l) * area + sum(min((1 - l) * gap, D))`` over ``l`` in [0, 1]
    (``D`` the start delay; ``peak``, ``area`` and ``gap`` those of :func:`forced_levels`), and at least
    ``work + D`` when there is any task. The function is concave and piecewise linear in ``c = 1 - l``, so its
    most is at ``c`` = 0, 1, or a break ``D / gap``."""
    if not len(workload):
        return 0.0
    work, delay = workload.work, start_delay
    peak, area, gaps = forced_levels(workload, target_wait, start_delay)
    gaps.sort()
    before = [0.0, *accumulate(gaps)]  # before[j]: the sum of the j shortest gaps

    def bound(c: float) -> float:
        short = bisect_right(gaps, delay / c) if c > 0 else len(gaps)
        return delay * peak + work - c * (work - area) + c * before[short] + delay * (len(gaps) - short)

    breaks = [delay / gap for gap in gaps if gap > delay]
    best = max(bound(c) for c in (0.0, 1.0, *breaks)) if delay > 0 else work
    return max(best, work + delay * max(peak, 1))
