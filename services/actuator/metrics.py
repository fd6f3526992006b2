"""The actuator's metrics (docs/metrics.md): how long its host takes to start and to drain agents, with the
``host`` label (each host's actuator exports its own)."""

from __future__ import annotations

from agentscaler.shared.telemetry.metrics import meter

SPAWN = meter().create_histogram(
    "agentscaler_agent_spawn_seconds",
    unit="s",
    description="Seconds the actuator took to start an agent's process (fork from the pool's fork server, or exec)",
)
DRAIN = meter().create_histogram(
    "agentscaler_agent_drain_seconds",
    unit="s",
    description="Seconds from the drain signal to a drained agent's exit (its task finished, or its drain deadline)",
)


def record_spawn(pool: str, host: str, seconds: float, count: int) -> None:
    """``count`` agents started in one batch that took ``seconds``: each took that long to get its process."""
    for _ in range(count):
        SPAWN.record(seconds, {"pool": pool, "host": host})


def record_drain(pool: str, host: str, seconds: float) -> None:
    DRAIN.record(max(seconds, 0.0), {"pool": pool, "host": host})
