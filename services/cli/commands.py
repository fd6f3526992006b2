"""What each CLI command does."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from agentscaler.shared.bus.options import CONNECTION_FIELDS
from agentscaler.shared.codec import encode
from agentscaler.shared.errors import AgentscalerError, TimedOut
from agentscaler.shared.messages.audit import AuditRecord
from agentscaler.shared.messages.commands import PoolInfo
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.settings import CommonSettings, load
from agentscaler.shared.telemetry.logging import configure_logging

from . import auth, config_view
from .audit_view import render_audit
from .client import Client, connected
from .exit_codes import BadInput, result_exit
from .handler_check import handler_verdict
from .host_hold import host_command
from .optimize_report import optimize
from .output import print_json
from .pool_flags import flag_fields
from .progress import ProgressView, counts_line, remaining
from .render import render_status
from .status_watch import watch_status

T = TypeVar("T")


def dispatch(args: argparse.Namespace) -> int:
    # The services (and the demo) are imported by the commands that run them only: a client command starts in
    # a fraction of the time without them.
    if args.command == "run":
        return _run(args)
    if args.command == "serve":
        from . import launcher

        configure_logging(args.service, level=launcher.log_level(args.config))
        return asyncio.run(
            launcher.serve_services([args.service], args.nats_url, args.config, connection=connection_flags(args))
        )
    if args.command == "demo":
        from . import demo

        return demo.main(Path(args.data_dir) if args.data_dir else None, args.speed, as_json=args.json)
    if args.command == "config":
        return _config(args)
    if args.command == "auth":
        return _auth_init(args)
    return asyncio.run(_client_command(args))


def _run(args: argparse.Namespace) -> int:
    from . import launcher

    settings = launcher.run_settings(
        args.config,
        {"server_restarts": args.server_restarts, "server_restart_delay": args.server_restart_delay},
    )
    log_stream = open(args.log_file, "a", buffering=1) if args.log_file else None  # noqa: SIM115
    configure_logging("agentscaler", stream=log_stream, level=launcher.log_level(args.config))
    server = None
    url = args.nats_url
    auth_dir = Path(args.auth) if args.auth else None
    identities = auth.service_identities(auth_dir) if auth_dir else None
    node = cluster_node(args)
    if url is None:
        server = launcher.start_embedded(
            Path(args.data_dir) if args.data_dir else launcher.node_data_dir(launcher.data_dir_default(), node),
            args.port,
            config=auth.server_config(auth_dir) if auth_dir else "",
            node=node,
        )
        url = server.url
        print(f"agentscaler: NATS at {url}; services starting (Ctrl-C to stop)", file=sys.stderr)
    try:
        log_file = Path(args.log_file) if args.log_file else None
        return asyncio.run(
            launcher.serve_services(
                list(launcher.SERVICES),
                url,
                args.config,
                log_file=log_file,
                connection={**connection_flags(args), "replicas": args.replicas},
                server=server,
                identities=identities,
                restarts=settings.restart_policy(),
                metrics_port=settings.metrics_port,
            )
        )
    finally:
        if server is not None:
            server.stop()
        if log_stream is not None:
            log_stream.close()


def cluster_node(args: argparse.Namespace) -> Any:
    """``run``'s embedded server as a cluster node (``--cluster-port``, ``--routes``), or None for a lone one."""
    from . import launcher

    if args.cluster_port is None:
        if args.routes or args.cluster_name:
            raise BadInput("--routes and --cluster-name need --cluster-port (the port this node takes routes on)")
        return None
    if args.nats_url:
        raise BadInput("--cluster-port starts an embedded cluster node: leave out --nats-url")
    routes = tuple(r.strip() for r in (args.routes or "").split(",") if r.strip())
    for route in routes:
        if not route.startswith("nats://") or not route.rpartition(":")[2].isdigit():
            raise BadInput(f"route {route!r} is not nats://HOST:PORT (another node's --cluster-port)")
    return launcher.ClusterNode(port=args.cluster_port, routes=routes, name=args.cluster_name or launcher.CLUSTER_NAME)


def _auth_init(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    pools = [p.strip() for p in (args.pools or "").split(",") if p.strip()]
    written = auth.init(directory, force=args.force, pools=pools)
    if args.json:
        print_json({"files": [str(path) for path in written]})
    else:
        print("\n".join(map(str, written)))
    print(
        f"agentscaler: start with `agentscaler run --auth {directory}`, or include {directory / auth.SERVER_CONF} "
        f"in your nats-server config; connect as a role with `--creds {directory}/<role>.creds`",
        file=sys.stderr,
    )
    return 0


def connection_flags(args: argparse.Namespace) -> dict[str, str | None]:
    """The connection settings given as flags (None for those not given), but --nats-url."""
    return {field: getattr(args, field, None) for field in CONNECTION_FIELDS if field != "nats_url"}


def client_settings(args: argparse.Namespace) -> CommonSettings:
    """How a client command connects: its flags, else $AGENTSCALER_* (or $AGENTSCALER_CLI_*), else the config
    file (``--config``, else $AGENTSCALER_CONFIG; top-level keys or its ``[cli]`` table), else the defaults."""
    return load(CommonSettings, "cli", config_file=args.config, overrides=client_overrides(args))


def client_overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {**connection_flags(args), "nats_url": args.nats_url}


def _config(args: argparse.Namespace) -> int:
    found = config_view.sections(args.config, None, client_overrides(args))
    sys.stdout.write((config_view.as_json(found).decode() if args.json else config_view.render(found)) + "\n")
    return 0


async def _client_command(args: argparse.Namespace) -> int:
    violations = auth.Violations()
    async with connected(client_settings(args), on_error=violations.on_error) as client:
        handler = _HANDLERS[args.command if args.command != "pool" else f"pool {args.pool_command}"]
        return await violations.guard(handler(client, args))


async def _scale(client: Client, args: argparse.Namespace) -> int:
    reply = await client.scale(args.pool, args.command, args.n)
    if args.json:
        print_json(reply)
    elif reply.previous == reply.desired:
        print(f"pool {reply.pool}: already at {reply.desired} agents")
    else:
        print(f"pool {reply.pool}: desired {reply.desired} agents (was {reply.previous})")
    if reply.note:
        print(f"note: {reply.note}", file=sys.stderr)
    if args.wait:
        await _wait_for_count(client, args.pool, args.n, args.timeout)
    return 0


async def _wait_for_count(client: Client, pool: str, n: int, timeout: float) -> None:
    """Wait until the pool runs ``n`` agents and no other, showing the progress on stderr."""
    started = time.monotonic()
    view = ProgressView(sys.stderr, n, started, tty=sys.stderr.isatty())
    try:
        while True:
            a = (await client.status(pool)).pools[0].agents
            view.show(a, time.monotonic())
            if remaining(a, n) == 0:
                return
            if time.monotonic() > started + timeout:
                line = counts_line(a, n).strip()
                raise TimedOut(f"pool {pool} did not reach {n} agents within {timeout:g}s ({line})")
            await asyncio.sleep(0.5)
    finally:
        view.close()


async def _auto(client: Client, args: argparse.Namespace) -> int:
    base = (await client.pool(args.pool)).config.auto
    changes = _given(args, "min_agents", "max_agents", "target_wait", "scale_down_window", "utilization", "predict")
    changes["dry_run"] = args.dry_run
    auto = _changed(base, changes, "auto")
    info = await client.set_mode(args.pool, "auto", auto)
    if args.json:
        print_json(info)
        return 0
    bounds = f"{auto.min_agents}..{info.config.max_agents if auto.max_agents is None else auto.max_agents}"
    what = "forecasting (dry run: decisions are published, not applied)" if auto.dry_run else "sizing"
    print(
        f"pool {args.pool}: auto mode, the policy is {what} it within {bounds} agents, "
        f"target wait {auto.target_wait:g} s (now {info.state.desired})"
    )
    return 0


async def _manual(client: Client, args: argparse.Namespace) -> int:
    info = await client.set_mode(args.pool, "manual")
    if args.json:
        print_json(info)
        return 0
    print(f"pool {args.pool}: manual mode, holding {info.state.desired} agents")
    return 0


async def _history(client: Client, args: argparse.Namespace) -> int:
    events = await client.decisions(args.pool, time.time() - args.since, args.limit)
    for e in events:
        if args.json:
            sys.stdout.write(encode(e).decode() + "\n")
            continue
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        counts = f"{e.previous}->{e.desired}" if e.desired != e.previous else f"{e.desired}"
        flags = "".join([" (dry run, not applied)" if not e.applied else "", f" [limit: {e.limit}]" if e.limit else ""])
        print(f"{stamp} {e.pool:<12} {counts:>11} {e.rule:<22} {e.trigger:<8} {e.reason}{flags}")
    if not events and not args.json:
        print(f"no decisions in the last {args.since:g} s", file=sys.stderr)
    return 0


async def _audit(client: Client, args: argparse.Namespace) -> int:
    records = await client.audit(time.time() - args.since, args.limit, args.kind or "*")
    shown = [r for r in records if _audit_match(r, args)]
    for r in shown:
        if args.json:
            sys.stdout.write(encode(r).decode() + "\n")
            continue
        print(render_audit(r))
    if not shown and not args.json:
        print(f"no audit records in the last {args.since:g} s", file=sys.stderr)
    return 0


def _audit_match(record: AuditRecord, args: argparse.Namespace) -> bool:
    if args.actor and args.actor not in (record.actor, record.actor_name):
        return False
    return not args.pool or record.pool == args.pool


async def _status(client: Client, args: argparse.Namespace) -> int:
    if args.watch is None:
        snapshot = await client.status(args.pool)
        if args.json:
            print_json(snapshot)
        else:
            print(render_status(snapshot))
        return 0
    return await watch_status(client, args)


async def _submit(client: Client, args: argparse.Namespace) -> int:
    payloads = _payloads(args.payload, args.count)
    ids = await client.submit(args.pool, payloads)
    if args.json:
        print_json({"pool": args.pool, "ids": ids})
        return 0
    for task_id in ids:
        print(task_id)
    return 0


def _payloads(arg: str | None, copies: int) -> list[Any]:
    if arg is not None:
        return [_json(arg, "payload")] * copies
    if sys.stdin.isatty():
        raise BadInput('give a JSON payload, e.g. agentscaler submit \'{"prompt": "hi"}\', or pipe one per line')
    payloads = []
    for number, line in enumerate(sys.stdin, 1):
        if line.strip():
            payloads.extend([_json(line, f"line {number}")] * copies)
    if not payloads:
        raise BadInput("no tasks on stdin: pipe one JSON payload per line")
    return payloads


def _json(text: str, where: str) -> Any:
    try:
        return msgspec.json.decode(text.strip())
    except msgspec.DecodeError as exc:
        raise BadInput(f"malformed JSON in {where}: {exc} (input: {text.strip()[:80]!r})") from None


async def _result(client: Client, args: argparse.Namespace) -> int:
    if args.wait:
        result = await client.wait_result(args.pool, args.task_id, args.wait)
    else:
        result = await client.result(args.pool, args.task_id)
    if result is None:
        # A queued task cannot be found by its id (the queue is a stream of one subject per pool), so "not
        # started" covers queued and unknown ids alike; a started one has counted its attempts.
        started = await client.attempts(args.pool, args.task_id)
        detail = (
            f"no result yet: started {started} time(s), running or waiting for a retry"
            if started
            else "no result yet: not started, so queued (or the id is not in this pool)"
        )
        out: Any = {"id": args.task_id, "pool": args.pool, "state": "pending", "detail": detail}
    else:
        out = msgspec.to_builtins(result) | {"state": "done" if result.status == "ok" else "failed"}
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(out)).decode() + "\n")
    return result_exit(out["state"], waited=args.wait is not None)


async def _agents(client: Client, args: argparse.Namespace) -> int:
    reply = await client.agents(args.pool)
    if args.json:
        print_json(reply)
        return 0
    now = time.time()
    print(f"{'AGENT':<40} {'POOL':<12} {'HOST':<16} {'PID':>7} {'STATE':<9} {'DONE':>6} {'AGE':>7}")
    for a in sorted(reply.agents, key=lambda a: (a.pool, a.started_at)):
        print(
            f"{a.agent_id:<40} {a.pool:<12} {a.host:<16} {a.pid:>7} {a.state:<9} {a.completed:>6} "
            f"{now - a.started_at:>6.0f}s"
        )
    return 0


async def _pool_set(client: Client, args: argparse.Namespace) -> int:
    try:
        base = (await client.pool(args.name)).config
    except AgentscalerError as exc:
        if getattr(exc, "code", "") != "unknown_pool":
            raise
        base = PoolConfig(name=args.name)
    changes = _given(args, *flag_fields())
    if "env" in changes:  # KEY=VALUE items, added to the pool's environment
        changes["env"] = dict(base.env) | dict(_key_value(item) for item in changes["env"])
    config = _changed(base, changes, "pool")
    info = await client.set_pool(config)
    _print_pool(info, args.json)
    if not args.check_wait:
        return 0
    verdict = await handler_verdict(client.js, info.config, args.check_wait)
    for host, problem in verdict.problems.items():
        print(f"agentscaler: pool {config.name} is saved, but host {host} cannot run it: {problem}", file=sys.stderr)
    if verdict.unchecked:
        hosts = ", ".join(verdict.unchecked)
        print(f"agentscaler: host(s) {hosts} did not try the handler within {args.check_wait:g}s; see `agentscaler "
              "status`", file=sys.stderr)  # fmt: skip
    return 1 if verdict.problems else 0


def _given(args: argparse.Namespace, *fields: str) -> dict[str, Any]:
    """The options among ``fields`` that were given on the command line."""
    return {field: getattr(args, field) for field in fields if getattr(args, field) is not None}


def _changed(base: T, changes: dict[str, Any], what: str) -> T:
    """``base`` with ``changes`` applied and validated; invalid values are the user's to fix."""
    try:
        return msgspec.convert(msgspec.to_builtins(base) | changes, type(base))
    except msgspec.ValidationError as exc:
        raise BadInput(f"invalid {what} settings: {exc}") from None


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise BadInput(f"--env {item!r}: use KEY=VALUE")
    return key, value


async def _pool_show(client: Client, args: argparse.Namespace) -> int:
    _print_pool(await client.pool(args.name), args.json)
    return 0


async def _pool_list(client: Client, args: argparse.Namespace) -> int:
    reply = await client.pools()
    if args.json:
        print_json(reply)
        return 0
    for info in reply.pools:
        c = info.config
        print(f"{c.name:<16} {info.state.mode:<7} desired {info.state.desired:<5} max {c.max_agents:<6} {c.handler}")
    return 0


def _print_pool(info: PoolInfo, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    print(f"pool {info.config.name}: {info.state.mode} mode, desired {info.state.desired}")
    for key, value in msgspec.to_builtins(info.config).items():
        if key != "name":
            print(f"  {key:<20} {value}")


_HANDLERS = {
    "up": _scale,
    "down": _scale,
    "status": _status,
    "submit": _submit,
    "result": _result,
    "agents": _agents,
    "auto": _auto,
    "manual": _manual,
    "history": _history,
    "audit": _audit,
    "optimize": optimize,
    "pool set": _pool_set,
    "host": host_command,
    "pool show": _pool_show,
    "pool list": _pool_list,
}
