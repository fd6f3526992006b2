"""``agentscaler``: the command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence

import structlog

from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.settings import DEFAULT_NATS_URL, SettingsError
from agentscaler.shared.telemetry.logging import configure_logging
from agentscaler.shared.telemetry.tracing import configure_tracing, shutdown_tracing, span

from . import commands
from .units import parse_duration

MAX_COUNT = 1_000_000


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give a whole number of agents, 0 or more") from None
    if not 0 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give a whole number from 0 to {MAX_COUNT}")
    return value


def _number(text: str, ok: Callable[[float], bool], words: str) -> float:
    """``text`` as a finite number that is ``ok``; else a usage error asking for ``words``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give {words}") from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"bad number {text!r}: give {words}")
    return value


def positive(text: str) -> float:
    return _number(text, lambda v: v > 0, "a positive number")


def nonnegative(text: str) -> float:
    """A price: 0 or more, e.g. ``--cost-per-agent-hour 0.12``."""
    return _number(text, lambda v: v >= 0, "a number, 0 or more")


def fraction(text: str) -> float:
    """A share above 0 and at most 1, e.g. ``--utilization 0.8``."""
    value = positive(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"bad share {text!r}: give a number above 0 and at most 1")
    return value


def since(text: str) -> float:
    """A duration such as ``24h``, ``90m`` or ``3600`` (seconds)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--nats-url",
        default=os.environ.get("AGENTSCALER_NATS_URL", DEFAULT_NATS_URL),
        help="NATS server URL (default: $AGENTSCALER_NATS_URL or %(default)s)",
    )
    pooled = argparse.ArgumentParser(add_help=False, parents=[common])
    pooled.add_argument("--pool", default="default", help="the pool (default: %(default)s)")

    p = argparse.ArgumentParser(
        prog="agentscaler", description="Keep the right number of AI agent processes alive, over NATS."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run an embedded NATS server and all services")
    run.add_argument("--nats-url", default=os.environ.get("AGENTSCALER_NATS_URL"), help="use this NATS server instead")
    run.add_argument(
        "--data-dir", help="where the embedded server keeps its data (default: ~/.local/share/agentscaler)"
    )
    run.add_argument("--port", type=int, default=4222, help="port of the embedded server (default: %(default)s)")
    run.add_argument("--config", help="TOML settings file (also $AGENTSCALER_CONFIG)")
    run.add_argument("--log-file", help="write service logs here instead of stderr")

    serve = sub.add_parser("serve", help="run one service against a running NATS server")
    serve.add_argument("service", choices=["monitor", "policy", "actuator", "registry"])
    serve.add_argument("--nats-url", help=f"NATS server URL (default: from settings, else {DEFAULT_NATS_URL})")
    serve.add_argument("--config", help="TOML settings file (also $AGENTSCALER_CONFIG)")

    for verb, what in (("up", "scale a pool up to N agents"), ("down", "scale a pool down to N agents (0 allowed)")):
        cmd = sub.add_parser(verb, parents=[pooled], help=what)
        cmd.add_argument("n", type=count, metavar="N", help="agents in total")
        cmd.add_argument("--wait", action="store_true", help="wait until the pool has N agents")
        cmd.add_argument("--timeout", type=positive, default=120.0, help="seconds to --wait (default: %(default)s)")

    auto = sub.add_parser("auto", parents=[pooled], help="hand a pool to the policy: it sizes the pool from its load")
    auto.add_argument("--min", type=count, dest="min_agents", help="the fewest agents (default 0: scale to zero)")
    auto.add_argument("--max", type=count, dest="max_agents", help="the most agents (default: the pool's max_agents)")
    auto.add_argument("--target-wait", type=positive, help="seconds a task may wait before it starts (p95; default 5)")
    auto.add_argument(
        "--scale-down-window", type=positive, help="seconds of lower demand before the pool shrinks (default 10)"
    )
    auto.add_argument(
        "--utilization",
        type=fraction,
        help="share of the agents to keep busy under steady load (default 1: no idle headroom beyond what agents "
        "slower to start than the target wait need; lower it for shorter waits)",
    )
    auto.add_argument(
        "--predict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="raise the floor ahead of load that recurs daily (default: on)",
    )
    auto.add_argument(
        "--dry-run", action="store_true", help="compute and publish decisions without applying them (forecast only)"
    )
    sub.add_parser("manual", parents=[pooled], help="take a pool back from the policy at its current size")
    history = sub.add_parser("history", parents=[common], help="the policy's recorded decisions, oldest first")
    history.add_argument("--pool", help="only this pool")
    history.add_argument("--since", type=positive, default=3600.0, help="seconds back (default: %(default)s)")
    history.add_argument("--limit", type=count, default=50, help="at most this many, the newest (default: %(default)s)")
    history.add_argument("--json", action="store_true", help="print JSON lines for machines")

    status = sub.add_parser("status", parents=[common], help="pools, agents, queues, tasks and host resources")
    status.add_argument("--pool", help="only this pool")
    status.add_argument("--json", action="store_true", help="print JSON for machines")
    status.add_argument(
        "--watch",
        type=positive,
        nargs="?",
        const=2.0,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until Ctrl-C; with --json, a snapshot a line",
    )

    tune = sub.add_parser(
        "optimize",
        parents=[pooled],
        help="tune a pool's auto settings to its recorded load (a simulated replay; nothing changes without --apply)",
    )
    tune.add_argument(
        "--since", type=since, default=86400.0, metavar="DURATION", help="recorded load to replay (default: 24h)"
    )
    tune.add_argument(
        "--budget", type=positive, metavar="PER_HOUR", help="never recommend settings predicted to cost more an hour"
    )
    tune.add_argument("--apply", action="store_true", help="store the recommended settings with the pool")
    tune.add_argument("--plot", metavar="FILE", help="also draw the cost/latency trade-off as a PNG (needs matplotlib)")
    tune.add_argument("--json", action="store_true", help="print the report as JSON for machines")
    tune.add_argument(
        "--timeout", type=positive, default=900.0, help="seconds to wait for the search (default: %(default)s)"
    )

    submit = sub.add_parser("submit", parents=[pooled], help="enqueue tasks; prints their ids")
    submit.add_argument("payload", nargs="?", help="the task's JSON payload (default: one per line from stdin)")
    submit.add_argument("--count", type=count, default=1, help="submit K copies (default: %(default)s)")

    result = sub.add_parser("result", parents=[pooled], help="a task's result or state")
    result.add_argument("task_id", metavar="ID")
    result.add_argument("--wait", type=positive, metavar="SECONDS", help="wait up to SECONDS for the result")

    agents = sub.add_parser("agents", parents=[common], help="list the registered agents")
    agents.add_argument("--pool", help="only this pool")
    agents.add_argument("--json", action="store_true", help="print JSON for machines")

    pool = sub.add_parser("pool", help="create, change and list pools")
    pool_sub = pool.add_subparsers(dest="pool_command", required=True, metavar="ACTION")
    pool_set = pool_sub.add_parser("set", parents=[common], help="create a pool or change its settings")
    pool_set.add_argument("name")
    pool_set.add_argument("--handler", help="task handler as module:function")
    pool_set.add_argument("--max-agents", type=count)
    pool_set.add_argument("--ack-wait", type=positive, help="seconds before an unacknowledged task is redelivered")
    pool_set.add_argument("--max-attempts", type=count, help="deliveries before a task is reported failed")
    pool_set.add_argument("--drain-timeout", type=positive, help="seconds a draining agent may take")
    pool_set.add_argument("--agent-memory-mb", type=positive, help="memory budget per agent before one is measured")
    pool_set.add_argument("--agent-memory-limit-mb", type=count, help="cgroup memory limit per agent slot (0: none)")
    pool_set.add_argument("--agent-pids-limit", type=count, help="cgroup pids limit per agent slot (0: none)")
    pool_set.add_argument("--heartbeat-interval", type=positive)
    pool_set.add_argument("--pull-timeout", type=positive)
    pool_set.add_argument("--prefetch", type=count, help="tasks an agent takes at once (raise for many short tasks)")
    pool_set.add_argument("--cost-per-agent-hour", type=nonnegative, help="what an agent costs an hour (0: unpriced)")
    pool_set.add_argument("--cost-per-task", type=nonnegative, help="what a finished task costs on top")
    pool_set.add_argument("--env", action="append", metavar="KEY=VALUE", help="environment for the pool's agents")
    pool_set.add_argument(
        "--spawn", choices=["fork", "exec"], help="fork agents from a preloaded server (default) or exec each one"
    )
    pool_show = pool_sub.add_parser("show", parents=[common], help="one pool's settings and state")
    pool_show.add_argument("name")
    pool_sub.add_parser("list", parents=[common], help="every pool")

    demo = sub.add_parser("demo", help="run everything with a synthetic workload and a live status view")
    demo.add_argument("--data-dir", help="keep the demo's data here (default: a temporary directory)")
    demo.add_argument("--speed", type=positive, default=1.0, help="run the script faster (default: %(default)s)")

    sub.add_parser("config", help="list every service setting with its default and meaning")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    long_running = args.command in ("run", "serve", "demo")
    if not long_running:
        configure_logging("cli", json=False, level="warning")
    configure_tracing("cli" if not long_running else args.command)
    try:
        if long_running:  # services start their own traces; one span around them all would swallow them
            return commands.dispatch(args)
        with span(f"agentscaler {args.command}"):
            return commands.dispatch(args)
    except (AgentscalerError, SettingsError, ValueError) as exc:
        print(f"agentscaler: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if not long_running:
            shutdown_tracing()
        structlog.contextvars.clear_contextvars()
