"""Human-readable status."""

from __future__ import annotations

from agentscaler.shared.messages.snapshots import HostSnapshot, PoolSnapshot, Snapshot

GIB = 1024**3
MIB = 1024**2


def render_status(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for pool in snapshot.pools:
        lines.extend(_pool(pool))
        lines.append("")
    lines.extend(_host(snapshot.host))
    return "\n".join(lines)


def _pool(p: PoolSnapshot) -> list[str]:
    a, q, t = p.agents, p.queue, p.tasks
    running = a.ready + a.busy
    return [
        f"pool {p.name}   mode {p.mode}   desired {p.desired}   running {running}   max {p.max_agents}",
        f"  agents   ready {a.ready}   busy {a.busy}   starting {a.starting}   draining {a.draining}",
        f"  queue    pending {q.pending}   in flight {q.in_flight}   idle pulls {q.waiting_pulls}",
        f"  tasks    completed {t.completed}   failed {t.failed}   throughput {t.throughput:.2f}/s   "
        f"latency p50 {t.latency_p50:.2f}s  p95 {t.latency_p95:.2f}s   wait p95 {t.wait_p95:.2f}s   "
        f"(last {t.window:g}s)",
    ]


def _host(h: HostSnapshot) -> list[str]:
    used = h.memory_total - h.memory_available
    return [
        f"host {h.host}",
        f"  cpu      {h.cpu_percent:.0f}% of {h.cpu_count} cores   load {h.load1:.2f}",
        f"  memory   {used / GIB:.1f} GiB used   {h.memory_available / GIB:.1f} GiB available "
        f"of {h.memory_total / GIB:.1f} GiB",
        f"  disk     {h.disk_free / GIB:.1f} GiB free of {h.disk_total / GIB:.1f} GiB   "
        f"read {h.disk_read_bps / MIB:.1f} MiB/s   write {h.disk_write_bps / MIB:.1f} MiB/s",
        f"  agents   {h.agents} running, ~{h.agent_memory_budget / MIB:.0f} MiB each   fits {h.agents_fit} more "
        f"(keeping {h.memory_reserve / MIB:.0f} MiB free)",
    ]
