"""The fork server process: preload, ``gc.freeze()``, then fork agents as the actuator asks, and report
every child's pid and exit status. No event loop, no threads, no NATS client, no telemetry in here: each
child sets those up for itself after the fork.

Starting is paced by a window: every requested agent is forked at once and waits (blocked, costing no
CPU) until the server lets it start, and at most ``spawn_concurrency`` agents are starting at any time.
An agent stops counting as starting when it reports itself ready (connected, registered, pulling), exits,
or has been starting for ``STARTING_TIMEOUT``. Started agents take CPU from everything else on the host;
the window keeps the run queue short, so 1000 NATS connects never arrive as one storm and none of them
times out, and this server is never starved while it forks.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import selectors
import signal
import struct
import sys
import time
import traceback
from collections import deque

# Preloaded for the children: everything an agent imports, including what tracing set-up imports lazily.
import opentelemetry.sdk.resources
import opentelemetry.sdk.trace
import opentelemetry.sdk.trace.export  # noqa: F401

from agentscaler.shared.children import set_parent_death_signal
from agentscaler.shared.codec import decoder
from agentscaler.shared.telemetry.tracing import resource as tracing_resource

from ..handler import HandlerError
from ..main import EXIT_CONFIG, load_or_error, run_agent, settings_from_env
from ..runtime import DECODED
from ..settings import DEFAULT_SPAWN_CONCURRENCY
from .protocol import ChildExited, ChildStarted, Ready, Spawn, decode_request, encode

_ENV_AGENT_ID = "AGENTSCALER_AGENT_AGENT_ID"
_ENV_TRACEPARENT = "AGENTSCALER_AGENT_TRACEPARENT"

GO = signal.SIGUSR1
"""The signal that lets a forked agent start. Blocked in this server (so its children inherit it blocked,
and one sent early stays pending until the child waits for it)."""

WAITED = {GO, signal.SIGTERM, signal.SIGINT}
"""What a forked agent waits for before it starts: its turn, or a stop."""

STARTING_TIMEOUT = 10.0
"""Seconds after which an agent that has not reported ready (NATS unreachable, say) stops holding a place
in the starting window."""

_PID = struct.Struct("=i")


class ForkServer:
    def __init__(self) -> None:
        self.children: dict[int, str] = {}
        self.held: deque[int] = deque()
        """Forked agents waiting for their turn to start, oldest first."""
        self.starting: dict[int, float] = {}
        """Agents let start and not yet ready, with the time they were let go."""
        self.concurrency = DEFAULT_SPAWN_CONCURRENCY
        self.stopping = False
        self.parent = os.getppid()
        self.out = os.fdopen(1, "wb", buffering=0, closefd=False)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self.ready_r, self.ready_w = os.pipe()

    def run(self) -> int:
        settings = settings_from_env()
        if settings is None:
            return EXIT_CONFIG
        self.concurrency = settings.spawn_concurrency
        handler = load_or_error(settings.handler)  # a broken handler is reported by each child, as with exec
        tracing_resource("agent")  # computed once here, not in every child
        for kind in DECODED:  # message decoders too: building one compiles its type hints
            decoder(kind)
        set_parent_death_signal()  # the actuator dies: this server drains its agents and leaves
        signal.pthread_sigmask(signal.SIG_BLOCK, {GO})
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal Ctrl-C reaches the agents and the actuator
        gc.collect()
        gc.freeze()  # children share the preloaded heap instead of copying it when their GC walks it
        self._report(Ready(pid=os.getpid(), error=str(handler) if isinstance(handler, HandlerError) else ""))
        sel = selectors.DefaultSelector()
        sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        sel.register(self.wake_r, selectors.EVENT_READ, "signal")
        sel.register(self.ready_r, selectors.EVENT_READ, "ready")
        buffer = b""
        while not (self.stopping and not self.children):
            for key, _ in sel.select(timeout=1.0 if not self.starting else 0.5):
                if key.data == "signal":
                    os.read(self.wake_r, 4096)
                elif key.data == "ready":
                    self._on_ready(os.read(self.ready_r, _PID.size * 1024))
                else:
                    chunk = self._read_requests()
                    if not chunk:  # the actuator is gone: drain every agent, then leave
                        sel.unregister(sys.stdin.fileno())
                        self._on_term()
                        continue
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    self._spawn_batch([decode_request(line) for line in lines if line.strip()], handler)
            self._reap()
            self._let_start()
            if os.getppid() != self.parent:
                self._on_term()
        return 0

    def _read_requests(self) -> bytes:
        """What the actuator has written: a request for 1000 agents overflows the pipe, so keep reading while
        more follows at once, and fork them all in one go."""
        fd = sys.stdin.fileno()
        data = chunk = os.read(fd, 65536)
        while len(chunk) == 65536:
            ready, _, _ = select.select([fd], [], [], 0.01)
            if not ready:
                break
            chunk = os.read(fd, 65536)
            data += chunk
        return data

    def _on_term(self, *_: object) -> None:
        if not self.stopping:
            self.stopping = True
            for pid in self.children:
                _kill(pid, signal.SIGTERM)  # agents still waiting to start exit at once
            self.held.clear()

    def _spawn_batch(self, requests: list[Spawn], handler: object) -> None:
        """Fork every requested agent; each waits for its turn to start (``_let_start``)."""
        if not requests or self.stopping:  # no new agents once draining has begun
            return
        server = os.getpid()
        spawned: list[ChildStarted] = []
        # Children are born with their start and stop signals blocked, so each can wait for them at once;
        # this server's own stop signal waits the few milliseconds until the batch is forked.
        signal.pthread_sigmask(signal.SIG_BLOCK, WAITED)
        try:
            for req in requests:
                pid = os.fork()
                if pid == 0:
                    self._become_agent(req, handler, server)
                self.children[pid] = req.agent_id
                self.held.append(pid)
                spawned.append(ChildStarted(agent_id=req.agent_id, pid=pid))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WAITED - {GO})
            self._report(*spawned)

    def _let_start(self) -> None:
        """Let held agents start while fewer than ``concurrency`` are starting."""
        now = time.monotonic()
        for pid, since in list(self.starting.items()):
            if now - since > STARTING_TIMEOUT:  # reaping drops the ones that exited
                del self.starting[pid]
        while self.held and len(self.starting) < self.concurrency:
            pid = self.held.popleft()
            if pid in self.children:
                self.starting[pid] = now
                _kill(pid, GO)

    def _on_ready(self, data: bytes) -> None:
        for (pid,) in _PID.iter_unpack(data[: len(data) - len(data) % _PID.size]):
            self.starting.pop(pid, None)

    def _become_agent(self, req: Spawn, handler: object, server: int) -> None:
        """In the child: shed the server's signals and pipes, wait for the go, run the agent, exit (never
        return)."""
        code = 1
        try:
            # Until its turn comes the agent sleeps in sigwait (no CPU, no wake-ups, as little work as can
            # be before it: every page it writes is copied); a stop signal then, from the actuator or from
            # the parent-death signal, ends it at once.
            set_parent_death_signal()  # the agent drains if its fork server dies
            if os.getppid() != server:
                os._exit(1)  # the server died already
            if signal.sigwait(WAITED) != GO:
                os._exit(0)  # stopped before it started: it held no task
            began = time.monotonic()  # its start time counts from here, not from its wait for a turn
            early_stop: list[int] = []
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, lambda signum, _: early_stop.append(signum))
            signal.signal(signal.SIGINT, lambda signum, _: early_stop.append(signum))
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WAITED)
            for fd in (self.wake_r, self.wake_w, self.ready_r):
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(2, 1)  # the pipe to the actuator is the server's alone
            os.close(devnull)
            os.environ[_ENV_AGENT_ID] = req.agent_id
            os.environ[_ENV_TRACEPARENT] = req.traceparent
            settings = settings_from_env()
            ready_w = self.ready_w

            def on_ready() -> None:
                with contextlib.suppress(OSError):
                    os.write(ready_w, _PID.pack(os.getpid()))
                    os.close(ready_w)

            code = EXIT_CONFIG if settings is None else run_agent(settings, handler, early_stop, on_ready, began)  # type: ignore[arg-type]
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            agent_id = self.children.pop(pid, "")
            self.starting.pop(pid, None)
            self._report(ChildExited(agent_id=agent_id, pid=pid, code=os.waitstatus_to_exitcode(status)))

    def _report(self, *msgs: object) -> None:
        try:
            self.out.write(b"".join(encode(msg) + b"\n" for msg in msgs))
        except BrokenPipeError:
            self._on_term()


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
