"""How often ``agentscaler run`` restarts its embedded nats-server: a pure table."""

from __future__ import annotations

import pytest

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
