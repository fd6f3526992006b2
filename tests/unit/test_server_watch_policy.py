"""How often ``agentscaler run`` restarts its embedded nats-server: pure tables, for the default policy and
for the ones ``--server-restarts`` and ``--server-restart-delay`` make."""

from __future__ import annotations

import pytest

from agentscaler.services.cli.launcher import RunSettings
from agentscaler.services.cli.server_watch import RestartPolicy


@pytest.mark.parametrize(
    ("deaths", "now", "delay"),
    [
        ([10.0], 10.0, 0.5),
        ([1.0, 2.0], 2.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 4.0, 4.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 5.0, 8.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 6.0, None),  # the sixth death within the window: give up
        ([1.0, 2.0, 3.0, 4.0, 5.0, 400.0], 400.0, 0.5),  # the old deaths are forgiven
    ],
)
def test_the_restart_policy_backs_off_then_gives_up(deaths: list[float], now: float, delay: float | None) -> None:
    assert RestartPolicy().delay(deaths, now) == delay


def test_the_default_settings_give_the_default_policy() -> None:
    assert RunSettings().restart_policy() == RestartPolicy() == RestartPolicy.of(5, 0.5)
    assert (RestartPolicy().max_restarts, RestartPolicy().window, RestartPolicy().max_delay) == (5, 300.0, 8.0)


@pytest.mark.parametrize(
    ("deaths", "delay"),
    [
        ([1.0], 0.1),
        ([1.0, 2.0], 0.2),
        ([1.0, 2.0, 3.0], None),  # the third death within the window: two restarts were allowed
    ],
)
def test_two_restarts_from_a_tenth_of_a_second(deaths: list[float], delay: float | None) -> None:
    assert RestartPolicy.of(2, 0.1).delay(deaths, deaths[-1]) == delay


def test_the_pauses_double_up_to_sixteen_times_the_first() -> None:
    policy = RestartPolicy.of(100, 0.25)
    delays = [policy.delay([float(t) for t in range(n)], float(n - 1)) for n in range(1, 9)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_zero_restarts_gives_up_at_the_first_death() -> None:
    assert RestartPolicy.of(0, 0.5).delay([10.0], 10.0) is None
