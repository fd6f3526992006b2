"""``agentscaler``: the command line."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import structlog

from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.pools import DEFAULT_POOL, AutoConfig
from agentscaler.shared.settings import DEFAULT_NATS_URL, SettingsError
from agentscaler.shared.telemetry.logging import configure_logging
from agentscaler.shared.telemetry.tracing import CLI_EXPORT_TIMEOUT, configure_tracing, shutdown_tracing, span

from . import commands, completion
from .argtypes import count, fraction, nonnegative, positive, since
from .completion import SHELLS
from .exit_codes import EXIT, Failure, classify, error_json
from .host_hold import add_host_parser
from .pool_flags import add_pool_flags
from .server_watch import MAX_DELAY_FACTOR, RestartPolicy

CONNECTION_FLAGS = (
    ("--creds", "FILE", "NATS .creds file (JWT and nkey seed)"),
    ("--nkey", "FILE", "nkey seed file"),
    ("--user", "NAME", "NATS user (with --password)"),
    ("--password", "SECRET", "NATS password (prefer $AGENTSCALER_PASSWORD: flags show in ps)"),
    ("--token", "SECRET", "NATS token (prefer $AGENTSCALER_TOKEN)"),
    ("--tls-ca", "FILE", "CA certificate that signed the server's certificate"),
    ("--tls-cert", "FILE", "client TLS certificate"),
    ("--tls-key", "FILE", "client TLS private key"),
    ("--context", "NAME", "NATS CLI context (~/.config/nats/context/NAME.json); other settings win"),
)
"""How to connect, besides --nats-url: the connection settings of the same names (default: $AGENTSCALER_<NAME>)."""


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    for flag, metavar, text in CONNECTION_FLAGS:
        parser.add_argument(flag, metavar=metavar, help=text)


LONG_RUNNING_JSON = "an error that stops it as JSON on stdout (its log lines on stderr are JSON already)"


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--nats-url",
        help=f"NATS server URLs, comma-separated (default: $AGENTSCALER_NATS_URL or {DEFAULT_NATS_URL})",
    )
    add_connection_flags(common)
    common.add_argument("--config", metavar="FILE", help="TOML settings file (default: $AGENTSCALER_CONFIG)")
    common.add_argument(
        "--json", action="store_true", help="print JSON for machines, errors too (see docs/cli.md#exit-codes)"
    )
    pooled = argparse.ArgumentParser(add_help=False, parents=[common])
    pooled.add_argument("--pool", default=DEFAULT_POOL, help="the pool (default: %(default)s)")

    p = argparse.ArgumentParser(
        prog="agentscaler", description="Keep the right number of AI agent processes alive, over NATS."
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run an embedded NATS server and all services")
    run.add_argument("--json", action="store_true", help=LONG_RUNNING_JSON)
    run.add_argument("--nats-url", default=os.environ.get("AGENTSCALER_NATS_URL"), help="use this NATS server instead")
    add_connection_flags(run)
    run.add_argument(
        "--data-dir", help="where the embedded server keeps its data (default: ~/.local/share/agentscaler)"
    )
    run.add_argument("--port", type=int, default=4222, help="port of the embedded server (default: %(default)s)")
    run.add_argument("--config", help="TOML settings file (also $AGENTSCALER_CONFIG)")
    run.add_argument("--log-file", help="write service logs here instead of stderr")
    run.add_argument(
        "--auth", metavar="DIR", help="secure the embedded server with `auth init DIR`'s users; services use theirs"
    )
    run.add_argument(
        "--cluster-port",
        type=int,
        metavar="PORT",
        help="make the embedded server a node of a NATS cluster, taking the other nodes' routes on PORT "
        "(its data then goes to DATA_DIR/node-PORT unless --data-dir is given)",
    )
    run.add_argument(
        "--routes",
        metavar="nats://HOST:PORT,...",
        help="with --cluster-port: the other nodes' cluster URLs (their --cluster-port)",
    )
    run.add_argument(
        "--cluster-name", metavar="NAME", help="with --cluster-port: the cluster's name (default: agentscaler)"
    )
    run.add_argument(
        "--replicas",
        type=int,
        metavar="N",
        help="copies of each stream and bucket the services create: 3 on a 3-node cluster "
        "(default: $AGENTSCALER_REPLICAS or 1)",
    )
    run.add_argument(
        "--server-restarts",
        type=int,
        metavar="N",
        help=f"restart a dying embedded server at most N times within {RestartPolicy.window / 60:g} minutes, "
        f"then exit 1; 0: never (default: $AGENTSCALER_SERVER_RESTARTS or {RestartPolicy.max_restarts})",
    )
    run.add_argument(
        "--server-restart-delay",
        type=float,
        metavar="SECONDS",
        help=f"pause before the first restart, doubling up to {MAX_DELAY_FACTOR}x for the next ones "
        f"(default: $AGENTSCALER_SERVER_RESTART_DELAY or {RestartPolicy.first_delay:g})",
    )

    serve = sub.add_parser("serve", help="run one service against a running NATS server")
    serve.add_argument("service", choices=["monitor", "policy", "actuator", "registry"])
    serve.add_argument("--json", action="store_true", help=LONG_RUNNING_JSON)
    serve.add_argument("--nats-url", help=f"NATS server URL (default: from settings, else {DEFAULT_NATS_URL})")
    add_connection_flags(serve)
    serve.add_argument("--config", help="TOML settings file (also $AGENTSCALER_CONFIG)")

    for verb, what in (("up", "scale a pool up to N agents"), ("down", "scale a pool down to N agents (0 allowed)")):
        cmd = sub.add_parser(verb, parents=[pooled], help=what)
        cmd.add_argument("n", type=count, metavar="N", help="agents in total")
        cmd.add_argument("--wait", action="store_true", help="wait until the pool has N agents")
        cmd.add_argument("--timeout", type=positive, default=120.0, help="seconds to --wait (default: %(default)s)")

    auto = sub.add_parser("auto", parents=[pooled], help="hand a pool to the policy: it sizes the pool from its load")
    auto_defaults = AutoConfig()  # the settings a pool starts with; a flag not given keeps the pool's stored one
    auto.add_argument(
        "--min",
        type=count,
        dest="min_agents",
        help=f"the fewest agents (default {auto_defaults.min_agents}; 0 scales to zero)",
    )
    auto.add_argument("--max", type=count, dest="max_agents", help="the most agents (default: the pool's max_agents)")
    auto.add_argument(
        "--target-wait",
        type=positive,
        help=f"seconds a task may wait before it starts (p95; default {auto_defaults.target_wait:g})",
    )
    auto.add_argument(
        "--scale-down-window",
        type=positive,
        help=f"seconds of lower demand before the pool shrinks (default {auto_defaults.scale_down_window:g})",
    )
    auto.add_argument(
        "--utilization",
        type=fraction,
        help=f"share of the agents to keep busy under steady load (default {auto_defaults.utilization:g}; at 1 no idle "
        "headroom beyond what agents slower to start than the target wait need; lower it for shorter waits)",
    )
    auto.add_argument(
        "--predict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"predict recurring load where it beats reacting (default: {'on' if auto_defaults.predict else 'off'})",
    )
    auto.add_argument(
        "--dry-run", action="store_true", help="compute and publish decisions without applying them (forecast only)"
    )
    sub.add_parser("manual", parents=[pooled], help="take a pool back from the policy at its current size")
    history = sub.add_parser("history", parents=[common], help="the policy's recorded decisions, oldest first")
    history.add_argument("--pool", help="only this pool")
    history.add_argument("--since", type=positive, default=3600.0, help="seconds back (default: %(default)s)")
    history.add_argument("--limit", type=count, default=50, help="at most this many, the newest (default: %(default)s)")
    audit = sub.add_parser(
        "audit", parents=[common], help="who sent which command, accepted or refused, and permission violations"
    )
    audit.add_argument(
        "--since", type=since, default=86400.0, metavar="DURATION", help="how far back, e.g. 90m, 24h (default: 24h)"
    )
    audit.add_argument("--limit", type=count, default=100, help="at most this many, the newest (default: %(default)s)")
    audit.add_argument("--kind", choices=("command", "violation"), help="only commands, or only violations")
    audit.add_argument("--actor", help="only commands of this actor (public key or role name)")
    audit.add_argument("--pool", help="only commands about this pool")

    status = sub.add_parser("status", parents=[common], help="pools, agents, queues, tasks and host resources")
    status.add_argument("--pool", help="only this pool")
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

    pool = sub.add_parser("pool", help="create, change and list pools")
    pool_sub = pool.add_subparsers(dest="pool_command", required=True, metavar="ACTION")
    pool_set = pool_sub.add_parser("set", parents=[common], help="create a pool or change its settings")
    pool_set.add_argument("name")
    add_pool_flags(pool_set)  # one per PoolConfig field
    pool_set.add_argument(
        "--check-wait",
        type=nonnegative,
        default=10.0,
        metavar="SECONDS",
        help="wait up to this long for the hosts to try the handler, and report one they cannot load "
        "(exit 1); 0 not to wait (default: %(default)s)",
    )
    pool_show = pool_sub.add_parser("show", parents=[common], help="one pool's settings and state")
    pool_show.add_argument("name")
    pool_sub.add_parser("list", parents=[common], help="every pool")

    add_host_parser(sub, common)

    demo = sub.add_parser("demo", help="run everything with a synthetic workload and a live status view")
    demo.add_argument("--data-dir", help="keep the demo's data here (default: a temporary directory)")
    demo.add_argument("--speed", type=positive, default=1.0, help="run the script faster (default: %(default)s)")
    demo.add_argument(
        "--json", action="store_true", help="instead of the live view, a JSON line a second: the status and the script"
    )

    sub.add_parser(
        "config",
        parents=[common],
        help="every setting's effective value, where it came from (file, environment, flag) and meaning",
    )
    completion = sub.add_parser("completion", help="print a shell completion script: eval it, or save it")
    completion.add_argument("shell", choices=SHELLS)

    auth = sub.add_parser("auth", help="credentials and permissions for a secured bus")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    auth_init = auth_sub.add_parser(
        "init",
        help="write credentials per role (DIR/<role>.creds) and the server's configuration (DIR/nats-server.conf)",
    )
    auth_init.add_argument("dir", metavar="DIR")
    auth_init.add_argument("--force", action="store_true", help="replace the keys DIR already holds")
    auth_init.add_argument("--pools", metavar="P1,P2", help="pools the submitter role may use (default: all)")
    auth_init.add_argument("--json", action="store_true", help="print the files written as JSON")
    return p


def package_version() -> str:
    try:
        return version("agentscaler")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line. With ``--json`` anywhere in it, a usage error is JSON on stdout too (argparse
    still exits 2)."""
    if "--json" not in argv:
        return parser().parse_args(argv)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser().parse_args(argv)
    except SystemExit as exc:
        line = (err.getvalue().strip().splitlines() or [""])[-1]
        message = line.partition(": error: ")[2] or line  # argparse's "agentscaler up: error: ..."
        if exc.code == EXIT["usage"] and message:
            print(error_json(Failure("usage", message, EXIT["usage"])).decode())
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else list(argv))
    if args.command == "completion":
        print(completion.script(parser(), args.shell))
        return 0
    long_running = args.command in ("run", "serve", "demo")
    if not long_running:
        configure_logging("cli", json=False, level="warning")
    try:
        if long_running:  # console spans on stdout: stderr carries the services' JSON log lines
            configure_tracing(getattr(args, "service", args.command), console=sys.stdout)
        else:  # stdout is the command's output; a command never waits long on a collector
            configure_tracing("cli", export_timeout=CLI_EXPORT_TIMEOUT, console=sys.stderr)
        if long_running:  # services start their own traces; one span around them all would swallow them
            return commands.dispatch(args)
        with span(f"agentscaler {args.command}"):
            return commands.dispatch(args)
    except (AgentscalerError, SettingsError, ValueError) as exc:
        return report(classify(exc), getattr(args, "json", False))
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


def report(failure: Failure, as_json: bool) -> int:
    """Print a command's error (one line on stderr, or JSON on stdout) and return its exit status."""
    if as_json:
        print(error_json(failure).decode(), flush=True)
    else:
        print(f"agentscaler: error: {failure.message}", file=sys.stderr)
    return failure.exit
