"""``agentscaler status --watch``: the status again each time the monitor has a new snapshot, polled every
``--watch`` seconds; in place on a terminal, one JSON snapshot a line with ``--json``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from agentscaler.shared.codec import encode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.snapshots import Snapshot
from agentscaler.shared.supervisor import stop_on_signals, wait_or_stop

from .client import Client
from .render import CLEAR, render_status


def is_new(at: float, last: float | None) -> bool:
    """Whether a snapshot taken at ``at`` differs from the last one shown (taken at ``last``; None for none):
    polling faster than the monitor's interval returns the same snapshot again, which is not redrawn."""
    return last is None or at != last


async def watch_status(client: Client, args: argparse.Namespace) -> int:
    """Poll the status every ``args.watch`` seconds until Ctrl-C and show each new snapshot."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    tty = sys.stdout.isatty()
    last: float | None = None
    while not stop.is_set():
        try:
            snapshot = await client.status(args.pool)
        except AgentscalerError as exc:
            if getattr(exc, "code", "") == "unknown_pool":
                raise
            print(f"status unavailable: {exc}; trying again in {args.watch:g}s", file=sys.stderr, flush=True)
        else:
            if is_new(snapshot.at, last):
                _show(snapshot, args, tty)
            last = snapshot.at
        await wait_or_stop(stop, args.watch)
    return 0


def _show(snapshot: Snapshot, args: argparse.Namespace, tty: bool) -> None:
    if args.json:
        print(encode(snapshot).decode(), flush=True)
        return
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.at))
    header = f"agentscaler status at {stamp}, checked every {args.watch:g}s (Ctrl-C to stop)\n\n"
    print((CLEAR if tty else "\n") + header + render_status(snapshot), flush=True)
