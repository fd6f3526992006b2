"""Replay benchmark: a workload trace fed into the real running system, measured as the simulator measures it.

Runs a private nats-server and all services, puts a pool in auto mode, and submits the trace's tasks at their
arrival times divided by ``--speed``; each task sleeps its service time divided by ``--speed`` in a real
agent. Every duration the policy sees is scaled the same way (target wait, scale-down and flap windows, rate
smoothing, the monitor's interval and stats window), so the live run is the trace's run played faster.
Measured live, in trace seconds:

- agent-seconds: the agents of the pool over time, from the actuator's ``spawned`` and ``exited`` events;
- slack: 1 - (the tasks' measured service seconds) / agent-seconds;
- p95 wait (submission to start, from the stored results), minutes over the target wait, scaling actions
  (decisions that changed the count).

The same window of the trace then runs through the simulator (``services/policy/sim/simulate.py``) with the same
policy settings and the host as measured live (unless ``--start-delay`` or ``--spawn-rate`` say otherwise): the
agents' start time (the median the policy saw) and how many agents the host started a second at most (the most that
registered in any ``SPAWN_WINDOW`` real seconds: the host's pace in a burst, and in a run without one no more than
the run needed), both in trace time. The live figures are printed with their ratio to the simulated ones (the
simulation is the baseline).

    python bench/replay.py --kind steady --speed 10 --duration 1800
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
import traces
from harness import connect, running_system, wait_until

from agentscaler.services.cli.client import Client
from agentscaler.services.policy.sim.metrics import Metrics, measure, minutes_over, p95
from agentscaler.services.policy.sim.simulate import simulate
from agentscaler.services.policy.sim.trial import AutoPolicy
from agentscaler.services.policy.sim.workload import Workload
from agentscaler.shared import subjects
from agentscaler.shared.codec import decode, encode
from agentscaler.shared.messages.agents import Exited, Registered, Spawned
from agentscaler.shared.messages.decisions import DecisionEvent
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from agentscaler.shared.messages.tasks import TaskEnvelope

POOL = "replay"
SPAWN_WINDOW = 2.0
"""Real seconds over which the live rate of registrations is measured (the most in any such window)."""


@dataclass
class AgentClock:
    """The pool's agent count over time, from lifecycle events, integrated into agent-seconds."""

    speed: float
    count: int = 0
    since: float = field(default_factory=time.monotonic)
    agent_seconds: float = 0.0
    peak: int = 0

    def change(self, delta: int) -> None:
        now = time.monotonic()
        self.agent_seconds += self.count * (now - self.since) * self.speed
        self.count, self.since = self.count + delta, now
        self.peak = max(self.peak, self.count)

    def total(self) -> float:
        self.change(0)
        return self.agent_seconds


def scaled(config: AutoConfig, speed: float) -> AutoConfig:
    """``config`` with every duration divided by ``speed``."""
    return msgspec.structs.replace(
        config,
        target_wait=config.target_wait / speed,
        scale_down_window=config.scale_down_window / speed,
        flap_window=config.flap_window / speed,
        rate_smoothing=config.rate_smoothing / speed,
        season=config.season / speed,
    )


@dataclass
class Live:
    metrics: Metrics
    start_time: float
    """The median of the agents' start times the policy decided on, in trace seconds (0 if none)."""
    spawn_rate: float
    """The most agents that registered per trace second, over any ``SPAWN_WINDOW`` (0 if none)."""


async def replay(client: Client, workload: Workload, config: AutoConfig, args: argparse.Namespace) -> Live:
    speed = args.speed
    await client.set_pool(
        PoolConfig(name=POOL, max_agents=args.max_agents, drain_timeout=600, heartbeat_interval=5, pull_timeout=5)
    )
    clock = AgentClock(speed)
    asked = AgentClock(speed)
    """The count the policy asked for, over time: the difference to ``clock`` is the actuation's lag."""
    actions = 0
    starts: list[float] = []
    registered: list[float] = []

    async def on_agent(msg: Any) -> None:
        kind = msg.subject.rsplit(".", 1)[-1]
        event = decode(Spawned if kind == "spawned" else Exited, msg.data)
        if event.pool == POOL:
            clock.change(1 if kind == "spawned" else -1)

    async def on_registered(msg: Any) -> None:
        if decode(Registered, msg.data).agent.pool == POOL:
            registered.append(time.monotonic())

    async def on_decision(msg: Any) -> None:
        nonlocal actions
        event = decode(DecisionEvent, msg.data)
        if event.inputs is not None and event.inputs.start_time > 0:
            starts.append(event.inputs.start_time * speed)
        if event.applied and event.desired != event.previous:
            actions += 1
            asked.change(event.desired - event.previous)

    await client.nc.subscribe(subjects.agent_event_subject("spawned"), cb=on_agent)
    await client.nc.subscribe(subjects.agent_event_subject("exited"), cb=on_agent)
    await client.nc.subscribe(subjects.decision_subject(POOL), cb=on_decision)
    await client.nc.subscribe(subjects.agent_event_subject("registered"), cb=on_registered)
    await client.set_mode(POOL, "auto", scaled(config, speed))
    await asyncio.sleep(2)  # the fork server warms up, as it would for a pool long in auto mode
    clock, asked = AgentClock(speed, count=clock.count), AgentClock(speed, count=asked.count)

    ids = [uuid.uuid4().hex for _ in workload.arrivals]
    start = time.monotonic()
    pending: set[asyncio.Task[Any]] = set()
    for task_id, t, service in zip(ids, workload.arrivals, workload.services, strict=True):
        delay = start + t / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        envelope = TaskEnvelope(id=task_id, pool=POOL, payload={"sleep": service / speed}, submitted_at=time.time())
        publish = asyncio.ensure_future(
            client.js.publish(subjects.task_subject(POOL), encode(envelope), headers={"Nats-Msg-Id": task_id})
        )
        pending.add(publish)
        publish.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    print(f"submitted {len(ids)} tasks in {time.monotonic() - start:.1f} s; waiting for the last results")
    results = await _results(client, ids)
    work = sum((r.finished_at - r.started_at) * speed for r in results)
    last_finish = max(r.finished_at for r in results)
    await asyncio.sleep(max(0.0, last_finish - time.time()))
    agent_seconds = clock.total()
    print(f"live: {agent_seconds:,.0f} agent-seconds of agent processes, {asked.total():,.0f} asked for by the policy")
    waits = [max(r.started_at - r.submitted_at, 0.0) * speed for r in results]
    start_time = statistics.median(starts) if starts else 0.0
    slowest = max(starts, default=0.0)
    print(
        f"agents started in {start_time / speed:.3f} s ({start_time:.2f} trace seconds), the median the policy "
        f"saw; at most {slowest / speed:.3f} s"
    )
    spawn_rate = _most_per_window(registered, SPAWN_WINDOW) / SPAWN_WINDOW
    print(f"the host started up to {spawn_rate:.0f} agents a second ({spawn_rate / speed:.1f} per trace second)")
    metrics = Metrics(
        policy="agentscaler, live",
        agent_seconds=agent_seconds,
        slack=1 - work / agent_seconds if agent_seconds else 0.0,
        p95_wait=p95(waits),
        minutes_over=minutes_over(waits, workload, config.target_wait),
        minutes=len(workload.minutes),
        actions=actions,
        unfinished=len(ids) - len(results),
        peak_agents=clock.peak,
    )
    return Live(metrics, start_time, spawn_rate / speed)


def _most_per_window(times: list[float], window: float) -> int:
    """The most of ``times`` (sorted) within any ``window`` seconds."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def _results(client: Client, ids: list[str]) -> list[Any]:
    """Every task's result, in submission order, once all are stored."""
    found: dict[str, Any] = {}

    async def all_in() -> bool:
        for task_id in ids:
            if task_id not in found and (result := await client.result(POOL, task_id)) is not None:
                found[task_id] = result
        return len(found) == len(ids)

    await wait_until(all_in, timeout=600, every=1.0)
    return [found[task_id] for task_id in ids]


def window(tasks: list[tuple[float, float]], start: float, duration: float) -> Workload:
    """The tasks arriving in ``[start, start + duration)``, shifted to begin at 0."""
    return Workload.from_tasks([(t - start, s) for t, s in tasks if start <= t < start + duration])


ROWS = (
    ("agent-seconds", "agent_seconds", "{:>12,.0f}"),
    ("slack %", "slack", "{:>12.1%}"),
    ("p95 wait s", "p95_wait", "{:>12.2f}"),
    ("minutes over target", "minutes_over", "{:>12d}"),
    ("scaling actions", "actions", "{:>12d}"),
    ("peak agents", "peak_agents", "{:>12d}"),
)
"""The figures a live run is reported by: (label, ``Metrics`` field, format)."""


def report(live: Metrics, simulated: Metrics) -> None:
    print(f"{'':24} {'live':>12} {'simulated':>12} {'live/sim':>9}")
    for label, key, fmt in ROWS:
        a, b = getattr(live, key), getattr(simulated, key)
        ratio = f"{a / b:>8.2f}x" if b else f"{'-':>9}"
        print(f"{label:24} {fmt.format(a)} {fmt.format(b)} {ratio}")
    print(f"unfinished tasks: live {live.unfinished}, simulated {simulated.unfinished}")


async def run(args: argparse.Namespace, workload: Workload) -> Live:
    interval = max(0.1, 1.0 / args.speed)
    env = {"AGENTSCALER_MONITOR_INTERVAL": str(interval), "AGENTSCALER_MONITOR_STATS_WINDOW": str(60 / args.speed)}
    with running_system(env) as bench:
        client = await connect(bench.url)
        live = await replay(client, workload, AutoConfig(target_wait=args.target_wait, predict=False), args)
        await client.nc.close()
    print(f"logs in {bench.work}")
    return live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=sorted(traces.GENERATORS), default="steady", help="a shipped trace")
    parser.add_argument("--trace", help="a JSON-lines trace file instead of --kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=10.0, help="how many times faster than the trace")
    parser.add_argument("--from", dest="start", type=float, default=0.0, help="trace second to start at")
    parser.add_argument("--duration", type=float, default=1800.0, help="trace seconds to replay")
    parser.add_argument("--target-wait", type=float, default=5.0, help="p95 queue wait target, trace seconds")
    parser.add_argument("--max-agents", type=int, default=1000)
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=None,
        help="agents the simulated host starts per trace second, 0 for no limit (default: as measured live)",
    )
    parser.add_argument(
        "--start-delay",
        type=float,
        default=None,
        help="the simulation's agent start, trace seconds (default: as measured live)",
    )
    args = parser.parse_args()
    if (
        args.speed <= 0
        or args.duration <= 0
        or any(v is not None and v < 0 for v in (args.start_delay, args.spawn_rate))
    ):
        parser.error("--speed and --duration must be > 0, --start-delay and --spawn-rate >= 0")
    tasks = traces.read_trace(args.trace) if args.trace else traces.generate(args.kind, args.seed)
    workload = window(tasks, args.start, args.duration)
    if not workload.arrivals:
        parser.error("no task arrives in that window of the trace")
    print(f"replaying {len(workload)} tasks ({args.duration:g} trace seconds) at {args.speed:g}x")
    live = asyncio.run(run(args, workload))
    config = AutoConfig(target_wait=args.target_wait, predict=False)
    start_delay = live.start_time if args.start_delay is None else args.start_delay
    spawn_rate = live.spawn_rate if args.spawn_rate is None else args.spawn_rate
    print(f"simulating agents that start in {start_delay:.2f} trace seconds, {spawn_rate:.1f} a trace second at most")
    result = simulate(
        workload,
        AutoPolicy(config, args.max_agents),
        start_delay=start_delay,
        max_agents=args.max_agents,
        spawn_rate=spawn_rate,
    )
    report(live.metrics, measure(result, workload, args.target_wait))


if __name__ == "__main__":
    main()
