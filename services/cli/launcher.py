"""``agentscaler run`` and ``serve``: the services in this process under one supervisor, with an embedded
nats-server unless a URL is given."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
import structlog

from agentscaler.services.actuator import service as actuator
from agentscaler.services.actuator.settings import ActuatorSettings
from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared.bus.local_cluster import jetstream_ready
from agentscaler.shared.bus.options import redact_url
from agentscaler.shared.bus.server import CLUSTER_NAME, EmbeddedServer
from agentscaler.shared.settings import DEFAULT_METRICS_PORT, CommonSettings, load
from agentscaler.shared.supervisor import Root, stop_on_signals, supervise
from agentscaler.shared.telemetry.metrics import configure_metrics, shutdown_metrics
from agentscaler.shared.telemetry.tracing import service_tracing, shutdown_tracing

from .server_watch import MAX_DELAY_FACTOR, RestartPolicy, watch_server

log = structlog.get_logger()


@dataclass(frozen=True)
class ServiceSpec:
    settings: type[CommonSettings]
    run: Callable[[Any, asyncio.Event], Awaitable[None]]


SERVICES: dict[str, ServiceSpec] = {
    "registry": ServiceSpec(RegistrySettings, registry.run),
    "policy": ServiceSpec(PolicySettings, policy.run),
    "monitor": ServiceSpec(MonitorSettings, monitor.run),
    "actuator": ServiceSpec(ActuatorSettings, actuator.run),
}


class RunSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``agentscaler run``'s own settings, from its flags of the same names, ``AGENTSCALER_<FIELD>`` (or
    ``AGENTSCALER_RUN_<FIELD>``) and the config file (top-level or ``[run]``): how it keeps its embedded
    nats-server alive."""

    server_restarts: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=100,
            description=f"restarts of a dying embedded nats-server within {RestartPolicy.window / 60:g} minutes "
            "before run gives up and exits 1; 0 never restarts it",
        ),
    ] = RestartPolicy.max_restarts
    server_restart_delay: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description=f"seconds before the first restart; each next pause doubles, up to {MAX_DELAY_FACTOR}x this",
        ),
    ] = RestartPolicy.first_delay
    metrics_port: Annotated[
        int,
        msgspec.Meta(ge=0, le=65535, description="port of run's one /metrics endpoint, for all its services (0: none)"),
    ] = DEFAULT_METRICS_PORT

    def restart_policy(self) -> RestartPolicy:
        return RestartPolicy.of(self.server_restarts, self.server_restart_delay)


def run_settings(config_file: str | None, overrides: Mapping[str, Any]) -> RunSettings:
    """``run``'s settings: its flags (``overrides``, None for those not given) over the environment, the file
    and the defaults; a value out of range raises SettingsError naming it."""
    return load(RunSettings, "run", config_file=config_file, overrides=overrides)  # type: ignore[type-var]


def data_dir_default() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "agentscaler"


def log_level(config_file: str | None) -> str:
    """The log level the settings ask for (``log_level`` in the config file or AGENTSCALER_LOG_LEVEL)."""
    return load(CommonSettings, "agentscaler", config_file=config_file).log_level


def build_roots(
    names: Sequence[str],
    nats_url: str | None,
    config_file: str | None,
    stop: asyncio.Event,
    *,
    log_file: Path | None = None,
    connection: Mapping[str, str | None] | None = None,
    identities: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Root]:
    """Root tasks for the services in ``names``. The actuator stops first (its agents drain while the
    registry and NATS still listen); the others stop once it is done. ``connection`` holds the connection
    settings given as flags (creds, nkey, user, ...; None for those not given); ``identities`` each service's
    own credentials (``run --auth``: its nkey, and the agents' for the actuator), which win over them."""
    late = asyncio.Event()
    roots: dict[str, Root] = {}
    for name in names:
        spec = SERVICES[name]
        overrides = {**(connection or {}), "nats_url": nats_url, "agent_log": str(log_file) if log_file else None}
        overrides.update((identities or {}).get(name, {}))
        settings = load(spec.settings, name, config_file=config_file, overrides=overrides)
        if name == "actuator":
            roots[name] = _then_set(name, spec.run, settings, late)
        else:
            roots[name] = _on_event(name, spec.run, settings, late)
    if "actuator" not in names:
        roots["stopper"] = _relay(late)
    return roots


def _then_set(
    name: str, run: Callable[[Any, asyncio.Event], Awaitable[None]], settings: Any, done: asyncio.Event
) -> Root:
    async def root(stop: asyncio.Event) -> None:
        try:
            with service_tracing(name):  # its spans are its own, whichever services share the process
                await run(settings, stop)
        finally:
            done.set()

    return root


def _on_event(
    name: str, run: Callable[[Any, asyncio.Event], Awaitable[None]], settings: Any, event: asyncio.Event
) -> Root:
    async def root(stop: asyncio.Event) -> None:
        with service_tracing(name):
            await run(settings, event)

    return root


def _relay(event: asyncio.Event) -> Root:
    async def root(stop: asyncio.Event) -> None:
        await stop.wait()
        event.set()

    return root


async def serve_services(
    names: Sequence[str],
    nats_url: str | None,
    config_file: str | None = None,
    *,
    log_file: Path | None = None,
    connection: Mapping[str, str | None] | None = None,
    server: EmbeddedServer | None = None,
    identities: Mapping[str, Mapping[str, str]] | None = None,
    restarts: RestartPolicy | None = None,
    metrics_port: int | None = None,
) -> int:
    """Run the services until a signal; with ``server`` (the embedded one), restart it when it dies (as
    ``restarts`` says; default :class:`RestartPolicy`) and fail (return 1) when it keeps dying. ``/metrics`` is
    served once for the process, on ``metrics_port`` (``run``'s), else on the one service's own setting."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    roots = build_roots(
        names, nats_url, config_file, stop, log_file=log_file, connection=connection, identities=identities
    )
    if metrics_port is None:
        metrics_port = load(CommonSettings, names[0], config_file=config_file).metrics_port
    configure_metrics(names[0] if len(names) == 1 else "run", metrics_port)
    if server is not None:
        roots["nats-server"] = watch_server(server, restarts or RestartPolicy())
    log.info("starting services", services=list(names), nats_url=redact_url(nats_url) if nats_url else None)
    try:
        return await supervise(roots, stop, grace=120.0)
    finally:
        shutdown_tracing()
        shutdown_metrics()


def start_embedded(data_dir: Path, port: int, config: str = "", node: ClusterNode | None = None) -> EmbeddedServer:
    """Start the embedded server; ``config``: server configuration (``run --auth``: the authorization). As a
    ``node`` of a cluster, return once the cluster's JetStream answers (a majority of its nodes are up)."""
    if node is None:
        server = EmbeddedServer(data_dir, port=port, config=config)
    else:
        server = EmbeddedServer(
            data_dir, port=port, config=config, cluster_port=node.port, routes=node.routes, cluster_name=node.name
        )
    server.start()
    log.info("embedded NATS server ready", url=server.url, data_dir=str(data_dir))
    if node is not None:
        log.info("waiting for the cluster's JetStream (a majority of its nodes)", cluster=node.name, routes=node.routes)
        try:
            asyncio.run(jetstream_ready(server.url, node.wait))
        except BaseException:
            server.stop()
            raise
    return server


@dataclass(frozen=True)
class ClusterNode:
    """``run``'s embedded server as a node of a local NATS cluster (``--cluster-port``, ``--routes``)."""

    port: int
    """Where it takes the other nodes' routes."""
    routes: tuple[str, ...] = ()
    """The other nodes' cluster URLs (``nats://host:cluster_port``)."""
    name: str = CLUSTER_NAME
    wait: float = 300.0
    """Seconds to wait for the cluster's JetStream, i.e. for the other nodes to start."""


def node_data_dir(base: Path, node: ClusterNode | None) -> Path:
    """Where a node keeps its data under ``base`` (the default data directory): one directory per cluster port,
    so that several nodes on one machine never share a store."""
    return base if node is None else base / f"node-{node.port}"
