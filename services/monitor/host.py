"""Host resources with psutil: CPU, memory, disk and I/O, the agents' memory and CPU, and how many more fit."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from agentscaler.shared.messages.snapshots import HostSnapshot

from .room import cpu_fit, host_room, memory_fit

SAMPLE = 16
"""Agents measured per snapshot: reading a process's PSS costs about a millisecond, so 1000 agents are
sampled, not all read."""
KEEP = 12
"""Agents of the previous sample read again while they run: the CPU time they used since gives the per-agent
CPU. The rest of the sample is drawn anew, so the memory figures move over all the agents."""


@dataclass(frozen=True)
class AgentReading:
    """One agent process read once: its memory in bytes and the CPU seconds it has used."""

    rss: int
    pss: int
    cpu_seconds: float


class HostSampler:
    def __init__(self, host: str, disk_path: str, memory_reserve: int) -> None:
        self.host = host
        self.disk_path = disk_path
        self.memory_reserve = memory_reserve
        psutil.cpu_percent(interval=None)  # prime: the next call measures from here
        psutil.cpu_times_percent(interval=None)
        self._io = psutil.disk_io_counters()
        self._io_at = time.monotonic()
        self._rng = random.Random()
        self._last_pss = 0
        self._cpu = CpuDeltas()
        self._processes: dict[int, psutil.Process] = {}
        """The last sample's processes, kept so reading them again costs no new lookup."""

    def sample(self, agent_pids: Sequence[int], default_agent_memory: int) -> HostSnapshot:
        """The host's figures now; its agents' memory and CPU from a sample of ``agent_pids``."""
        mem = psutil.virtual_memory()
        disk = psutil.disk_usage(self.disk_path)
        read_bps, write_bps = self._io_rates()
        readings = self._read_agents(agent_pids)
        rss_avg = int(_mean([r.rss for r in readings.values()]))
        pss_avg = int(_mean([r.pss for r in readings.values()]))
        cpu_avg = round(self._cpu.average({pid: r.cpu_seconds for pid, r in readings.items()}, time.monotonic()), 2)
        if pss_avg:
            self._last_pss = pss_avg  # still the best estimate after the agents are gone
        budget = pss_avg or self._last_pss or default_agent_memory
        cpu_count = psutil.cpu_count() or 1
        cpu_percent = psutil.cpu_percent(interval=None)
        memory = memory_fit(mem.available, self.memory_reserve, budget)
        cpu = cpu_fit(cpu_percent, cpu_count, cpu_avg)
        room, bound = host_room(memory, cpu)
        return HostSnapshot(
            host=self.host,
            cpu_count=cpu_count,
            cpu_percent=cpu_percent,
            iowait_percent=round(getattr(psutil.cpu_times_percent(interval=None), "iowait", 0.0), 1),
            load1=os.getloadavg()[0],
            memory_total=mem.total,
            memory_available=mem.available,
            memory_percent=mem.percent,
            disk_total=disk.total,
            disk_free=disk.free,
            disk_read_bps=read_bps,
            disk_write_bps=write_bps,
            agents=len(agent_pids),
            agent_rss_avg=rss_avg,
            agent_pss_avg=pss_avg,
            agent_memory_budget=budget,
            memory_reserve=self.memory_reserve,
            agents_fit=memory,
            agent_cpu_avg=cpu_avg,
            agents_cpu_percent=round(min(cpu_avg * len(agent_pids) / cpu_count, 100.0), 1),
            cpu_fit=cpu,
            room=room,
            room_bound=bound,
        )

    def _read_agents(self, agent_pids: Sequence[int]) -> dict[int, AgentReading]:
        """Read a sample of the agents (see ``pick``); the ones gone meanwhile are left out."""
        processes: dict[int, psutil.Process] = {}
        readings: dict[int, AgentReading] = {}
        for pid in pick(list(self._processes), agent_pids, self._rng):
            process = self._processes.get(pid) or _process(pid)
            reading = None if process is None else _read(process)
            if process is not None and reading is not None:
                processes[pid], readings[pid] = process, reading
        self._processes = processes
        return readings

    def _io_rates(self) -> tuple[float, float]:
        io, at = psutil.disk_io_counters(), time.monotonic()
        if io is None or self._io is None or at <= self._io_at:
            self._io, self._io_at = io, at
            return 0.0, 0.0
        span = at - self._io_at
        rates = (io.read_bytes - self._io.read_bytes) / span, (io.write_bytes - self._io.write_bytes) / span
        self._io, self._io_at = io, at
        return round(max(rates[0], 0.0), 1), round(max(rates[1], 0.0), 1)


class HostBook:
    """Every host's latest figures heard on the snapshot subjects, each with when it was heard (monotonic
    seconds: the hosts' clocks may differ)."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._heard: dict[str, tuple[HostSnapshot, float]] = {}

    def heard(self, host: HostSnapshot, now: float) -> None:
        self._heard[host.host] = (host, now)

    def fresh(self, own: HostSnapshot, now: float) -> list[HostSnapshot]:
        """The hosts heard from within ``max_age``, ``own`` in place of what was heard of its host, sorted by
        name. The others are forgotten."""
        self._heard = {name: entry for name, entry in self._heard.items() if now - entry[1] <= self.max_age}
        hosts = {name: host for name, (host, _) in self._heard.items()} | {own.host: own}
        return [hosts[name] for name in sorted(hosts)]


class CpuDeltas:
    """Per-agent CPU from the CPU seconds each agent used since it was last read. Remembers only the agents of
    the latest reading, so its memory stays within a sample."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, float]] = {}
        """pid -> (CPU seconds, monotonic time) at the latest reading."""

    def average(self, cpu_seconds: dict[int, float], now: float) -> float:
        """Mean CPU, in percent of one core, of the agents in ``cpu_seconds`` that were read last time too
        (0 when none was). A count that went down (a reused pid) is skipped."""
        rates = []
        for pid, seconds in cpu_seconds.items():
            before = self._last.get(pid)
            if before is not None and now > before[1] and seconds >= before[0]:
                rates.append((seconds - before[0]) / (now - before[1]) * 100.0)
        self._last = {pid: (seconds, now) for pid, seconds in cpu_seconds.items()}
        return _mean(rates)


def pick(previous: Sequence[int], agent_pids: Sequence[int], rng: random.Random) -> list[int]:
    """The agents to read, in order: others drawn at random, then the first ``KEEP`` of the ``previous`` sample
    that still run, ``SAMPLE`` in all. Drawn agents come first, so each is read in a few snapshots running
    (its CPU measured between them), and then gives way."""
    running = set(agent_pids)
    kept = [pid for pid in previous if pid in running][:KEEP]
    others = sorted(running.difference(kept))  # sorted: the draw depends on the generator alone
    return rng.sample(others, min(len(others), SAMPLE - len(kept))) + kept


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _read(process: psutil.Process) -> AgentReading | None:
    """A process's RSS, PSS and CPU seconds. PSS splits shared pages among the processes sharing them, so for
    agents forked from one server it is what each really costs; RSS counts the shared pages in full."""
    try:
        with process.oneshot():
            info = process.memory_full_info()
            times = process.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return AgentReading(int(info.rss), int(getattr(info, "pss", info.rss)), times.user + times.system)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
