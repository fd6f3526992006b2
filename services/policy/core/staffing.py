"""Erlang C staffing: the agents that keep queue waits short on their own, for pools whose new agents start
too slowly to rescue a task that finds every agent busy."""

from __future__ import annotations

import math


def agents_for_wait(load: float, service: float, wait: float, miss: float) -> int:
    """The fewest agents ``n`` with which a task arriving at random waits longer than ``wait`` seconds with
    probability at most ``miss``, ``load`` being the arrival rate times the mean ``service`` time.

    The M/M/n queue: ``P(W > t) = C(n, a) * exp(-(n - a) * t / s)``, where ``C(n, a)``, the chance that all
    ``n`` agents are busy, comes from the Erlang B recursion ``B(k) = a B(k-1) / (k + a B(k-1))``.
    """
    if load <= 0:
        return 0
    if service <= 0 or not 0 < miss < 1:
        raise ValueError(f"service must be > 0 and miss within (0, 1), got service={service}, miss={miss}")
    blocked = 1.0
    n = 0
    while True:
        n += 1
        blocked = load * blocked / (n + load * blocked)
        if n <= load:
            continue  # the queue grows without end
        all_busy = n * blocked / (n - load * (1 - blocked))
        if all_busy * math.exp(-(n - load) * wait / service) <= miss:
            return n
