"""The cluster block of ``agentscaler status``: the NATS servers, and the replicas and leaders of agentscaler's
streams and buckets, with any that have fewer copies than the setting or lack a leader or current copies."""

from __future__ import annotations

from collections import Counter

from agentscaler.shared.messages.cluster import ClusterView


def render_cluster(c: ClusterView) -> list[str]:
    server = f" ({c.server})" if c.server else ""
    others = [url for url in c.servers if url != c.connected]
    lines = [
        f"cluster  {c.name or 'none (one server)'}   connected {c.connected or '-'}{server}"
        + (f"   also {', '.join(others)}" if others else "")
    ]
    if not c.streams:
        return lines
    by_replicas = Counter(s.replicas for s in c.streams)
    leaders = Counter(s.leader for s in c.streams if s.leader)
    lines.append(
        "  streams  "
        + ", ".join(f"{n} with {r} replica{'s' if r > 1 else ''}" for r, n in sorted(by_replicas.items()))
        + (f"   leaders {', '.join(f'{name} {n}' for name, n in sorted(leaders.items()))}" if leaders else "")
    )
    fewer = [s.stream for s in c.streams if s.replicas < c.replicas]
    if fewer:
        lines.append(f"  fewer    than the setting replicas {c.replicas}: {', '.join(fewer)}")
    behind = (
        [f"no leader: {', '.join(s.stream for s in c.streams if not s.leader)}"]
        if any(not s.leader for s in c.streams)
        else []
    )
    lagging = Counter((s.current, s.replicas) for s in c.streams if s.leader and s.current < s.replicas)
    behind += [f"{n} with {cur} of {r} copies current" for (cur, r), n in sorted(lagging.items())]
    if behind:
        lines.append(f"  behind   {'; '.join(behind)}")
    return lines
