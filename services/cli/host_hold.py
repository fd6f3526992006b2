"""``agentscaler host cordon|uncordon|drain NAME``: hold a host like ``kubectl cordon/drain``, and with
``drain --wait``, wait until none of its agents is left."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from agentscaler.shared.errors import TimedOut
from agentscaler.shared.messages.commands import HostHeld

from .argtypes import positive
from .client import Client
from .output import print_json

WORDS = {
    "cordoned": "cordoned: it keeps the agents it runs and gets no new ones",
    "draining": "draining: its agents finish their tasks and are placed on the other hosts",
    "none": "takes agents again (its share grows at the next decisions, a few agents at a time)",
}


def add_host_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    host = sub.add_parser("host", help="cordon, drain or uncordon a host (like kubectl cordon/drain)")
    actions = host.add_subparsers(dest="host_command", required=True, metavar="ACTION")
    for action, what in (
        ("cordon", "place no new agents on a host; those it runs stay"),
        ("uncordon", "let a cordoned or drained host take agents again"),
        ("drain", "move a host's agents to the other hosts (busy ones finish their task first)"),
    ):
        cmd = actions.add_parser(action, parents=[common], help=what)
        cmd.add_argument("host", metavar="NAME", help="the host's name, as `agentscaler status` shows it")
        if action == "drain":
            cmd.add_argument("--wait", action="store_true", help="wait until no agent is left on the host")
            cmd.add_argument("--timeout", type=positive, default=300.0, help="seconds to --wait (default: %(default)s)")


async def host_command(client: Client, args: argparse.Namespace) -> int:
    reply: HostHeld = await client.hold(args.host, args.host_command)
    if args.json:
        print_json(reply)
    else:
        print(f"host {reply.host}: {WORDS[reply.held]}")
        for pool, share in sorted(reply.shares.items()):
            print(f"  pool {pool}: {share} agents placed here")
    if reply.note:
        print(f"note: {reply.note}", file=sys.stderr)
    if args.host_command == "drain" and args.wait:
        await _wait_drained(client, reply.host, args.timeout)
    return 0


async def _wait_drained(client: Client, host: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = [a for a in (await client.agents()).agents if a.host == host]
        if not left:
            print(f"host {host}: drained, no agent left", file=sys.stderr)
            return
        if time.monotonic() > deadline:
            busy = sum(a.state == "busy" for a in left)
            raise TimedOut(
                f"host {host} still runs {len(left)} agents ({busy} busy) after {timeout:g}s: busy agents finish "
                "their task first (up to their pool's drain_timeout); see `agentscaler agents`"
            )
        await asyncio.sleep(0.5)
