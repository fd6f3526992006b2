"""Host resources with psutil: CPU, memory, disk and I/O, the agents' memory, and how many more fit."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence

import psutil

from agentscaler.shared.messages.snapshots import HostSnapshot

MIB = 1024 * 1024

SAMPLE = 16
"""Agents measured per snapshot: reading a process's PSS costs about a millisecond, so 1000 agents are
sampled, not all read."""


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

    def sample(self, agent_pids: Sequence[int], default_agent_memory: int) -> HostSnapshot:
        mem = psutil.virtual_memory()
        disk = psutil.disk_usage(self.disk_path)
        read_bps, write_bps = self._io_rates()
        measured = [m for m in (_memory(pid) for pid in self._rng.sample(agent_pids, min(len(agent_pids), SAMPLE)))
                    if m is not None]  # fmt: skip
        rss_avg = int(sum(m[0] for m in measured) / len(measured)) if measured else 0
        pss_avg = int(sum(m[1] for m in measured) / len(measured)) if measured else 0
        if pss_avg:
            self._last_pss = pss_avg  # still the best estimate after the agents are gone
        budget = pss_avg or self._last_pss or default_agent_memory
        usable = max(mem.available - self.memory_reserve, 0)
        return HostSnapshot(
            host=self.host,
            cpu_count=psutil.cpu_count() or 1,
            cpu_percent=psutil.cpu_percent(interval=None),
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
            agents_fit=usable // budget if budget else 0,
        )

    def _io_rates(self) -> tuple[float, float]:
        io, at = psutil.disk_io_counters(), time.monotonic()
        if io is None or self._io is None or at <= self._io_at:
            self._io, self._io_at = io, at
            return 0.0, 0.0
        span = at - self._io_at
        rates = (io.read_bytes - self._io.read_bytes) / span, (io.write_bytes - self._io.write_bytes) / span
        self._io, self._io_at = io, at
        return round(max(rates[0], 0.0), 1), round(max(rates[1], 0.0), 1)


def _memory(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) of a process. PSS splits shared pages among the processes sharing them, so for agents
    forked from one server it is what each really costs; RSS counts the shared pages in full."""
    try:
        info = psutil.Process(pid).memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return int(info.rss), int(getattr(info, "pss", info.rss))
