"""A handler that simulates an LLM call, for the demo, the tests and the benchmarks.

Payload keys (all optional): ``sleep`` (seconds to take, overriding the distribution), ``fail`` (raise an
error), ``prompt`` (echoed back). Without ``sleep`` the latency is drawn from ``AGENTSCALER_SIM_LATENCY``:
``fixed:S``, ``uniform:LO:HI``, ``lognormal:MEDIAN:SIGMA`` (default ``lognormal:0.5:0.6``) or
``exponential:MEAN``.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
from typing import Any


class SimulatedFailure(RuntimeError):
    """Raised when the payload asks for a failure."""


def parse_latency(spec: str) -> tuple[str, tuple[float, ...]]:
    kind, _, rest = spec.partition(":")
    try:
        params = tuple(float(x) for x in rest.split(":")) if rest else ()
    except ValueError:
        raise ValueError(f"bad AGENTSCALER_SIM_LATENCY {spec!r}: numbers expected after the kind") from None
    arity = {"fixed": 1, "uniform": 2, "lognormal": 2, "exponential": 1}
    if kind not in arity or len(params) != arity[kind] or any(p < 0 for p in params):
        raise ValueError(
            f"bad AGENTSCALER_SIM_LATENCY {spec!r}: "
            "use fixed:S, uniform:LO:HI, lognormal:MEDIAN:SIGMA or exponential:MEAN"
        )
    return kind, params


def draw_latency(kind: str, params: tuple[float, ...], rng: random.Random) -> float:
    if kind == "fixed":
        return params[0]
    if kind == "uniform":
        return rng.uniform(params[0], params[1])
    if kind == "lognormal":
        return rng.lognormvariate(math.log(max(params[0], 1e-9)), params[1])
    return rng.expovariate(1.0 / params[0]) if params[0] > 0 else 0.0


_LATENCY = parse_latency(os.environ.get("AGENTSCALER_SIM_LATENCY", "lognormal:0.5:0.6"))
_RNG = random.Random()


async def simulate(payload: Any) -> dict[str, Any]:
    """Wait like an LLM call would, then answer with a fake completion."""
    args = payload if isinstance(payload, dict) else {}
    delay = float(args["sleep"]) if "sleep" in args else draw_latency(*_LATENCY, _RNG)
    await asyncio.sleep(max(delay, 0.0))
    if args.get("fail"):
        raise SimulatedFailure(str(args.get("fail")))
    prompt = str(args.get("prompt", ""))
    return {
        "completion": f"simulated answer to {prompt!r}" if prompt else "simulated answer",
        "latency": round(delay, 4),
    }
