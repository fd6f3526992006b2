"""One real agent process started by exec, for tests that drive an agent without the actuator."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def exec_agent(env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python -m agentscaler.services.agent`` with ``env``, its output captured as text; stopped (SIGTERM)
    at the end of the block if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentscaler.services.agent"],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)
