"""The verdict on prediction (``sim/forecast.py``), judged on recorded samples with the simulator."""

from __future__ import annotations

from functools import cache

import pytest

from agentscaler.services.policy.core.profile import Profile
from agentscaler.services.policy.sim.forecast import (
    SHORTEST,
    Recording,
    Verdict,
    adopt,
    assess,
    at_once,
    next_assessment,
    rate_series,
)
from agentscaler.services.policy.sim.trial import Judge
from agentscaler.shared.messages.decisions import DemandSample, Observation
from agentscaler.shared.messages.pools import AutoConfig

EPOCH = 1_800_000_000.0


def samples(hours: float, peak: float, period: float = 3600.0, epoch: float = EPOCH) -> list[DemandSample]:
    """30 s samples of 0.2 tasks/s of 20 s tasks, ``peak`` tasks/s for 10 minutes of every ``period``, from
    ``epoch``."""
    out = []
    for i in range(int(hours * 120)):
        phase = (i * 30) % period
        rate = peak if 1200 <= phase < 1800 else 0.2
        out.append(
            DemandSample(
                pool="p", at=epoch + (i + 1) * 30, demand=0, agents=0, desired=0, pending=0, in_flight=0,
                arrival_rate=rate, service_time=20.0, steady=rate * 20, interval=30.0, arrived=round(rate * 30),
                service_mean=20.0,
            )
        )  # fmt: skip
    return out


SLOW = Judge(start_delay=30.0, max_agents=200)


@cache
def peaks_for_slow_agents() -> Verdict:
    """The verdict on three hours of a recurring peak, for agents that take 30 s to start (judged once)."""
    return assess(samples(3, peak=4.0), AutoConfig(), SLOW)


def test_a_recurring_peak_that_slow_agents_miss_turns_prediction_on() -> None:
    verdict = peaks_for_slow_agents()
    assert verdict.period == 3600.0
    assert verdict.active, verdict.why
    assert verdict.why.startswith("active: period 1h detected, the forecast beats reactive on the recorded 2h")


@pytest.mark.parametrize(
    ("config", "history", "why"),
    [
        (AutoConfig(predict=False), samples(3, peak=4.0), "off by setting"),
        (AutoConfig(), samples(3, peak=0.2), "inactive: no period in the 3h of history"),
        (AutoConfig(), samples(1.5, peak=4.0), "inactive: no period in the 1.5h of history"),  # one period and a half
        (AutoConfig(season=1800.0), samples(3, peak=4.0), "inactive: no period"),  # longer than the longest looked for
        (AutoConfig(), [], "inactive: too little history to look for a period"),
    ],
)
def test_no_prediction(config: AutoConfig, history: list[DemandSample], why: str) -> None:
    verdict = assess(history, config, SLOW)
    assert not verdict.active and verdict.why.startswith(why), verdict.why


@pytest.mark.parametrize(
    ("config", "history"),
    [
        (AutoConfig(predict=False), samples(3, peak=4.0)),
        (AutoConfig(), []),
        (AutoConfig(), samples(2 * SHORTEST / 3600 - 1 / 120, peak=4.0)),  # 30 s short of two shortest periods
    ],
)
def test_the_verdicts_that_need_no_simulation_are_given_at_once(
    config: AutoConfig, history: list[DemandSample]
) -> None:
    """The live service judges these without a worker process: the same verdict ``assess`` reaches."""
    quick = at_once(history, config)
    assert quick is not None and quick == assess(history, config, SLOW)


def test_a_history_that_may_hold_a_period_is_left_to_the_search() -> None:
    assert at_once(samples(2 * SHORTEST / 3600, peak=4.0), AutoConfig()) is None
    assert at_once(samples(3, peak=4.0), AutoConfig()) is None


def test_a_forecast_that_does_not_pay_stays_off() -> None:
    """Agents that start at once follow the peak as it comes: a floor would only cost agent-seconds."""
    verdict = assess(samples(3, peak=4.0), AutoConfig(), Judge(start_delay=0.1, max_agents=200))
    assert verdict.period == 3600.0 and not verdict.active
    assert "the forecast does not beat reactive" in verdict.why


def test_adopting_a_new_period_relearns_the_profile() -> None:
    history = samples(3, peak=4.0)
    verdict = peaks_for_slow_agents()
    profile = adopt(Profile(), verdict, history)
    assert (profile.season, profile.active, profile.why) == (3600.0, True, verdict.why)
    assert profile.predict(history[-1].at + 1500) == 80  # 4/s x 20 s, learned in the earlier periods
    assert next_assessment(0.0, verdict) == 6 * 3600.0
    same = adopt(profile, assess([], AutoConfig(), SLOW), [])
    assert same.season == 3600.0 and not same.active  # no period found: the learned levels stay


def test_a_recording_keeps_the_arrivals() -> None:
    """A simulated pool's samples count the tasks that arrived, and give back the rate they came at."""
    recording = Recording()
    for t in range(0, 3601):
        rate = 2.0 if t % 600 < 300 else 0.5
        recording.note(
            float(t),
            Observation(
                at=t,
                pending=0,
                in_flight=0,
                agents=0,
                busy=0,
                arrival_rate=rate,
                service_time=3.0,
                wait_p95=0.0,
                throughput=0.0,
            ),
            steady=round(rate * 3),
        )
    arrived = sum(s.arrived or 0 for s in recording.samples)
    assert abs(arrived - 1.25 * 3600) <= 2
    rates, step = rate_series(recording.samples)
    assert step == 30.0 and max(rates) == pytest.approx(2.0, abs=0.1) and min(rates) == pytest.approx(0.5, abs=0.1)
