"""The actuator service: watches pools and desired counts in KV, and converges the agent processes on
this host to them; restarts crashed agents with backoff; reaps every child; drains all agents on stop."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections import Counter
from contextlib import suppress

import msgspec
import structlog
from nats.aio.client import Client

from agentscaler.services.agent.main import EXIT_CONFIG
from agentscaler.services.agent.unloadable import failure
from agentscaler.shared import subjects
from agentscaler.shared.allowlist import refusal
from agentscaler.shared.bus.agents import list_agents
from agentscaler.shared.bus.connection import run_connected
from agentscaler.shared.bus.discovery import discoverable
from agentscaler.shared.bus.events import listen, publish
from agentscaler.shared.bus.jetstream import bucket, mirror
from agentscaler.shared.children import become_subreaper
from agentscaler.shared.clock import SYSTEM_CLOCK, Clock
from agentscaler.shared.errors import AgentscalerError
from agentscaler.shared.messages.agents import AgentRecord, Exited, Lost, Spawned
from agentscaler.shared.messages.pools import POOL_DEFAULTS, DesiredState, PoolConfig
from agentscaler.shared.messages.summaries import summed
from agentscaler.shared.telemetry.tracing import current_traceparent, parent_from_traceparent, span

from .agentcreds import AgentCredentials
from .agentuser import agent_user, root_warning
from .cgroups import PoolCgroups
from .deaths import DRAIN_DEADLINE, OOM_FIX, DeathRecords, death_reason
from .forkservers import ForkServerClient, ForkServerGone
from .hostinfo import HostInfo
from .metrics import record_drain, record_spawn
from .plan import ProcView, backoff, choose_victims, plan
from .previous_run import FIRST_WORD, forget_previous_run
from .probes import HandlerProbes
from .processes import AgentProcess, NotAllowed, same_agents, spawn_exec
from .settings import ActuatorSettings

log = structlog.get_logger()


async def run(settings: ActuatorSettings, stop: asyncio.Event, clock: Clock = SYSTEM_CLOCK) -> None:
    await run_connected("actuator", settings, settings.host, stop, lambda nc: Actuator(settings, nc, clock).run(stop))


class Actuator:
    def __init__(self, settings: ActuatorSettings, nc: Client, clock: Clock = SYSTEM_CLOCK) -> None:
        self.agent_user = agent_user(settings.agent_user)
        self.agent_creds: AgentCredentials | None = None
        """Signs each agent a user of its own (setting ``agent_signer``)."""
        if settings.agent_signer:
            self.agent_creds = AgentCredentials(
                settings.agent_signer, settings.creds, settings.agent_creds_dir, self.agent_user
            )
            settings = msgspec.structs.replace(settings, agent_creds_dir=str(self.agent_creds.directory))
        self.settings = settings
        self.nc = nc
        self.clock = clock
        self.pools: dict[str, PoolConfig] = {}
        self.desired: dict[str, DesiredState] = {}
        self.procs: dict[str, AgentProcess] = {}
        self.crashes: dict[str, int] = {}
        self.not_before: dict[str, float] = {}
        self.forkservers: dict[str, ForkServerClient] = {}
        self.retired: list[ForkServerClient] = []
        self.cgroups = PoolCgroups.detect(settings.cgroups, settings.host)
        self.load_errors: dict[str, tuple[str, str]] = {}
        """Pool -> (handler, why it cannot be loaded), as its probe, fork server or exec'd agents showed."""
        self.checked: dict[str, str] = {}
        """Pool -> the handler tried (or refused) here: what ``pool set`` waits for."""
        self.probes = HandlerProbes(settings, self._heard_probe)
        self.hostinfo: HostInfo | None = None
        self.deaths = DeathRecords(nc, opened=False)
        self.killed_for: dict[str, str] = {}
        """Agent id -> why this actuator sent it SIGKILL (for its death record)."""
        self.more_to_start = False
        self.wake = asyncio.Event()
        self.drain_started: dict[str, float] = {}
        """Agent id -> when this actuator first asked it to drain, for ``agentscaler_agent_drain_seconds``."""
        self._token = secrets.token_hex(2)
        self._seq = 0

    async def run(self, stop: asyncio.Event) -> None:
        js = self.nc.jetstream()
        watchers = [
            asyncio.create_task(mirror(await bucket(js, subjects.POOLS_BUCKET), PoolConfig, self.pools, self.wake.set)),
            asyncio.create_task(
                mirror(await bucket(js, subjects.DESIRED_BUCKET), DesiredState, self.desired, self.wake.set)
            ),
        ]
        await listen(self.nc, subjects.agent_event_subject("lost"), Lost, self._on_lost)
        self.hostinfo = await HostInfo.open(self.settings, js, self.clock)
        watchers.append(asyncio.create_task(self.hostinfo.run(stop)))
        self.deaths = await DeathRecords.open(self.nc, js)
        become_subreaper()  # agents of a fork server that died are reparented here and reaped
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.wake.set)
        if warning := root_warning(self.agent_user):
            log.warning(warning)
        # no request endpoints: registered for discovery (which hosts run an actuator) and its identity
        await discoverable(self.nc, "actuator", self.settings.host, "starts and stops this host's agents")
        log.info("actuator ready")
        watchers.append(forgetting := asyncio.create_task(self._forget_previous_run(stop)))
        await asyncio.wait({forgetting}, timeout=FIRST_WORD)  # the old agents go before new ones come
        try:
            while not stop.is_set():
                await self._reconcile()
                await self._wait(stop)
        finally:
            loop.remove_signal_handler(signal.SIGCHLD)
            for task in watchers:
                task.cancel()
            if self.hostinfo is not None:
                await self.hostinfo.withdraw()
            self.probes.cancel()
            await self._drain_all()
            self.cgroups.close()
            if self.agent_creds is not None:
                self.agent_creds.close()

    async def _wait(self, stop: asyncio.Event) -> None:
        woken = asyncio.create_task(self.wake.wait())
        stopped = asyncio.create_task(stop.wait())
        timeout = self.settings.spawn_pause if self.more_to_start else self.settings.reconcile_interval
        await asyncio.wait({woken, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        woken.cancel()
        stopped.cancel()
        self.wake.clear()

    async def _on_lost(self, event: Lost, _: str) -> None:
        """The registry gave up on one of our agents while its process still runs: it is hung or cut off
        from NATS. Kill it; its task is redelivered and the reconcile loop starts a replacement."""
        proc = self.procs.get(event.agent.agent_id)
        if proc is not None and proc.poll() is None:
            log.warning("agent declared lost but still running; killing it", agent=proc.agent_id, reason=event.reason)
            self.killed_for[proc.agent_id] = f"the registry declared it lost ({event.reason})"
            proc.kill()

    def _share(self, state: DesiredState) -> int:
        """This host's share of the pool's desired count, as the policy placed it; all of it when the policy
        placed it nowhere (no actuator known to it yet, or an older policy)."""
        return state.hosts.get(self.settings.host, 0) if state.hosts else state.desired

    def _managed(self, pool: str) -> bool:
        return pool in self.pools and (not self.settings.pools or pool in self.settings.pools)

    def _runnable(self, pool: str) -> bool:
        """Managed here, and its handler and env allowed by this host: no process imports it otherwise."""
        config = self.pools.get(pool)
        return self._managed(pool) and config is not None and not self._refusal(config)

    def _refusal(self, config: PoolConfig) -> str:
        return refusal(self.settings.host, self.settings.handlers, self.settings.env_keys, config)

    def _problems(self) -> dict[str, str]:
        """Why pools this actuator runs have no working agents here: refused, or a handler that cannot load."""
        problems = {}
        for name, config in self.pools.items():
            loaded = self.load_errors.get(name)
            problem = self._refusal(config) or (loaded[1] if loaded and loaded[0] == config.handler else "")
            if problem and self._managed(name):
                problems[name] = problem
        return problems

    def _check_handlers(self) -> None:
        """Try each managed pool's handler that is new here, before agents need it (a refused one is not run)."""
        for name, config in self.pools.items():
            if not self._managed(name) or self.checked.get(name) == config.handler:
                continue
            if self._refusal(config):
                self.checked[name] = config.handler  # the refusal is the verdict: nothing of it runs here
            else:
                self.probes.check(config)

    def _heard_probe(self, config: PoolConfig, error: str) -> None:
        current = self.pools.get(config.name)
        if current is None or current.handler != config.handler:
            return  # the pool changed meanwhile: its new handler gets a probe of its own
        self._heard_load(config, error)
        self.checked[config.name] = config.handler
        self.wake.set()

    def _heard_load(self, config: PoolConfig, error: str) -> None:
        if error:
            self.load_errors[config.name] = (config.handler, failure(error))
        else:
            self.load_errors.pop(config.name, None)

    async def _reconcile(self) -> None:
        now = self.clock.now()
        await self._reap(now)
        for proc in self.procs.values():
            if proc.drain_deadline is not None and now > proc.drain_deadline:
                log.warning("agent missed its drain deadline; killing it", agent=proc.agent_id, pool=proc.pool)
                self.killed_for[proc.agent_id] = DRAIN_DEADLINE
                proc.kill()
        desired = {p: self._share(d) for p, d in self.desired.items() if self._runnable(p)}
        views = [ProcView(p.agent_id, p.pool, p.started_at, p.draining) for p in self.procs.values()]
        todo = plan(desired, views, now=now, not_before=self.not_before, spawn_batch=self.settings.spawn_batch)
        self.more_to_start = bool(todo.spawn)
        self._limit_cgroups(todo.spawn)
        for pool, count in todo.spawn.items():
            if self.pools[pool].spawn == "exec":  # a fork server paces its agents itself
                count = min(count, self.settings.spawn_concurrency)
            await self._spawn(pool, count, now)
        await self._warm_auto_pools()
        self._retire_idle_forkservers()
        self._check_handlers()
        if self.hostinfo is not None:
            checked = {pool: handler for pool, handler in self.checked.items() if self._managed(pool)}
            self.hostinfo.update(self._problems(), checked)
        if todo.excess:
            views = await self._with_registry_states(views)
            for pool, count in todo.excess.items():
                await self._drain(pool, choose_victims(views, pool, count), now)

    def _limit_cgroups(self, spawning: dict[str, int]) -> None:
        """Each pool's cgroup (made when its first agents start) follows its config and the agents it runs,
        draining ones included, so a config change or a lowered max_agents never cuts into running agents."""
        running = Counter(p.pool for p in self.procs.values())
        for pool in {*self.cgroups.groups, *spawning}:
            if pool in self.pools:
                self.cgroups.ensure(self.pools[pool], running[pool] + spawning.get(pool, 0))

    async def _spawn(self, pool: str, count: int, now: float) -> None:
        config = self.pools[pool]
        state = self.desired[pool]
        with (
            structlog.contextvars.bound_contextvars(pool=pool),
            span(
                "reconcile spawn",
                parent=parent_from_traceparent(state.traceparent),
                attributes={"pool": pool, "count": count},
            ),
        ):
            traceparent = current_traceparent()
            agent_ids = [self._next_agent_id(pool) for _ in range(count)]
            if self.agent_creds is not None:
                for agent_id in agent_ids:
                    self.agent_creds.issue(agent_id, pool)
            try:
                began = self.clock.now()
                started = await self._start_agents(config, agent_ids, traceparent, now)
                record_spawn(pool, self.settings.host, self.clock.now() - began, len(started))
            except (OSError, ForkServerGone, TimeoutError, NotAllowed) as exc:
                log.error("cannot start agents", error=str(exc))
                self._note_crash(pool, now)
                if self.agent_creds is not None:
                    for agent_id in agent_ids:
                        self.agent_creds.forget(agent_id)
                return
            if len(started) < count:
                log.error("fork server did not start every agent", asked=count, started=len(started))
                self._note_crash(pool, now)
            for proc in started:
                self.procs[proc.agent_id] = proc
                await publish(
                    self.nc,
                    subjects.agent_event_subject("spawned"),
                    summed(Spawned(agent_id=proc.agent_id, pool=pool, host=self.settings.host, pid=proc.pid, at=now)),
                    traced=False,
                )
            log.info("started agents", count=len(started), desired=state.desired)

    def _next_agent_id(self, pool: str) -> str:
        self._seq += 1
        return f"{pool}-{self.settings.host}-{self._token}-{self._seq}"

    def _started_here(self, agent: AgentRecord) -> bool:
        """Whether this actuator (this run of it) started the agent: its id is one ``_next_agent_id`` made."""
        return agent.agent_id.startswith(f"{agent.pool}-{self.settings.host}-{self._token}-")

    async def _forget_previous_run(self, stop: asyncio.Event) -> None:
        try:
            await forget_previous_run(
                self.nc, self.settings.host, self.settings.pools, self._started_here, self.clock.now, stop
            )
        except Exception as exc:  # an aid: without it the registry times those agents out
            log.warning("could not report the agents of a previous run", error=repr(exc))

    async def _start_agents(
        self, config: PoolConfig, agent_ids: list[str], traceparent: str, now: float
    ) -> list[AgentProcess]:
        if config.spawn == "exec":
            cgroup = self.cgroups.get(config.name)
            return [spawn_exec(self.settings, config, agent_id, traceparent, now, cgroup) for agent_id in agent_ids]
        server = await self._forkserver(config)
        pids = await server.spawn_many(agent_ids, traceparent)
        return [AgentProcess(agent_id=a, pool=config.name, pid=pid, started_at=now) for a, pid in pids.items()]

    async def _forkserver(self, config: PoolConfig) -> ForkServerClient:
        """The pool's fork server, started (or replaced after a config change) on demand."""
        server = self.forkservers.get(config.name)
        if server is not None and not server.gone and same_agents(self.settings, server.pool, config):
            server.pool = config  # a change agents do not see (auto settings, limits) keeps the warm server
        if server is not None and (server.gone or server.pool != config):
            self.retired.append(self.forkservers.pop(config.name))
            if server.gone:
                self._orphan(server)
            server = None
        if server is None:
            server = ForkServerClient(self.settings, config, self._forked_exit, self.cgroups.get(config.name))
            self.forkservers[config.name] = server
            await server.ready()
            self._heard_load(config, server.load_error)
            log.info("fork server ready", pool=config.name, pid=server.proc.pid)
        return server

    async def _warm_auto_pools(self) -> None:
        """Auto pools keep their fork server even at zero agents, so the first task's agent is a fork away."""
        for pool, state in self.desired.items():
            config = self.pools.get(pool)
            if (
                state.mode == "auto"
                and pool not in self.forkservers
                and config is not None
                and config.spawn == "fork"
                and self._runnable(pool)
                and self.clock.now() >= self.not_before.get(pool, 0.0)
            ):
                try:
                    await self._forkserver(config)
                except Exception as exc:  # a warm server is an aid: spawning starts one when agents are due
                    log.warning("could not start the fork server of an auto pool", pool=pool, error=repr(exc))

    def _forked_exit(self, agent_id: str, code: int) -> None:
        proc = self.procs.get(agent_id)
        if proc is not None:
            proc.returncode = code
            self.wake.set()

    def _orphan(self, server: ForkServerClient) -> None:
        for agent_id in server.children:
            if agent_id in self.procs:
                self.procs[agent_id].orphaned = True

    def _retire_idle_forkservers(self) -> None:
        """Old fork servers (the pool's config changed, or they died) go once none of their agents is left."""
        for server in list(self.retired):
            if server.gone:
                self._orphan(server)
            if not server.children or server.gone:
                server.retire()
                if server.proc.poll() is not None:
                    self.retired.remove(server)
        for name, server in list(self.forkservers.items()):
            if server.gone:
                self._orphan(server)
            if server.gone or not self._runnable(name):  # a pool deleted, or changed to one this host refuses
                self.retired.append(self.forkservers.pop(name))

    async def _drain(self, pool: str, victims: list[str], now: float) -> None:
        deadline = now + self.pools.get(pool, POOL_DEFAULTS).drain_timeout  # an unknown pool's: the default
        for agent_id in victims:
            self.procs[agent_id].drain(deadline)
            self.drain_started.setdefault(agent_id, now)
        if victims:
            log.info("draining agents", pool=pool, count=len(victims), agents=victims[:10])

    async def _with_registry_states(self, views: list[ProcView]) -> list[ProcView]:
        try:
            listed = await list_agents(self.nc, host=self.settings.host)
        except AgentscalerError as exc:
            log.warning("registry unavailable; draining newest agents first", error=str(exc))
            return views
        known = {a.agent_id: a for a in listed}
        out = []
        for v in views:
            rec = known.get(v.agent_id)
            out.append(
                ProcView(
                    v.agent_id,
                    v.pool,
                    v.started_at,
                    v.draining,
                    rec.state if rec else None,
                    rec.busy_since if rec else 0.0,
                    rec.held if rec else 0,
                )
            )
        return out

    async def _reap(self, now: float) -> None:
        for agent_id, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.procs[agent_id]
            if self.agent_creds is not None:
                self.agent_creds.forget(agent_id)
            drained = proc.draining
            killed_for = self.killed_for.pop(agent_id, "")
            drain_started = self.drain_started.pop(agent_id, None)
            if drained and drain_started is not None:
                record_drain(proc.pool, self.settings.host, now - drain_started)
            oom = code == -signal.SIGKILL and self.cgroups.took_oom_kill(proc.pool)
            with structlog.contextvars.bound_contextvars(agent=agent_id, pool=proc.pool):
                if drained and code == 0:
                    log.info("agent exited after draining")
                elif drained and code == -signal.SIGTERM:
                    log.info("agent stopped by the drain signal before it was running (it held no task)")
                elif oom:
                    log.warning(
                        "agent killed by the kernel's OOM killer: its pool's cgroup ran out of memory", fix=OOM_FIX
                    )
                else:
                    log.warning("agent exited unexpectedly", code=code, drained=drained)
                await self.deaths.record(agent_id, death_reason(code, drained=drained, oom=oom, killed_for=killed_for))
                self._heard_exit(proc, code)
                if not drained and (now - proc.started_at < self.settings.min_uptime or code == EXIT_CONFIG):
                    self._note_crash(proc.pool, now)
                elif not drained:
                    self.crashes.pop(proc.pool, None)
                await publish(
                    self.nc,
                    subjects.agent_event_subject("exited"),
                    summed(
                        Exited(
                            agent_id=agent_id,
                            pool=proc.pool,
                            host=self.settings.host,
                            pid=proc.pid,
                            code=code,
                            drained=drained,
                            at=now,
                        )
                    ),
                )

    def _heard_exit(self, proc: AgentProcess, code: int) -> None:
        """An exec'd agent that cannot start exits EXIT_CONFIG (its output says why); one that ran clears that."""
        config = self.pools.get(proc.pool)
        if proc.popen is None or config is None or config.spawn != "exec":
            return
        if code == EXIT_CONFIG:
            known = self.load_errors.get(proc.pool)
            if known is not None and known[0] == config.handler:
                return  # the probe's import error says more than the exit status
            self.load_errors[proc.pool] = (
                config.handler,
                f"agents of handler {config.handler!r} exit at start (status {EXIT_CONFIG}: a handler that cannot "
                "be loaded, or a bad setting); the agent log and the failed tasks' results say why",
            )
        else:
            self.load_errors.pop(proc.pool, None)

    def _note_crash(self, pool: str, now: float) -> None:
        self.crashes[pool] = self.crashes.get(pool, 0) + 1
        delay = backoff(self.crashes[pool], self.settings.max_backoff)
        self.not_before[pool] = now + delay
        log.warning("agents of pool keep failing; backing off", pool=pool, crashes=self.crashes[pool], delay=delay)

    async def _drain_all(self) -> None:
        """Stop: every agent finishes its task (up to its pool's drain timeout) and exits; then the fork
        servers go."""
        await self._drain_agents()
        servers = [*self.forkservers.values(), *self.retired]
        for server in servers:
            server.retire()
        for server in servers:
            try:
                await asyncio.wait_for(asyncio.to_thread(server.proc.wait), 10)
            except TimeoutError:
                server.proc.kill()
                server.proc.wait()

    async def _drain_agents(self) -> None:
        if not self.procs:
            return
        now = self.clock.now()
        log.info("draining all agents before stopping", count=len(self.procs))
        for proc in self.procs.values():
            proc.drain(now + self.pools.get(proc.pool, POOL_DEFAULTS).drain_timeout)
            self.drain_started.setdefault(proc.agent_id, now)
        while self.procs:
            now = self.clock.now()
            await self._reap(now)
            for proc in self.procs.values():
                if proc.drain_deadline is not None and now > proc.drain_deadline:
                    self.killed_for[proc.agent_id] = DRAIN_DEADLINE
                    proc.kill()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 0.1)
            self.wake.clear()
        log.info("all agents stopped")
