"""The line-delimited JSON protocol between the actuator and a pool's fork server (stdin/stdout pipes)."""

from __future__ import annotations

import msgspec


class Spawn(msgspec.Struct, frozen=True, tag="spawn"):
    """Actuator -> fork server: fork one agent with this id."""

    agent_id: str
    traceparent: str = ""


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    """Fork server -> actuator: preloaded, taking requests."""

    pid: int
    error: str = ""
    """Why the pool's handler cannot be loaded ("" when it loaded): its agents start, fail the pool's queued
    tasks with this reason and exit."""


class ChildStarted(msgspec.Struct, frozen=True, tag="spawned"):
    """Fork server -> actuator: a child was forked for this agent id (the bus's ``Spawned`` event is the
    actuator's, sent after this)."""

    agent_id: str
    pid: int


class ChildExited(msgspec.Struct, frozen=True, tag="exited"):
    """Fork server -> actuator: a child was reaped; ``code`` as ``os.waitstatus_to_exitcode`` (negative for a
    signal). The bus's ``Exited`` event is the actuator's, sent when it reaps the agent."""

    agent_id: str
    pid: int
    code: int


Request = Spawn
Report = Ready | ChildStarted | ChildExited

encode = msgspec.json.Encoder().encode
decode_request = msgspec.json.Decoder(Request).decode
decode_report = msgspec.json.Decoder(Report).decode
