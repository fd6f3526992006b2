"""The policy's view of where a pool may go (``services/policy/placing.py``): which hosts are candidates, from the
actuators' entries and the operators' holds, read at a fixed time."""

from __future__ import annotations

from dataclasses import dataclass

from agentscaler.services.policy.placing import Placer
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.shared.messages.hosts import ActuatorInfo, Cordon
from agentscaler.shared.messages.pools import DesiredState, PoolConfig

NOW = 1000.0


@dataclass
class Fixed:
    at: float = NOW

    def now(self) -> float:
        return self.at

    def monotonic(self) -> float:
        return self.at


def placer(*infos: ActuatorInfo, cordons: tuple[Cordon, ...] = ()) -> Placer:
    p = Placer(PolicySettings(default_pool=False), Fixed())
    p.actuators = {i.host: i for i in infos}
    p.cordons = {c.host: c for c in cordons}
    return p


def entry(host: str, at: float = NOW, **kw: object) -> ActuatorInfo:
    return ActuatorInfo(host=host, handlers=["*"], env_keys=[], at=at, lost_after=10.0, **kw)  # type: ignore[arg-type]


POOL = PoolConfig(name="p")


def hosts(p: Placer, config: PoolConfig = POOL) -> list[str]:
    return sorted(c.host for c in p.candidates(config, {}))


def test_a_lost_host_is_no_candidate_and_gets_no_share() -> None:
    p = placer(entry("a"), entry("b", at=NOW - 10.5))
    assert hosts(p) == ["a"]
    assert p.shares(POOL, DesiredState(pool="p", desired=4, hosts={"a": 2, "b": 2}), {}) == {"a": 4}


def test_hosts_with_a_problem_are_skipped_unless_no_other_may_run_the_pool() -> None:
    broken = {"p": "cannot import handler module 'x'"}
    assert hosts(placer(entry("a", problems=broken), entry("b"))) == ["b"]
    assert hosts(placer(entry("a", problems=broken))) == ["a"]  # tries with backoff, as a host alone does


def test_drained_hosts_get_a_share_of_zero_and_cordoned_ones_keep_theirs() -> None:
    p = placer(
        entry("a"), entry("b"), entry("c"), cordons=(Cordon(host="a", drain=True, at=NOW), Cordon(host="b", at=NOW))
    )
    state = DesiredState(pool="p", desired=9, hosts={"a": 3, "b": 3, "c": 3})
    assert p.shares(POOL, state, {}, rebalance=False) == {"a": 0, "b": 3, "c": 6}


def test_a_pools_hosts_patterns_leave_the_others_at_zero() -> None:
    p = placer(entry("gpu-1"), entry("cpu-1", labels=["zone=eu"]), entry("cpu-2"))
    assert p.shares(PoolConfig(name="p", hosts=["gpu-*", "zone=eu"]), DesiredState(pool="p", desired=4), {}) == {
        "cpu-1": 2,
        "cpu-2": 0,
        "gpu-1": 2,
    }
