"""Fuzzing every request subject against the real services and a real nats-server: arbitrary JSON, and
well-formed requests with extreme values in every field. Each request gets a reply, success or a documented
refusal, never ``internal``; heartbeats of any shape do no harm; afterwards every service still answers.

The services run in the test's event loop; Hypothesis runs in a worker thread and hands each request to the
loop, so one nats-server and one set of services serve every example."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from agentscaler.services.monitor import service as monitor
from agentscaler.services.monitor.settings import MonitorSettings
from agentscaler.services.policy import service as policy
from agentscaler.services.policy.settings import PolicySettings
from agentscaler.services.registry import service as registry
from agentscaler.services.registry.settings import RegistrySettings
from agentscaler.shared import subjects
from agentscaler.shared.bus.rpc import request
from agentscaler.shared.bus.server import EmbeddedServer
from agentscaler.shared.messages.agents import (
    Ack,
    AgentList,
    AgentsQuery,
    Deregister,
    Heartbeat,
    Register,
)
from agentscaler.shared.messages.commands import CommandReply, GetPool, PoolInfo, Scale, SetMode, SetPool
from agentscaler.shared.messages.optimize import Optimize
from agentscaler.shared.messages.pools import AutoConfig, PoolConfig
from agentscaler.shared.messages.snapshots import Snapshot, StatusQuery
from tests.conftest import eventually
from tests.services import running

pytestmark = pytest.mark.asyncio

REFUSALS = {"bad_request", "unknown_pool", "refused", "conflict", "too_little_history", "starting"}
"""The error codes a request may get (docs/nats-api.md, "Error replies"); ``internal`` is not among them."""
EXAMPLES = 100
"""Examples per property (twelve: every request subject and command kind): about 20 s in all (each command is
also stored in the audit stream)."""

POOLS = ["default", "fz1", "fz2"]
"""The pools fuzzed requests name when they name a valid one: few, as each new pool is a stream."""
ODD_TEXT = st.one_of(
    st.sampled_from(["", "*", ">", "a.b.>", "a b", "..", "x" * 65, "x" * 300, "\u0000", "é", "$KV", "null"]),
    st.text(max_size=20),
)
EXTREME_FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, -1.0, 1e-9, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, math.inf, -math.inf]),
    st.sampled_from([math.nan]),
    st.floats(),
)
HUGE_INTS = st.one_of(st.sampled_from([-1, -(2**63), 2**63, 2**64, 10**18, 10**30]), st.integers())
WRONG_TYPES = st.one_of(st.none(), st.booleans(), st.just([]), st.just({}), st.just([1, "a"]), st.just({"a": 1}))
PLAUSIBLE = st.one_of(
    st.integers(0, 20), st.floats(0.01, 100), st.sampled_from(POOLS), st.sampled_from(["up", "down", "auto", "manual"])
)
VALUE = st.one_of(PLAUSIBLE, PLAUSIBLE, EXTREME_FLOATS, HUGE_INTS, ODD_TEXT, WRONG_TYPES)
"""Any field's value: often a plausible one (so that some requests succeed and get further in), else an extreme
number, an odd string or the wrong type."""
JSON = st.recursive(
    st.none() | st.booleans() | HUGE_INTS | EXTREME_FLOATS | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _fields(struct: type[msgspec.Struct]) -> dict[str, mi.Type]:
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    return {f.encode_name: f.type for f in info.fields}


@st.composite
def shaped(draw: st.DrawFn, struct: type[msgspec.Struct], depth: int = 0) -> dict[str, Any]:
    """A body of ``struct``: each field of its type and range (:func:`typed`), except that at the body's mess
    rate a field is left out or given any :data:`VALUE` (an extreme number, an odd string, the wrong type)."""
    mess = draw(st.sampled_from([0, 0, 2, 8]))  # in 20: clean bodies reach the services' logic, messy ones the edges
    body: dict[str, Any] = {}
    for name, kind in _fields(struct).items():
        roll = draw(st.integers(0, 19))
        if name == "type" or roll < mess // 2:
            continue
        body[name] = draw(VALUE if roll < mess else typed(kind, name, depth))
    return body


def typed(kind: mi.Type, name: str, depth: int) -> st.SearchStrategy[Any]:
    """A value of ``kind`` inside its constraints, often at their ends."""
    if isinstance(kind, mi.UnionType):
        return st.one_of([typed(k, name, depth) for k in kind.types])
    if isinstance(kind, mi.StructType):
        return shaped(kind.cls, depth + 1) if depth < 2 else st.just({})
    if isinstance(kind, mi.IntType):
        low = kind.ge if kind.ge is not None else (kind.gt + 1 if kind.gt is not None else -10)
        high = kind.le if kind.le is not None else (kind.lt - 1 if kind.lt is not None else 10**6)
        return st.one_of(st.integers(low, min(high, low + 30)), st.sampled_from([low, high]))
    if isinstance(kind, mi.FloatType):
        low = kind.ge if kind.ge is not None else kind.gt if kind.gt is not None else 0.0
        high = kind.le if kind.le is not None else kind.lt if kind.lt is not None else 2e9
        inside = st.floats(low, high, exclude_min=kind.gt is not None, exclude_max=kind.lt is not None)
        ends = [v for v, open_ in ((low, kind.gt is not None), (high, kind.lt is not None)) if not open_]
        return st.one_of(inside, st.floats(low, min(high, low + 100), exclude_min=kind.gt is not None),
                         *([st.sampled_from(ends)] if ends else []))  # fmt: skip
    if isinstance(kind, mi.StrType):
        if name in ("pool", "name"):
            return st.sampled_from(POOLS)
        if name == "host":
            return st.sampled_from(["h1", "h2"])
        if name == "handler":
            return st.sampled_from(["agentscaler.services.agent.examples.llm:simulate", "nowhere:nothing", "x"])
        return st.from_regex(kind.pattern, fullmatch=True) if kind.pattern else st.text(max_size=kind.max_length or 30)
    if isinstance(kind, mi.LiteralType):
        return st.sampled_from(kind.values)
    if isinstance(kind, mi.BoolType):
        return st.booleans()
    if isinstance(kind, mi.NoneType):
        return st.none()
    if isinstance(kind, mi.DictType):
        return st.dictionaries(typed(kind.key_type, "", depth), typed(kind.value_type, "", depth), max_size=3)
    return JSON


def tagged(kind: type[msgspec.Struct]) -> st.SearchStrategy[dict[str, Any]]:
    tag = kind.__struct_config__.tag
    return shaped(kind).map(lambda body: {"type": tag} | body)


CASES = [
    (subjects.COMMAND, tagged(Scale)),
    (subjects.COMMAND, tagged(SetPool)),
    (subjects.COMMAND, tagged(SetMode)),
    (subjects.COMMAND, st.one_of(tagged(GetPool), st.just({"type": "list_pools"}), ODD_TEXT.map(lambda t: {"type": t})),
     ),
    (subjects.OPTIMIZE, tagged(Optimize)),
    (subjects.STATUS, shaped(StatusQuery)),
    (subjects.REGISTRY_QUERY, shaped(AgentsQuery)),
    (subjects.AGENT_REGISTER, shaped(Register)),
    (subjects.AGENT_DEREGISTER, shaped(Deregister)),
]  # fmt: skip
"""Each request subject (each command kind) and the well-formed bodies it is fuzzed with."""
REQUEST_SUBJECTS = sorted({subject for subject, _ in CASES})


def encoded(body: Any) -> bytes:
    """``body`` as JSON; NaN and infinities as Python writes them (not JSON: the service must refuse them)."""
    return json.dumps(body).encode()


class Bus:
    """Sends requests from Hypothesis's thread through the test's event loop."""

    def __init__(self, nc: Client, loop: asyncio.AbstractEventLoop) -> None:
        self.nc, self.loop = nc, loop

    def ask(self, subject: str, data: bytes) -> Any:
        future = asyncio.run_coroutine_threadsafe(self.nc.request(subject, data, timeout=20), self.loop)
        reply = json.loads(future.result(30).data)
        if isinstance(reply, dict) and reply.get("type") == "error":
            assert reply["code"] in REFUSALS, f"{subject} {data[:300]!r} -> {reply}"
            said = reply["summary"]  # the plain line for people: no backticks, CLI advice or Python type names
            assert said and "`" not in said and "agentscaler " not in said and "msgspec" not in said, reply
            assert "commands." not in reply["message"] and "Expected `" not in reply["message"], reply
        return reply

    def publish(self, subject: str, data: bytes) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.publish(subject, data), self.loop).result(30)


def fuzz(bus: Bus) -> None:
    """Every Hypothesis property, run in a worker thread."""
    prop = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    @prop
    @given(subject=st.sampled_from(REQUEST_SUBJECTS), body=JSON)
    def any_json(subject: str, body: Any) -> None:
        bus.ask(subject, encoded(body))

    @prop
    @given(subject=st.sampled_from(REQUEST_SUBJECTS), data=st.binary(max_size=64))
    def any_bytes(subject: str, data: bytes) -> None:
        bus.ask(subject, data)

    @prop
    @given(pool=st.sampled_from([*POOLS, "x" * 80]), body=st.one_of(shaped(Heartbeat), JSON))
    def heartbeats(pool: str, body: Any) -> None:
        bus.publish(subjects.heartbeat_subject(pool), encoded(body))

    def well_formed(subject: str, bodies: st.SearchStrategy[Any]) -> Callable[[], None]:
        @prop
        @given(body=bodies)
        def run(body: Any) -> None:
            bus.ask(subject, encoded(body))

        return run

    for run in (any_json, any_bytes, heartbeats, *(well_formed(subject, bodies) for subject, bodies in CASES)):
        run()


async def test_every_request_gets_a_reply_and_the_services_keep_running(
    nats_server: EmbeddedServer, nc: Client
) -> None:
    url = nats_server.url
    async with (
        running(registry.run, RegistrySettings(nats_url=url, host="h1", lost_after=30)),
        running(policy.run, PolicySettings(nats_url=url, host="h1")),
        running(monitor.run, MonitorSettings(nats_url=url, host="h1", interval=0.2, stats_window=60)),
    ):
        await eventually(lambda: request(nc, subjects.STATUS, StatusQuery(), Snapshot), what="services up")
        await asyncio.to_thread(fuzz, Bus(nc, asyncio.get_running_loop()))

        info = await request(nc, subjects.COMMAND, GetPool(pool="default"), CommandReply)
        assert isinstance(info, PoolInfo) and info.config.name == "default"
        made = await request(nc, subjects.COMMAND, SetPool(config=PoolConfig(name="after", ack_wait=3)), CommandReply)
        assert isinstance(made, PoolInfo) and made.config.ack_wait == 3
        auto = SetMode(pool="after", mode="auto", auto=AutoConfig(min_agents=1, max_agents=2))
        assert isinstance(await request(nc, subjects.COMMAND, auto, CommandReply), PoolInfo)
        await eventually(lambda: request(nc, subjects.STATUS, StatusQuery(pool="after"), Snapshot), what="status")
        me = Register(agent_id="after-h1-0000-1", pool="after", host="h1", pid=4242, started_at=1.7e9)
        assert (await request(nc, subjects.AGENT_REGISTER, me, Ack)).ok
        agents = await request(nc, subjects.REGISTRY_QUERY, AgentsQuery(pool="after"), AgentList)
        assert [a.agent_id for a in agents.agents] == ["after-h1-0000-1"]
