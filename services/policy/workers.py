"""The processes that simulate configurations for ``optimize``. Each is given the recorded load once, when it
starts, and then simulates one configuration per call; it runs at low priority, so that the agents on the
host keep the CPU they need."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress

from agentscaler.shared.messages.optimize import Trial
from agentscaler.shared.messages.pools import AutoConfig

from .sim.trial import Setup, run_trial
from .sim.workload import Workload

NICE = 10
"""How much lower a simulating process's priority is than the policy's."""

_loaded: list[tuple[Sequence[Workload], Setup]] = []
"""The load this process simulates, set once by :func:`load` (a process pool's initializer)."""


def load(workloads: Sequence[Workload], setup: Setup) -> None:
    """Keep ``workloads`` and ``setup`` for this process's trials, and lower its priority."""
    with suppress(OSError):  # not allowed here: run at the same priority
        os.nice(NICE)
    _loaded[:] = [(workloads, setup)]


def trial(config: AutoConfig) -> Trial:
    """``config`` simulated on the loaded load."""
    workloads, setup = _loaded[0]
    return run_trial(workloads, config, setup)
