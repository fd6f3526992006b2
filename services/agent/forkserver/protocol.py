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


class Spawned(msgspec.Struct, frozen=True, tag="spawned"):
    agent_id: str
    pid: int


class Exited(msgspec.Struct, frozen=True, tag="exited"):
    """A child was reaped; ``code`` as ``os.waitstatus_to_exitcode`` (negative for a signal)."""

    agent_id: str
    pid: int
    code: int


Request = Spawn
Report = Ready | Spawned | Exited

encode = msgspec.json.Encoder().encode
decode_request = msgspec.json.Decoder(Request).decode
decode_report = msgspec.json.Decoder(Report).decode
