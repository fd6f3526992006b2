"""The policy service: answers commands, runs the decision core on snapshots, writes desired counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog
from nats.aio.client import Client

from agentscaler.shared import subjects
from agentscaler.shared.allowlist import fleet_refusal, host_matches, runs_pool
from agentscaler.shared.auth.actor import actor_of_subject
from agentscaler.shared.bus.audit import ensure_audit
from agentscaler.shared.bus.discovery import discoverable
from agentscaler.shared.bus.events import listen, publish
from agentscaler.shared.bus.history import ensure_history
from agentscaler.shared.bus.hosts import actuators
from agentscaler.shared.bus.lease import lead
from agentscaler.shared.bus.rpc import Refused, request_subject
from agentscaler.shared.clock import SYSTEM_CLOCK, Clock
from agentscaler.shared.messages.bounds import out_of_range
from agentscaler.shared.messages.commands import (
    Command,
    CommandReply,
    GetPool,
    HostCommand,
    HostHeld,
    PoolInfo,
    PoolList,
    Scale,
    Scaled,
    SetMode,
    SetPool,
)
from agentscaler.shared.messages.decisions import DecisionEvent, Observation
from agentscaler.shared.messages.hosts import Cordon
from agentscaler.shared.messages.optimize import Optimize, Optimized
from agentscaler.shared.messages.pool_events import refused
from agentscaler.shared.messages.pools import DEFAULT_POOL, AutoConfig, DesiredState, PoolConfig
from agentscaler.shared.messages.snapshots import PoolSnapshot, Snapshot
from agentscaler.shared.messages.summaries import summed
from agentscaler.shared.numbers import MIB
from agentscaler.shared.subjects import InvalidName, check_name
from agentscaler.shared.telemetry.tracing import current_traceparent

from .audit import CommandAudit, load_actor_names
from .autopilot import Autopilot, View
from .chatops import ChatOps
from .core.auto import AutoDecision
from .core.capacity import capacity
from .core.decide import Decision, decide
from .core.scaling import ScaleRefused, check_auto, plan_scale
from .metrics import PoolGauges, decision_applied
from .placing import Placer
from .settings import PolicySettings
from .store import Conflict, PoolStore
from .tuning import Tuner

log = structlog.get_logger()

Reply = Scaled | PoolInfo | PoolList | HostHeld

COMMAND_TRIGGERS = frozenset({"command", "mode", "config"})
"""Triggers of decisions a command made: they carry the command's actor."""


async def run(settings: PolicySettings, stop: asyncio.Event, clock: Clock = SYSTEM_CLOCK) -> None:
    """Stand by until this instance holds the policy's lease, then serve (commands, decisions, desired counts)
    until it is lost or ``stop``: any number of policies may run, one acts (``shared/bus/lease.py``)."""

    async def term(nc: Client, ended: asyncio.Event) -> None:
        policy = PolicyService(settings, nc, await PoolStore.open(nc.jetstream()), clock)
        try:
            await policy.start()
            await ended.wait()
        finally:
            policy.placer.stop()
            policy.gauges.close()
            for task in list(policy.autopilot.tasks):
                task.cancel()

    await lead("policy", settings, settings.lease_ttl, stop, term, clock)


class PolicyService:
    def __init__(self, settings: PolicySettings, nc: Client, store: PoolStore, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.nc = nc
        self.store = store
        self.clock = clock
        self.snapshots: dict[str, Snapshot] = {}
        self.snapshot_gap = 1.0
        """Seconds between a host's snapshots, lately: how often the policy decides for a pool."""
        self.lock = asyncio.Lock()
        self.autopilot = Autopilot(settings, nc, self._view, self._wake, clock)
        self.tuner = Tuner(settings, nc, clock)
        self.placer = Placer(settings, clock)
        self.gauges = PoolGauges()

    async def start(self) -> None:
        for pool, moved in (await self.store.migrate()).items():
            if moved:
                log.warning("stored pool config brought into range", pool=pool, moved=moved)
            else:
                log.error("stored pool config cannot be read; replace it with `agentscaler pool set`", pool=pool)
        await ensure_history(self.nc.jetstream(), self.settings.history_max_age, self.settings.history_max_mb * MIB)
        if self.settings.default_pool and await self.store.config(DEFAULT_POOL) is None:
            await self._set_pool(PoolConfig(name=DEFAULT_POOL))
            log.info("created the default pool")
        for name in await self.store.names():
            state, _ = await self.store.state(name)
            config = await self.store.config(name)
            if state.mode == "auto" and config is not None:
                await self.autopilot.engage(config, state.desired)
        js = self.nc.jetstream()
        await self.placer.start(js)
        await ensure_audit(js, self.settings.audit_max_age, self.settings.audit_max_mb * MIB)
        audit = CommandAudit(js, self.clock, load_actor_names(self.settings.actors))
        handlers: dict[str, tuple[Any, Any, Callable[[Any], Awaitable[Any]]]] = {
            subjects.COMMAND: (Command, CommandReply, self._on_command),
            # narrower ones, for roles: permissions decide who may send which
            **{subject: (Command, CommandReply, self._commands_on(subject)) for subject in subjects.COMMAND_KINDS},
            subjects.OPTIMIZE: (Optimize, Optimized, self._optimize),
        }
        # The hosts' snapshots before the first command: placement and capacity checks need their room.
        await listen(self.nc, subjects.snapshot_subject("*"), Snapshot, self._on_snapshot, traced=False)
        service = await discoverable(self.nc, "policy", self.settings.host, "commands, pools and desired counts")
        for subject, (kind, reply, handler) in handlers.items():
            for served in (subject, subjects.as_actor(subject, "*")):  # bare, and sent as a vouched-for user
                await service.serve(
                    served, kind, reply, handler, queue="policy", context=_command_ctx, record=audit.record
                )
        await ChatOps(self.nc, self._on_command, audit.record).serve(service, queue="policy")
        log.info("policy ready")

    def _commands_on(self, subject: str) -> Callable[[Command], Awaitable[Reply]]:
        """The handler of ``subject``: the commands it serves (``subjects.COMMAND_KINDS``), others refused."""
        kinds = subjects.COMMAND_KINDS[subject]

        async def handle(cmd: Command) -> Reply:
            kind = type(cmd).__struct_config__.tag
            if kind not in kinds:
                raise Refused("refused", f"{kind} is not served on {subject}: send it on {subjects.COMMAND}")
            return await self._on_command(cmd)

        return handle

    async def _on_command(self, cmd: Command) -> Reply:
        _check_consistent(cmd)
        async with self.lock:
            if isinstance(cmd, Scale):
                try:
                    return await self._scale(cmd)
                except Refused as exc:
                    await self._tell_refused(cmd, exc)
                    raise
            if isinstance(cmd, SetPool):
                await self._check_allowed(cmd.config)
                return await self._set_pool(cmd.config)
            if isinstance(cmd, SetMode):
                return await self._set_mode(cmd)
            if isinstance(cmd, HostCommand):
                return await self._hold(cmd)
            if isinstance(cmd, GetPool):
                return await self._info(await self._config(cmd.pool))
            pools = [await self._info(await self._config(name)) for name in await self.store.names()]
            return summed(PoolList(pools=pools))

    async def _tell_refused(self, cmd: Scale, exc: Refused) -> None:
        """Publish a refused scale-up for people (``agentscaler.evt.pool.refused.<pool>``)."""
        if exc.code == "refused" and cmd.direction == "up":
            actor = actor_of_subject(request_subject.get())
            event = refused(cmd.pool, cmd.count, exc.message, actor, self.clock.now())
            await publish(self.nc, subjects.pool_event_subject("refused", cmd.pool), event)

    async def _config(self, pool: str) -> PoolConfig:
        try:
            check_name("pool", pool)
        except InvalidName as exc:
            raise Refused("bad_request", str(exc)) from None
        config = await self.store.config(pool)
        if config is None:
            known = ", ".join(await self.store.names()) or "none"
            raise Refused(
                "unknown_pool",
                f"unknown pool {pool!r} (known: {known}); "
                f"create it with `agentscaler pool set {pool} --handler module:function`",
            )
        return config

    async def _info(self, config: PoolConfig) -> PoolInfo:
        state, _ = await self.store.state(config.name)
        return summed(PoolInfo(config=config, state=state))

    async def _scale(self, cmd: Scale) -> Scaled:
        config = await self._config(cmd.pool)
        state, revision = await self.store.state(cmd.pool)
        cap = capacity(self._room_for(cmd, config), self.clock.now(), self.settings.snapshot_max_age)
        try:
            desired, note = plan_scale(cmd, config, state, cap)
        except ScaleRefused as exc:
            raise Refused(exc.code, exc.message, exc.summary) from None
        if desired != state.desired:
            reason = f"{cmd.direction} {desired} requested"
            decision = Decision(cmd.pool, state.desired, desired, f"manual.{cmd.direction}", reason)
            await self._apply(config, decision, msgspec.structs.replace(state, desired=desired), revision, "command")
        log.info("scale command", direction=cmd.direction, previous=state.desired, desired=desired)
        return summed(Scaled(pool=cmd.pool, previous=state.desired, desired=desired, note=note))

    def _room_for(self, cmd: Scale, config: PoolConfig) -> list[Snapshot]:
        """The snapshots of the hosts that may take more of the pool's agents (all hosts when no actuator is
        known); refused when actuators run the pool but an operator holds every one or the pool's ``hosts``
        setting matches none. (Hosts that cannot load its handler still count: their problem is in status.)"""
        runs = [info for info in self.placer.live() if runs_pool(info, config.name)]
        if not runs:
            return list(self.snapshots.values())
        matched = [info.host for info in runs if host_matches(info, config.hosts)]
        takers = [host for host in matched if host not in self.placer.cordons]
        if not takers and cmd.direction == "up" and cmd.count > 0:
            held = sorted(set(matched) & set(self.placer.cordons))
            why = [f"{', '.join(held)} cordoned or drained"] if held else []
            if len(matched) < len(runs):
                why.append(f"its hosts setting {','.join(config.hosts)} matches none of the others")
            raise Refused(
                "refused",
                f"no host may take agents of pool {config.name!r} ({'; '.join(why)}; hosts: "
                f"{', '.join(info.host for info in runs)}): `agentscaler host uncordon NAME`, or "
                f"`agentscaler pool set {config.name} --hosts PATTERN,...` to name hosts that may run it",
            )
        room = {c.host for c in self.placer.candidates(config, self.snapshots) if not c.cordoned} or set(takers)
        return [snapshot for host, snapshot in self.snapshots.items() if host in room]

    async def _check_allowed(self, config: PoolConfig) -> None:
        """Refuse a pool whose handler or env no live actuator that runs it allows (their ``handlers`` and
        ``env_keys`` settings)."""
        reason = fleet_refusal(await actuators(self.nc.jetstream()), config, self.clock.now())
        if reason:
            raise Refused("bad_request", reason)

    async def _set_pool(self, config: PoolConfig) -> PoolInfo:
        try:
            check_name("pool", config.name)
        except InvalidName as exc:
            raise Refused("bad_request", str(exc)) from None
        module, sep, func = config.handler.partition(":")
        if not (module and sep and func):
            raise Refused("bad_request", f"handler {config.handler!r} must be 'module:function'")
        await self.store.save_config(config)
        state, revision = await self.store.state(config.name)
        if revision == 0:
            await self.store.write_state(state, 0)
        log.info("pool configured", pool=config.name, handler=config.handler, max_agents=config.max_agents)
        await self._decide(config, "config")
        return await self._info(config)

    async def _set_mode(self, cmd: SetMode) -> PoolInfo:
        config = await self._config(cmd.pool)
        if cmd.mode == "auto" and cmd.auto is not None:
            config = msgspec.structs.replace(config, auto=cmd.auto)
            await self.store.save_config(config)
        state, revision = await self.store.state(cmd.pool)
        if state.mode != cmd.mode:
            words = (
                f"auto mode: the policy sizes the pool from {state.desired} agents"
                if cmd.mode == "auto"
                else f"manual mode: holding the current {state.desired} agents"
            )
            decision = Decision(cmd.pool, state.desired, state.desired, f"mode.{cmd.mode}", words)
            await self._apply(config, decision, msgspec.structs.replace(state, mode=cmd.mode), revision, "mode")
        if cmd.mode == "auto":
            await self._restart_auto(config, state.desired, "mode")
        else:
            await self.autopilot.disengage(cmd.pool)
        log.info("pool mode set", pool=cmd.pool, mode=cmd.mode, desired=state.desired)
        return await self._info(config)

    async def _optimize(self, cmd: Optimize) -> Optimized:
        """Tune a pool's auto settings to its recorded load. Runs outside the lock (the search takes seconds
        to minutes, in other processes): the pools go on being decided meanwhile. One run at a time: the
        subject's requests are answered in turn."""
        async with self.lock:
            config = await self._config(cmd.pool)
            pool = self._pool_snapshot(cmd.pool, self._latest())
        start = self.autopilot.start_time(cmd.pool) or (pool.start_time if pool is not None else 0.0)
        pace = pool.spawn_rate if pool is not None else 0.0
        report = await self.tuner.run(cmd, config, start, pace, self.snapshot_gap)
        if cmd.apply and report.recommended is not None and report.changes:
            unfit = out_of_range(report.recommended.config)  # stored, it would make the pool unreadable
            async with self.lock:
                now_config = await self._config(cmd.pool)
                if unfit:
                    note = f" Not applied: the recommended settings are out of range ({unfit})."
                    report = msgspec.structs.replace(report, note=report.note + note)
                elif now_config.auto == report.current.config:
                    await self._store_auto(now_config, report.recommended.config)
                    report = msgspec.structs.replace(report, applied=True)
                else:
                    note = " Not applied: the pool's auto settings changed while the search ran; run it again."
                    report = msgspec.structs.replace(report, note=report.note + note)
        await self.tuner.save(report)
        return report

    async def _store_auto(self, config: PoolConfig, auto: AutoConfig) -> None:
        """Store ``auto`` as the auto settings of ``config``'s pool; in force at once when the pool is in auto
        mode."""
        config = msgspec.structs.replace(config, auto=auto)
        await self.store.save_config(config)
        state, _ = await self.store.state(config.name)
        if state.mode == "auto":
            await self._restart_auto(config, state.desired, "config")
        log.info("auto settings stored", pool=config.name, mode=state.mode)

    async def _restart_auto(self, config: PoolConfig, desired: int, trigger: str) -> None:
        """Decide for ``config``'s pool afresh from ``desired`` agents: its settings may have changed."""
        await self.autopilot.disengage(config.name)
        await self.autopilot.engage(config, desired)
        await self._decide(config, trigger)

    async def _on_snapshot(self, snapshot: Snapshot, _: str) -> None:
        previous = self.snapshots.get(snapshot.host.host)
        if previous is not None and 0 < snapshot.at - previous.at < 60:
            self.snapshot_gap += (snapshot.at - previous.at - self.snapshot_gap) / 10
        self.snapshots[snapshot.host.host] = snapshot
        async with self.lock:
            for pool in snapshot.pools:
                config = await self.store.config(pool.name)
                if config is not None:
                    if self.autopilot.active(pool.name):
                        self.autopilot.snapshot_arrived(pool.name, snapshot.at)
                    await self._decide(config, "snapshot")
            self.gauges.snapshot(snapshot)

    async def _wake(self, pool: str) -> None:
        """Task arrivals asked for a decision on an auto pool."""
        async with self.lock:
            config = await self.store.config(pool)
            if config is not None:
                await self._decide(config, "arrival")

    async def _decide(self, config: PoolConfig, trigger: str) -> None:
        state, revision = await self.store.state(config.name)
        self.gauges.desired_is(config.name, state.desired)
        now = self.clock.now()
        if state.mode == "auto" and self.autopilot.active(config.name):
            outcome = await self.autopilot.decide(config, state.desired, now)
            decision = outcome.decision
            dry = config.auto.dry_run
            if decision.changed and not dry:
                new_state = msgspec.structs.replace(state, desired=decision.desired)
                await self._apply(config, decision, new_state, revision, trigger, inputs=outcome.inputs)
                return
            if outcome.publish:
                await self._publish(
                    decision, trigger, now, mode="auto", inputs=outcome.inputs, applied=not decision.changed
                )
            await self._place_again(config, state, revision)
            return
        pool_snapshot = self._pool_snapshot(config.name, self._latest())
        decision, new_state = decide(pool_snapshot, config, state, now)
        if decision.changed:
            await self._apply(config, decision, new_state, revision, trigger)
            return
        await self._place_again(config, state, revision)

    async def _hold(self, cmd: HostCommand) -> HostHeld:
        """Cordon, drain or uncordon a host, and place every pool again at once (a drain is not bounded by the
        rebalancing step: the operator asked for the move)."""
        known = {info.host for info in self.placer.live()} | set(self.placer.cordons) | set(self.snapshots)
        if cmd.host not in known:
            raise Refused(
                "unknown_host",
                f"unknown host {cmd.host!r} (known: {', '.join(sorted(known)) or 'none'}); a host is known while "
                "its actuator runs: see `agentscaler status`",
            )
        if cmd.action == "uncordon":
            was = await self.placer.release(cmd.host)
            note = "" if was else f"host {cmd.host!r} was not cordoned"
        else:
            actor = actor_of_subject(request_subject.get())
            await self.placer.hold(Cordon(host=cmd.host, drain=cmd.action == "drain", at=self.clock.now(), actor=actor))
            note = ""
        shares: dict[str, int] = {}
        stuck = []
        for name in await self.store.names():
            config = await self.store.config(name)
            state, revision = await self.store.state(name)
            if config is None:
                continue
            state = await self._place_again(config, state, revision, rebalance=False)
            if state.hosts.get(cmd.host):
                shares[name] = state.hosts[cmd.host]
            if cmd.action == "drain" and sum(state.hosts.values()) < state.desired:
                stuck.append(name)
        if stuck:
            note = (
                f"no other host may run {', '.join(stuck)}: those agents wait unplaced until one may "
                f"(`agentscaler host uncordon {cmd.host}`, or a host its `hosts` setting matches)"
            )
        held = "none" if cmd.action == "uncordon" else "draining" if cmd.action == "drain" else "cordoned"
        log.info("host held", host=cmd.host, action=cmd.action, shares=shares)
        return summed(HostHeld(host=cmd.host, held=held, shares=shares, note=note))

    async def _place_again(
        self, config: PoolConfig, state: DesiredState, revision: int, rebalance: bool = True
    ) -> DesiredState:
        """The pool's state with its shares written anew when the hosts that may run it changed (one gone, one
        new, one now refusing it) or need evening out; an unchanged placement writes nothing."""
        pool = self._pool_snapshot(config.name, self._latest())
        hosts = self.placer.shares(config, state, self.snapshots, pool, rebalance)
        if hosts == state.hosts or revision == 0:
            return state
        placed = msgspec.structs.replace(state, hosts=hosts)
        try:
            await self.store.write_state(placed, revision)
        except Conflict:
            return state  # changed meanwhile: the next pass places from the new state
        log.info("pool re-placed across hosts", pool=config.name, hosts=hosts, was=state.hosts)
        return placed

    def _view(self, pool: str) -> View:
        latest = self._latest()
        cap = capacity(self.snapshots.values(), self.clock.now(), self.settings.snapshot_max_age)
        return View(
            pool=self._pool_snapshot(pool, latest),
            host=None if latest is None else latest.host,
            agents_fit=None if cap is None else cap.agents_fit,
            room_bound="memory" if cap is None else cap.bound,
        )

    def _latest(self) -> Snapshot | None:
        return max(self.snapshots.values(), key=lambda s: s.at, default=None)

    def _pool_snapshot(self, pool: str, latest: Snapshot | None) -> PoolSnapshot | None:
        if latest is None:
            return None
        return next((p for p in latest.pools if p.name == pool), None)

    async def _apply(
        self,
        config: PoolConfig,
        decision: Decision,
        new_state: DesiredState,
        revision: int,
        trigger: str,
        inputs: Observation | None = None,
    ) -> None:
        now = self.clock.now()
        hosts = self.placer.shares(config, new_state, self.snapshots, self._pool_snapshot(config.name, self._latest()))
        new_state = msgspec.structs.replace(
            new_state, updated_at=now, reason=decision.reason, traceparent=current_traceparent(), hosts=hosts
        )
        try:
            await self.store.write_state(new_state, revision)
        except Conflict as exc:
            raise Refused("conflict", str(exc)) from None
        self.gauges.desired_is(config.name, new_state.desired)
        decision_applied(decision.pool, decision.rule)
        await self._publish(decision, trigger, now, mode=new_state.mode, inputs=inputs)
        log.info(
            "desired count changed",
            pool=decision.pool,
            previous=decision.previous,
            desired=decision.desired,
            rule=decision.rule,
        )

    async def _publish(
        self,
        decision: Decision,
        trigger: str,
        now: float,
        *,
        mode: str,
        inputs: Observation | None = None,
        applied: bool = True,
    ) -> None:
        auto = isinstance(decision, AutoDecision)
        event = DecisionEvent(
            pool=decision.pool,
            previous=decision.previous,
            desired=decision.desired,
            rule=decision.rule,
            reason=decision.reason,
            trigger=trigger,  # type: ignore[arg-type]
            at=now,
            mode=mode,  # type: ignore[arg-type]
            applied=applied,
            predicted=decision.predicted if auto else 0,
            limit=decision.limit if auto else "",
            demand=decision.demand if auto else 0,
            prediction=self.autopilot.prediction(decision.pool) if auto else "",
            inputs=inputs,
            actor=actor_of_subject(request_subject.get()) if trigger in COMMAND_TRIGGERS else "",
        )
        event = summed(event)
        await publish(self.nc, subjects.decision_subject(decision.pool), event)


def _check_consistent(cmd: Command) -> None:
    """Refuse settings that are each in range (the decoder checked that) but contradict each other."""
    if isinstance(cmd, SetPool):
        pool, auto = cmd.config.name, cmd.config.auto
    elif isinstance(cmd, SetMode) and cmd.auto is not None:
        pool, auto = cmd.pool, cmd.auto
    else:
        return
    try:
        check_auto(pool, auto)
    except ScaleRefused as exc:
        raise Refused(exc.code, exc.message, exc.summary) from None


def _command_ctx(cmd: Command | Optimize) -> dict[str, str]:
    if isinstance(cmd, Scale | GetPool | SetMode | Optimize):
        return {"pool": cmd.pool}
    if isinstance(cmd, SetPool):
        return {"pool": cmd.config.name}
    if isinstance(cmd, HostCommand):
        return {"host": cmd.host}
    return {}
