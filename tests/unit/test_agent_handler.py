"""Loading a pool's task handler, and the simulated LLM handler used by the demo and the benchmarks."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.agent.examples import llm
from agentscaler.services.agent.handler import HandlerError, load_handler

from .builders import PROPERTY

LLM = "agentscaler.services.agent.examples.llm"

# --- load_handler ---------------------------------------------------------------------------------------


def test_loads_the_example_handler():
    assert load_handler(f"{LLM}:simulate") is llm.simulate


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("no_colon_here", "must be 'module:function'"),
        (f"{LLM}.simulate", "must be 'module:function'"),
        (":simulate", "must be 'module:function'"),
        (f"{LLM}:", "must be 'module:function'"),
        ("", "must be 'module:function'"),
        ("agentscaler_no_such_module_x:run", "cannot import handler module 'agentscaler_no_such_module_x'"),
        ("agentscaler.services.agent.nope:run", "cannot import handler module 'agentscaler.services.agent.nope'"),
        (f"{LLM}:missing", f"module '{LLM}' has no attribute 'missing'"),
        (f"{LLM}:SimulatedFailure.missing", "has no attribute 'SimulatedFailure.missing'"),
        (f"{LLM}:parse_latency", "must be an async function"),
        (f"{LLM}:SimulatedFailure", "must be an async function"),
        (f"{LLM}:math", "must be an async function"),
    ],
)
def test_load_handler_errors(spec, needle):
    with pytest.raises(HandlerError) as info:
        load_handler(spec)
    assert needle in str(info.value)


def test_handler_error_is_a_value_error():
    assert issubclass(HandlerError, ValueError)


@pytest.fixture
def broken_module(tmp_path, monkeypatch):
    """A handler module that fails while importing (a typo in the user's code)."""
    name = f"agentscaler_broken_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("async def run(payload):\n    return payload\n\nraise RuntimeError('typo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_handler_module_failing_to_import_is_a_handler_error(broken_module):
    with pytest.raises(HandlerError, match=r"handler module .* failed to import: RuntimeError: typo"):
        load_handler(f"{broken_module}:run")


# --- the simulated LLM ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("fixed:0.2", ("fixed", (0.2,))),
        ("fixed:0", ("fixed", (0.0,))),
        ("uniform:0.1:0.5", ("uniform", (0.1, 0.5))),
        ("lognormal:0.5:0.6", ("lognormal", (0.5, 0.6))),
        ("exponential:2", ("exponential", (2.0,))),
    ],
)
def test_parse_latency_accepts(spec, expected):
    assert llm.parse_latency(spec) == expected


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("", "use fixed:S"),
        ("fixed", "use fixed:S"),
        ("fixed:", "use fixed:S"),
        ("fixed:1:2", "use fixed:S"),
        ("uniform:1", "use fixed:S"),
        ("gauss:1:2", "use fixed:S"),
        ("fixed:-1", "use fixed:S"),
        ("uniform:-1:2", "use fixed:S"),
        ("fixed:fast", "numbers expected"),
        ("uniform:1:", "numbers expected"),
    ],
)
def test_parse_latency_rejects(spec, needle):
    with pytest.raises(ValueError) as info:
        llm.parse_latency(spec)
    assert "AGENTSCALER_SIM_LATENCY" in str(info.value)
    assert repr(spec) in str(info.value)
    assert needle in str(info.value)


@PROPERTY
@given(seed=st.integers(0, 2**32), lo=st.floats(0, 100), width=st.floats(0, 100))
def test_draw_latency_uniform_stays_in_bounds(seed, lo, width):
    hi = lo + width
    slack = 1e-12 * max(hi, 1.0)  # random.uniform documents only float rounding at the ends
    assert lo - slack <= llm.draw_latency("uniform", (lo, hi), random.Random(seed)) <= hi + slack


@PROPERTY
@given(seed=st.integers(0, 2**32), value=st.floats(0, 1000))
def test_draw_latency_fixed_is_fixed(seed, value):
    assert llm.draw_latency("fixed", (value,), random.Random(seed)) == value


@PROPERTY
@given(seed=st.integers(0, 2**32), median=st.floats(0, 10), spread=st.floats(0, 2), mean=st.floats(0, 10))
def test_draw_latency_random_kinds_are_never_negative(seed, median, spread, mean):
    rng = random.Random(seed)
    assert llm.draw_latency("lognormal", (median, spread), rng) >= 0.0
    assert llm.draw_latency("exponential", (mean,), rng) >= 0.0


def test_draw_latency_is_reproducible_with_a_seed():
    draws = [llm.draw_latency("lognormal", (0.5, 0.6), random.Random(42)) for _ in range(2)]
    assert draws[0] == draws[1]
    assert llm.draw_latency("exponential", (0.0,), random.Random(1)) == 0.0


async def test_simulate_answers():
    answer = await llm.simulate({"sleep": 0})
    assert answer == {"completion": "simulated answer", "latency": 0.0}


async def test_simulate_echoes_the_prompt():
    answer = await llm.simulate({"sleep": 0, "prompt": "hello"})
    assert answer["completion"] == "simulated answer to 'hello'"


async def test_simulate_fails_on_request():
    with pytest.raises(llm.SimulatedFailure, match=r"^x$"):
        await llm.simulate({"sleep": 0, "fail": "x"})


async def test_simulate_negative_sleep_does_not_wait():
    assert "completion" in await llm.simulate({"sleep": -3})
