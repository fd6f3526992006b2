"""Command latency: what a command costs the policy, with its audit record (stored in the audit stream before the
reply) and, as the baseline measured in the same run, with the recorder replaced by one that stores nothing.

Runs a private nats-server and the policy in this process, then sends each command N times in turn:

    python bench/commands.py --requests 500
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats
from waiting import eventually

from agentscaler.services.policy import audit, service
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.server import EmbeddedServer, free_port

COMMANDS = (
    ("list_pools", subjects.COMMAND_READ, b'{"type":"list_pools"}'),
    ("scale", subjects.COMMAND_OPERATE, b'{"type":"scale","pool":"default","direction":"up","count":0}'),
)


@contextmanager
def unaudited() -> Iterator[None]:
    """The policy's recorder stores nothing (the baseline)."""
    kept = audit.CommandAudit.record

    async def nothing(self: Any, *args: Any) -> None:
        return None

    audit.CommandAudit.record = nothing  # type: ignore[method-assign]
    try:
        yield
    finally:
        audit.CommandAudit.record = kept  # type: ignore[method-assign]


async def measure(n: int) -> dict[str, float]:
    """Milliseconds per request of each command, against a fresh server and policy."""
    server = EmbeddedServer(Path(tempfile.mkdtemp(prefix="agentscaler-bench-")), port=free_port())
    server.start()
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(PolicySettings(nats_url=server.url), stop))
    nc = await nats.connect(server.url)
    try:
        await eventually(lambda: nc.request(subjects.COMMAND_READ, COMMANDS[0][2], timeout=2), what="the policy")
        out = {}
        for name, subject, body in COMMANDS:
            start = time.perf_counter()
            for _ in range(n):
                await nc.request(subject, body, timeout=5)
            out[name] = (time.perf_counter() - start) / n * 1000
        return out
    finally:
        await nc.close()
        stop.set()
        await task
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests of each command")
    args = parser.parse_args()
    audited = asyncio.run(measure(args.requests))
    with unaudited():
        baseline = asyncio.run(measure(args.requests))
    print(f"{'ms per request':16} {'audited':>9} {'no record (baseline)':>21} {'ratio':>7}")
    for name, _, _ in COMMANDS:
        print(f"{name:16} {audited[name]:>9.2f} {baseline[name]:>21.2f} {audited[name] / baseline[name]:>6.2f}x")


if __name__ == "__main__":
    main()
