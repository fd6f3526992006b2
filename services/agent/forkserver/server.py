"""The fork server process: preload, ``gc.freeze()``, then fork agents as the actuator asks, and report
every child's pid and exit status. No event loop, no threads, no NATS client, no telemetry in here: each
child sets those up for itself after the fork."""

from __future__ import annotations

import contextlib
import gc
import os
import selectors
import signal
import sys
import traceback

# Preloaded for the children: everything an agent imports, including what tracing set-up imports lazily.
import opentelemetry.sdk.resources
import opentelemetry.sdk.trace
import opentelemetry.sdk.trace.export  # noqa: F401

from agentscaler.shared.children import set_parent_death_signal
from agentscaler.shared.telemetry.tracing import resource as tracing_resource

from ..main import EXIT_CONFIG, load_or_error, run_agent, settings_from_env
from .protocol import Exited, Ready, Spawn, Spawned, decode_request, encode

_ENV_AGENT_ID = "AGENTSCALER_AGENT_AGENT_ID"
_ENV_TRACEPARENT = "AGENTSCALER_AGENT_TRACEPARENT"


class ForkServer:
    def __init__(self) -> None:
        self.children: dict[int, str] = {}
        self.stopping = False
        self.parent = os.getppid()
        self.out = os.fdopen(1, "wb", buffering=0, closefd=False)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)

    def run(self) -> int:
        settings = settings_from_env()
        if settings is None:
            return EXIT_CONFIG
        handler = load_or_error(settings.handler)  # a broken handler is reported by each child, as with exec
        tracing_resource("agent")  # computed once here, not in every child
        set_parent_death_signal()  # the actuator dies: this server drains its agents and leaves
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal Ctrl-C reaches the agents and the actuator
        gc.collect()
        gc.freeze()  # children share the preloaded heap instead of copying it when their GC walks it
        self._report(Ready(pid=os.getpid()))
        sel = selectors.DefaultSelector()
        sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        sel.register(self.wake_r, selectors.EVENT_READ, "signal")
        buffer = b""
        while not (self.stopping and not self.children):
            for key, _ in sel.select(timeout=1.0):
                if key.data == "signal":
                    os.read(self.wake_r, 4096)
                    continue
                chunk = os.read(sys.stdin.fileno(), 65536)
                if not chunk:  # the actuator is gone: drain every agent, then leave
                    sel.unregister(sys.stdin.fileno())
                    self._on_term()
                    continue
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                self._spawn_batch([decode_request(line) for line in lines if line.strip()], handler)
            self._reap()
            if os.getppid() != self.parent:
                self._on_term()
        return 0

    def _on_term(self, *_: object) -> None:
        if not self.stopping:
            self.stopping = True
            for pid in self.children:
                _kill(pid, signal.SIGTERM)

    def _spawn_batch(self, requests: list[Spawn], handler: object) -> None:
        """Fork every requested agent, holding each child at a gate until the whole batch is forked: a
        child that starts working at once takes CPU from this process, and forking 100 agents then takes
        seconds instead of milliseconds."""
        if not requests or self.stopping:  # no new agents once draining has begun
            return
        server = os.getpid()
        gate_r, gate_w = os.pipe()
        try:
            for req in requests:
                pid = os.fork()
                if pid == 0:
                    os.close(gate_w)
                    self._become_agent(req, handler, server, gate_r)
                self.children[pid] = req.agent_id
                self._report(Spawned(agent_id=req.agent_id, pid=pid))
        finally:
            os.close(gate_w)  # opens the gate: every child of the batch reads end-of-file and starts
            os.close(gate_r)

    def _become_agent(self, req: Spawn, handler: object, server: int, gate: int) -> None:
        """In the child: shed the server's signals and pipes, then run the agent and exit (never return)."""
        code = 1
        try:
            early_stop: list[int] = []
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, lambda signum, _: early_stop.append(signum))
            signal.signal(signal.SIGINT, lambda signum, _: early_stop.append(signum))
            set_parent_death_signal()  # the agent drains if its fork server dies
            if os.getppid() != server:
                os._exit(1)
            os.read(gate, 1)  # returns once the server has forked the whole batch
            os.close(gate)
            os.close(self.wake_r)
            os.close(self.wake_w)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(2, 1)  # the pipe to the actuator is the server's alone
            os.close(devnull)
            os.environ[_ENV_AGENT_ID] = req.agent_id
            os.environ[_ENV_TRACEPARENT] = req.traceparent
            settings = settings_from_env()
            code = EXIT_CONFIG if settings is None else run_agent(settings, handler, early_stop)  # type: ignore[arg-type]
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
            self._report(Exited(agent_id=agent_id, pid=pid, code=os.waitstatus_to_exitcode(status)))

    def _report(self, msg: object) -> None:
        try:
            self.out.write(encode(msg) + b"\n")
        except BrokenPipeError:
            self._on_term()


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
