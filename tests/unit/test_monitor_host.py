"""The monitor's host figures: which agents are read, their CPU from one reading to the next, how many more
the CPU takes, and the hosts heard lately. The sampler itself reads real child processes."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from agentscaler.services.monitor.host import (
    KEEP,
    SAMPLE,
    CpuDeltas,
    HostBook,
    HostSampler,
    cpu_fit,
    pick,
)
from agentscaler.shared.numbers import MIB

from . import builders as b

# --- which agents are read ------------------------------------------------------------------------------


def test_pick_reads_every_agent_of_a_small_pool_each_time():
    rng = random.Random(1)
    first = pick([], range(1, 9), rng)
    assert sorted(first) == list(range(1, 9))
    assert sorted(pick(first, range(1, 9), rng)) == list(range(1, 9))


def test_pick_keeps_part_of_the_last_sample_and_rotates_over_all_agents():
    rng = random.Random(2)
    agents = list(range(1000))
    sample = pick([], agents, rng)
    seen = set(sample)
    for _ in range(20):
        again = pick(sample, agents, rng)
        assert len(again) == len(set(again)) == SAMPLE
        assert len(set(again) & set(sample)) == KEEP  # read again: their CPU since the last sample
        sample = again
        seen.update(sample)
    assert len(seen) > 4 * SAMPLE  # the memory figures move over the pool


def test_pick_drops_agents_that_are_gone():
    sample = pick([1, 2, 3], [2, 3, 4], random.Random(3))
    assert sorted(sample) == [2, 3, 4]


# --- CPU per agent --------------------------------------------------------------------------------------


def test_cpu_deltas_average_the_agents_read_twice():
    cpu = CpuDeltas()
    assert cpu.average({1: 10.0, 2: 5.0}, now=100.0) == 0.0  # nothing to compare with yet
    # pid 1 used 1 s of CPU in 2 s (50%), pid 2 none (0%), pid 3 is new: left out
    assert cpu.average({1: 11.0, 2: 5.0, 3: 7.0}, now=102.0) == pytest.approx(25.0)
    # pid 3 counted now; pid 1 went backwards (a reused pid): skipped
    assert cpu.average({1: 0.5, 3: 9.0}, now=104.0) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("cpu_percent", "cpu_count", "per_agent", "fit"),
    [
        (35.0, 4, 10.0, 24),  # (95 - 35) x 4 cores = 240% of a core
        (99.0, 4, 10.0, 0),  # past the ceiling already
        (0.0, 2, 0.01, None),  # near idle agents: no bound
        (50.0, 8, 0.0, None),  # not measured
    ],
)
def test_cpu_fit_keeps_the_host_under_95_percent(cpu_percent, cpu_count, per_agent, fit):
    assert cpu_fit(cpu_percent, cpu_count, per_agent) == fit


# --- hosts heard ----------------------------------------------------------------------------------------


def test_host_book_lists_fresh_hosts_by_name_and_forgets_stale_ones():
    book = HostBook(max_age=30.0)
    book.heard(b.host_snapshot("zeta", agents=1), now=100.0)
    book.heard(b.host_snapshot("alpha", agents=2), now=120.0)
    book.heard(b.host_snapshot("me", agents=3), now=120.0)
    own = b.host_snapshot("me", agents=4)
    assert [(h.host, h.agents) for h in book.fresh(own, now=125.0)] == [("alpha", 2), ("me", 4), ("zeta", 1)]
    assert [h.host for h in book.fresh(own, now=140.0)] == ["alpha", "me"]
    assert [h.host for h in book.fresh(own, now=200.0)] == ["me"]


# --- the sampler on real processes ----------------------------------------------------------------------


def test_sampler_measures_a_busy_agent_above_an_idle_one():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen(["sleep", "60"])
    try:
        readings = []
        for pid in (busy.pid, idle.pid):
            sampler = HostSampler("h1", "/", memory_reserve=0)
            sampler.sample([pid], 16 * MIB)
            time.sleep(0.5)
            readings.append(sampler.sample([pid], 16 * MIB))
        hot, cold = readings
        assert hot.agent_cpu_avg > 10.0 > cold.agent_cpu_avg  # a core's worth unless the machine is crowded
        assert hot.agents_cpu_percent == pytest.approx(min(hot.agent_cpu_avg / hot.cpu_count, 100.0), abs=0.1)
        assert hot.cpu_fit is not None and cold.cpu_fit is None  # sleep uses no measurable CPU
        assert hot.agent_pss_avg > 0 and hot.agents == 1
    finally:
        for proc in (busy, idle):
            proc.kill()
            proc.wait()


def test_sampler_reports_no_cpu_before_a_second_reading():
    idle = subprocess.Popen(["sleep", "60"])
    try:
        first = HostSampler("h1", "/", memory_reserve=0).sample([idle.pid], 16 * MIB)
        assert (first.agent_cpu_avg, first.cpu_fit) == (0.0, None)
    finally:
        idle.kill()
        idle.wait()
