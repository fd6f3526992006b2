"""Child processes that must not outlive their parent."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from functools import cache

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def set_parent_death_signal(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux; a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        _libc().prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for children of this process: :func:`set_parent_death_signal`, and exit at once if
    this process is already gone."""
    parent = os.getpid()

    def preexec() -> None:
        set_parent_death_signal(sig)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def become_subreaper() -> None:
    """Orphaned descendants are reparented to this process instead of init, so it can reap them (Linux)."""
    if sys.platform.startswith("linux"):
        _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@cache
def _libc() -> ctypes.CDLL:
    """The C library, loaded once (a fork server loads it before forking, not each agent)."""
    return ctypes.CDLL(None, use_errno=True)
