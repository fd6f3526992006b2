"""What the benchmarks share: a private nats-server with all services, and ways to wait and to measure."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import psutil
from waiting import eventually

from agentscaler.services.cli import auth
from agentscaler.services.cli.client import Client
from agentscaler.shared import subjects
from agentscaler.shared.bus.options import actor_of, connect_kwargs
from agentscaler.shared.bus.server import EmbeddedServer, free_port
from agentscaler.shared.codec import decode
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import Exited
from agentscaler.shared.messages.pools import DEFAULT_POOL
from agentscaler.shared.settings import CommonSettings


@dataclass
class Bench:
    url: str
    services_pid: int
    server_pid: int
    work: Path
    creds: str = ""
    """The admin's credentials on a secured system (``running_system(secured=True)``); empty otherwise."""


@contextmanager
def running_system(extra_env: dict[str, str] | None = None, secured: bool = False) -> Iterator[Bench]:
    """A nats-server and ``agentscaler run --nats-url`` (all four services in one process), stopped after.
    ``secured``: the server runs ``auth init``'s configuration and ``run --auth`` gives each service its
    identity and each agent a user of its own, as a secured deployment does."""
    work = Path(tempfile.mkdtemp(prefix="agentscaler-bench-"))
    keys = work / "auth"
    if secured:
        auth.init(keys)
    server = EmbeddedServer(work / "nats", port=free_port(), config=auth.server_config(keys) if secured else "")
    server.start()
    env = (
        os.environ
        | {"AGENTSCALER_HOST": "bench", "AGENTSCALER_MONITOR_INTERVAL": "2", "AGENTSCALER_METRICS_PORT": "0"}
        | (extra_env or {})
    )
    argv = [sys.executable, "-m", "agentscaler.services.cli", "run", "--nats-url", server.url]
    with open(work / "services.log", "ab") as log:
        services = subprocess.Popen(
            [*argv, *(["--auth", str(keys)] if secured else [])], env=env, stdout=log, stderr=log
        )
    try:
        assert server.proc is not None
        creds = str(auth.creds_file(keys, "admin")) if secured else ""
        yield Bench(url=server.url, services_pid=services.pid, server_pid=server.proc.pid, work=work, creds=creds)
    finally:
        services.terminate()
        services.wait(300)
        server.stop()


async def wait_until(probe: Callable[[], Awaitable[Any]], timeout: float, every: float = 0.05) -> Any:
    """``probe``'s first truthy value; a service too busy to answer in time is asked again."""
    return await eventually(probe, timeout=timeout, interval=every, retry=(AgentscalerError,), error=TimeoutError)


async def connect(url: str, creds: str = "") -> Client:
    """A client of the system at ``url``; ``creds``: as that user (a secured system's admin)."""
    settings = CommonSettings(nats_url=url, creds=creds)
    client = Client(await nats.connect(**connect_kwargs(settings)), actor_of(settings))
    await wait_until(lambda: client.pool(DEFAULT_POOL), timeout=30)  # the policy is up
    return client


async def ready_and_pulling(client: Client, pool: str, n: int) -> bool:
    """N agents registered and N pull requests waiting on the pool's consumer."""
    agents = (await client.agents(pool)).agents
    if sum(1 for a in agents if a.state in ("ready", "busy")) < n:
        return False
    info = await client.js.consumer_info(subjects.task_stream(pool), subjects.TASK_CONSUMER)
    return (info.num_waiting or 0) >= n


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of the live threads of ``pids``, from the scheduler's own clock (``/proc/<pid>/task/<tid>/
    schedstat``). The user/system times psutil reads are charged by timer tick, and agents that run for a
    millisecond between ticks go largely uncounted; psutil is the fallback where schedstat is missing."""
    total = 0.0
    for pid in pids:
        try:
            total += (
                sum(int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir())
                / 1e9
            )
        except FileNotFoundError:
            pass
        except OSError:
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
    return total


@dataclass
class ExitWatcher:
    """Collects the actuator's ``exited`` events of one pool."""

    pool: str
    exits: list[Exited] = field(default_factory=list)

    async def start(self, client: Client) -> None:
        async def on_exit(msg: Any) -> None:
            event = decode(Exited, msg.data)
            if event.pool == self.pool:
                self.exits.append(event)

        self.sub = await client.nc.subscribe(subjects.agent_event_subject("exited"), cb=on_exit)

    async def all_gone(self, n: int) -> bool:
        return len(self.exits) >= n

    @property
    def clean(self) -> int:
        return sum(1 for e in self.exits if e.code == 0)
