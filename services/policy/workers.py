"""The processes that simulate for the policy: ``optimize``'s configurations and auto mode's verdict on prediction.
They are spawned and run at low priority (:func:`simulating`), so that the agents on the host keep the CPU they
need. An ``optimize`` worker is given the recorded load once, when it starts, and then simulates one
configuration per call."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress

from agentscaler.shared.messages.optimize import Trial
from agentscaler.shared.messages.pools import AutoConfig

from .sim.trial import Setup, run_trial
from .sim.workload import Workload

NICE = 10
"""How much lower a simulating process's priority is than the policy's."""

_loaded: list[tuple[Sequence[Workload], Setup]] = []
"""The load this process simulates, set once by :func:`load` (a process pool's initializer)."""


def simulating(processes: int, prepare: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A pool of ``processes`` spawned worker processes at low priority, each running ``prepare`` first."""
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(prepare,),
    )


def _start(prepare: Callable[[], None] | None) -> None:
    with suppress(OSError):  # not allowed here: run at the same priority
        os.nice(NICE)
    if prepare is not None:
        prepare()


def load(workloads: Sequence[Workload], setup: Setup) -> None:
    """Keep ``workloads`` and ``setup`` for this process's trials."""
    _loaded[:] = [(workloads, setup)]


def trial(config: AutoConfig) -> Trial:
    """``config`` simulated on the loaded load."""
    workloads, setup = _loaded[0]
    return run_trial(workloads, config, setup)
