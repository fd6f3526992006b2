"""Every NATS subject, stream and key-value bucket that agentscaler uses: the public wire contract.

Subjects are documented in docs/nats-api.md; change a name here and there together.
"""

from __future__ import annotations

import re

PREFIX = "agentscaler"

# Requests (core NATS request/reply).
COMMAND = f"{PREFIX}.cmd"
"""Policy commands: a tagged union (``type`` field) of scale and pool commands; replies say what happened."""
COMMAND_OPERATE = f"{COMMAND}.operate"
"""The same commands but pool definitions (``set_pool``): what the operator role may send."""
COMMAND_READ = f"{COMMAND}.read"
"""The read-only commands (``get_pool``, ``list_pools``): what the viewer role may send."""
COMMAND_KINDS = {
    COMMAND_OPERATE: frozenset({"scale", "get_pool", "list_pools", "set_mode", "host"}),
    COMMAND_READ: frozenset({"get_pool", "list_pools"}),
}
"""The command ``type``s the policy serves on the narrower command subjects (``COMMAND`` serves them all);
permissions on the subjects decide who may send which. The CLI sends each command on the narrowest subject that
serves it (:func:`command_subject`)."""


def command_subject(kind: str) -> str:
    """The narrowest command subject that serves commands of ``type`` ``kind``."""
    for subject in (COMMAND_READ, COMMAND_OPERATE):
        if kind in COMMAND_KINDS[subject]:
            return subject
    return COMMAND


CHAT = f"{PREFIX}.chat"
"""Chat commands: the request body is a command line as typed in chat (``up 5 --pool x``, ``status``), the reply
plain UTF-8 text for a chat message; served by the policy (``services/policy/chatops.py``)."""
CHAT_OPERATE = f"{CHAT}.operate"
"""Chat commands the operator role may send: what ``COMMAND_OPERATE`` serves, and status."""
CHAT_READ = f"{CHAT}.read"
"""Chat commands the viewer role may send: what ``COMMAND_READ`` serves, and status."""
CHAT_KINDS = {CHAT_OPERATE: COMMAND_KINDS[COMMAND_OPERATE], CHAT_READ: COMMAND_KINDS[COMMAND_READ]}
"""The command ``type``s each narrower chat subject serves (``CHAT`` serves them all), as for commands."""

ACTOR_MARK = "as"
"""Commands sent as a known user go to ``<command subject>.as.<user>`` (:func:`as_actor`): under ``auth init``'s
authorization a user may publish there under its own public key only, so the server vouches for the actor the
policy records. The bare subjects are for unsecured servers, where nobody is known (actor ``anonymous``)."""


def as_actor(subject: str, actor: str) -> str:
    """``subject`` sent as ``actor`` (a user's public key, or its name on servers that name users)."""
    return f"{subject}.{ACTOR_MARK}.{actor}"


SERVICE_VERBS = ("PING", "INFO", "STATS")
SERVICE_DISCOVERY = tuple(f"$SRV.{verb}{tail}" for verb in SERVICE_VERBS for tail in ("", ".>"))
"""NATS micro service discovery (``shared/bus/discovery.py``): ``$SRV.<verb>`` for every service,
``$SRV.<verb>.<name>`` for one kind, ``$SRV.<verb>.<name>.<id>`` for one instance."""


def service_name(service: str) -> str:
    """The NATS micro name of ``service`` (``policy``, ``monitor``, ...): ``agentscaler-<service>``."""
    return f"{PREFIX}-{service}"


STATUS = f"{PREFIX}.status"
"""Ask a monitor for the latest system snapshot."""
OPTIMIZE = f"{PREFIX}.optimize"
"""Ask the policy to tune a pool's auto settings to its recorded load (``agentscaler optimize``); the reply
comes when the search is done (seconds to minutes), so it has a subject of its own."""
REGISTRY_QUERY = f"{PREFIX}.registry.agents"
"""Ask the registry for the agents it knows (optionally of one pool)."""
AGENT_REGISTER = f"{PREFIX}.agent.register"
"""An agent announces itself when it starts pulling tasks."""
AGENT_DEREGISTER = f"{PREFIX}.agent.deregister"
"""An agent says goodbye after finishing its last task."""

# Events (core NATS publish, no reply).
SNAPSHOT = f"{PREFIX}.snapshot"
"""Monitor snapshots, one subject per host: ``agentscaler.snapshot.<host>``."""
HEARTBEAT = f"{PREFIX}.agent.hb"
"""Agent heartbeats, one subject per pool: ``agentscaler.agent.hb.<pool>``."""
AGENT_EVENTS = f"{PREFIX}.evt.agent"
"""Agent lifecycle events: ``agentscaler.evt.agent.<kind>`` (spawned, exited, registered, deregistered, lost)."""
DECISIONS = f"{PREFIX}.evt.decision"
"""Policy decisions that changed a pool's desired count: ``agentscaler.evt.decision.<pool>``."""
POOL_EVENTS = f"{PREFIX}.evt.pool"
"""Pool events for people: ``agentscaler.evt.pool.<kind>.<pool>``, kind ``converged`` or ``stuck`` (from the
monitor) or ``refused`` (from the policy); each carries a one-line ``summary``."""
OPTIMIZE_EVENTS = f"{PREFIX}.evt.optimize"
"""Progress of an optimize run: ``agentscaler.evt.optimize.<pool>``."""

AUDIT = f"{PREFIX}.audit"
"""The audit record: ``agentscaler.audit.command`` (every command the policy received, accepted or refused) and
``agentscaler.audit.violation.<identity>`` (permission violations a service's or agent's own connection met),
kept in ``AUDIT_STREAM``."""

HISTORY = f"{PREFIX}.history"
"""Auto pools' demand samples, one subject per pool: ``agentscaler.history.<pool>`` (the policy learns the
recurring shape of the load from them)."""

# JetStream.
HISTORY_STREAM = "agentscaler-history"
"""Stream of decisions (``agentscaler.evt.decision.>``) and demand samples (``agentscaler.history.>``),
bounded by age and size."""
AUDIT_STREAM = "agentscaler-audit"
"""Stream of audit records (``agentscaler.audit.>``), bounded by age and size."""
TASKS = f"{PREFIX}.tasks"
"""Task submission subject of a pool: ``agentscaler.tasks.<pool>`` (captured by the pool's work-queue stream)."""
TASK_CONSUMER = "agents"
"""The one durable pull consumer that all agents of a pool share."""
POOLS_BUCKET = "agentscaler-pools"
"""KV: pool name -> PoolConfig."""
DESIRED_BUCKET = "agentscaler-desired"
"""KV: pool name -> DesiredState (the count the actuator converges to)."""
AGENTS_BUCKET = "agentscaler-agents"
"""KV: agent id -> AgentRecord, written by the registry on state changes only."""
OPTIMIZE_BUCKET = "agentscaler-optimize"
"""KV: pool name -> the report of its latest optimize run (Optimized)."""
RESULTS_BUCKET = "agentscaler-results"
"""KV: ``<pool>.<task id>`` -> TaskResult; created once per task, so duplicates are detected."""
ATTEMPTS_BUCKET = "agentscaler-attempts"
"""KV: ``<pool>.<task id>`` -> the number of times agents started the task (an ASCII integer) and, after a space,
the id of the agent that made the last start; kept by the agents because JetStream's delivery count can fall
back after a server crash."""
HOSTS_BUCKET = "agentscaler-hosts"
"""KV: host name -> ActuatorInfo: the handlers and pool environment its actuator allows, and why pools have no
agents there."""
CORDONS_BUCKET = "agentscaler-cordons"
"""KV: host name -> Cordon: the hosts an operator cordoned (no new agents) or drained (no agents), written by the
policy on ``agentscaler host cordon|drain``, deleted on ``uncordon``."""
DEATHS_BUCKET = "agentscaler-deaths"
"""KV: agent id -> why the agent died (UTF-8 text, e.g. killed by the kernel's OOM killer), written by its
actuator when it reaps an agent that did not exit cleanly, kept a day: an agent that gives up on a task names
the death of the agent that ran it last."""

LEASES_BUCKET = "agentscaler-leases"
"""KV: service name (``policy``, ``registry``) -> LeaseRecord of the one instance that leads it; the others stand
by. A holder renews its record by compare-and-set on the revision; a standby takes a record over (compare-and-set
again) once it has seen it unchanged for the record's ``ttl``, or creates it when absent (``shared/bus/lease.py``)."""

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Pool and host names: subject tokens and parts of stream names (``check_name`` says so in words)."""
_NAME = re.compile(NAME_PATTERN)


class InvalidName(ValueError):
    """A pool, host or agent name that cannot be used in subjects and stream names."""


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it is usable as a subject token, else raise :class:`InvalidName` saying why."""
    if not _NAME.match(name):
        raise InvalidName(f"invalid {kind} name {name!r}: use 1-64 letters, digits, '-' or '_'")
    return name


_TASK_ID = re.compile(r"^[A-Za-z0-9_=-]{1,128}$")


def valid_task_id(task_id: str) -> bool:
    """Task ids are KV key tokens: 1-128 letters, digits, '-', '_' or '='."""
    return bool(_TASK_ID.match(task_id))


def task_subject(pool: str) -> str:
    return f"{TASKS}.{pool}"


def task_stream(pool: str) -> str:
    return f"agentscaler-tasks-{pool}"


def heartbeat_subject(pool: str) -> str:
    return f"{HEARTBEAT}.{pool}"


def snapshot_subject(host: str) -> str:
    return f"{SNAPSHOT}.{host}"


def agent_event_subject(kind: str) -> str:
    return f"{AGENT_EVENTS}.{kind}"


def decision_subject(pool: str) -> str:
    return f"{DECISIONS}.{pool}"


def pool_event_subject(kind: str, pool: str) -> str:
    return f"{POOL_EVENTS}.{kind}.{pool}"


def optimize_event_subject(pool: str) -> str:
    return f"{OPTIMIZE_EVENTS}.{pool}"


def audit_subject(kind: str) -> str:
    return f"{AUDIT}.{kind}"


def history_subject(pool: str) -> str:
    return f"{HISTORY}.{pool}"


def result_key(pool: str, task_id: str) -> str:
    return f"{pool}.{task_id}"


RESULT_SUBJECTS = f"$KV.{RESULTS_BUCKET}.>"
"""Every result as JetStream stores it: the results bucket's subjects."""


def attempts_subject(pool: str, task_id: str) -> str:
    """The subject a task's attempt count is written to (a KV create or update of ``result_key``)."""
    return f"$KV.{ATTEMPTS_BUCKET}.{result_key(pool, task_id)}"


def result_subject(pool: str, task_id: str) -> str:
    """The subject a result is published to (a KV put or create of ``result_key``)."""
    return f"$KV.{RESULTS_BUCKET}.{result_key(pool, task_id)}"
