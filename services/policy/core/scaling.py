"""Manual scaling: validate an ``up``/``down`` command against the pool and the hosts."""

from __future__ import annotations

from agentscaler.shared.messages.commands import Scale
from agentscaler.shared.messages.pools import AutoConfig, DesiredState, PoolConfig

from .capacity import Capacity


class ScaleRefused(Exception):
    """The command cannot be applied; ``code`` is the error reply's code, the message says what to do,
    ``summary`` (when set) says what is wrong plainly, without CLI advice."""

    def __init__(self, code: str, message: str, summary: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.summary = summary


def check_auto(pool: str, auto: AutoConfig) -> None:
    """Refuse auto settings whose fields are each in range but contradict each other (:class:`ScaleRefused`)."""
    if auto.max_agents is not None and auto.min_agents > auto.max_agents:
        raise ScaleRefused(
            "bad_request",
            f"auto min_agents {auto.min_agents} is above max_agents {auto.max_agents} for pool {pool!r}: "
            f"give --min at most --max, e.g. `agentscaler auto --pool {pool} --min {auto.max_agents} "
            f"--max {auto.max_agents}`",
        )


def plan_scale(cmd: Scale, pool: PoolConfig, state: DesiredState, cap: Capacity | None) -> tuple[int, str]:
    """The new desired count for ``cmd`` and a note, or :class:`ScaleRefused` saying why not."""
    current, n = state.desired, cmd.count
    if state.mode != "manual":
        raise ScaleRefused(
            "refused",
            f"pool {pool.name!r} is in {state.mode} mode, where the policy sets its size: take it back with "
            f"`agentscaler manual --pool {pool.name}` first, or change the policy's bounds with "
            f"`agentscaler auto --pool {pool.name} --min N --max N`",
        )
    if cmd.direction == "up" and n < current:
        raise ScaleRefused(
            "bad_request",
            f"up {n} is below the desired count {current} of pool {pool.name!r}; "
            f"use `agentscaler down {n} --pool {pool.name}` to scale down",
            f"pool {pool.name} wants {current} agents already: {n} would be a scale down",
        )
    if cmd.direction == "down" and n > current:
        raise ScaleRefused(
            "bad_request",
            f"down {n} is above the desired count {current} of pool {pool.name!r}; "
            f"use `agentscaler up {n} --pool {pool.name}` to scale up",
            f"pool {pool.name} wants {current} agents: {n} would be a scale up",
        )
    if n > pool.max_agents:
        raise ScaleRefused(
            "refused",
            f"{n} agents exceeds max_agents={pool.max_agents} of pool {pool.name!r}; "
            f"raise it with `agentscaler pool set {pool.name} --max-agents {n}`",
            f"pool {pool.name} may have at most {pool.max_agents} agents, not {n}",
        )
    more = n - current
    if more > 0 and cap is not None and more > cap.agents_fit:
        raise ScaleRefused(
            "refused",
            f"{n} agents needs {more} more but {cap.explain()}; "
            f"at most `agentscaler up {current + cap.agents_fit} --pool {pool.name}`",
            f"pool {pool.name}: {n} agents need {more} more but {cap.explain()}; "
            f"at most {current + cap.agents_fit} fit",
        )
    note = (
        ""
        if cap is not None or more <= 0
        else "host capacity unknown (no recent monitor snapshot); checked max_agents only"
    )
    return n, note
