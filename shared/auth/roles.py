"""The roles and their subject permissions: one table, pure data made from the names in ``shared/subjects.py``.

The server authorization (``agentscaler auth init``) and the table in docs/security.md are both generated from
:func:`roles`. ``INBOX`` stands for the user's own reply inbox, ``_INBOX.<its public key>.>``: a client that
connects with an nkey uses that prefix for its replies (``shared/auth/inbox.py``), so no user can read the
replies (task deliveries, results, status) meant for another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import subjects as s

USER = "{user}"
"""Placeholder for the user's public key; the server config puts the key of the user whose permission it is."""
POOL = "{pool}"
"""Placeholder in the agent role: the agent's pool (each agent's user names it: ``shared/auth/serverconf.py``)."""
AGENT = "{agent}"
"""Placeholder in the agent role: the agent's id."""
AGENT_ROLE = "agent"
INBOX = f"_INBOX.{USER}.>"
"""The user's own reply inbox."""


def as_user(subject: str) -> str:
    """``subject`` sent as the user itself (``<subject>.as.<its key>``): the server vouches for the actor."""
    return s.as_actor(subject, USER)


def bare_and_as_anyone(*subjects: str) -> list[str]:
    """Each subject, and the same sent as any user: what a service that serves them subscribes to."""
    return [form for subject in subjects for form in (subject, s.as_actor(subject, "*"))]


def violations_of(role: str) -> str:
    """Where a service records the permission violations its own connection meets."""
    return s.audit_subject(f"violation.{role}")


JS = "$JS.API"


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    responses: bool = False
    """Whether it may answer requests (``allow_responses``: one reply to each request it received)."""


def stream_info(stream: str) -> list[str]:
    return [f"{JS}.STREAM.INFO.{stream}"]


def stream_manage(stream: str) -> list[str]:
    """Create the stream or bring its settings up to date."""
    return [f"{JS}.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]


def stream_read(stream: str) -> list[str]:
    """Read a stream through consumers of one's own (KV watches, history reads) and single-message gets."""
    return [
        *stream_info(stream),
        f"{JS}.CONSUMER.CREATE.{stream}",
        f"{JS}.CONSUMER.CREATE.{stream}.>",
        f"{JS}.CONSUMER.INFO.{stream}.*",
        f"{JS}.CONSUMER.DELETE.{stream}.*",
        f"{JS}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{JS}.STREAM.MSG.GET.{stream}",
        f"{JS}.DIRECT.GET.{stream}",
        f"{JS}.DIRECT.GET.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"


def kv_read(bucket: str) -> list[str]:
    return stream_read(kv_stream(bucket))


def kv_get(bucket: str, keys: str = ">") -> list[str]:
    """Get single keys (``keys``: a subject pattern of keys), nothing else. A bucket made with ``allow_direct``
    is read by subject; one without it, by a request that names the key in its body, which permissions cannot
    limit: that is granted only when every key may be read."""
    stream = kv_stream(bucket)
    by_body = [f"{JS}.STREAM.MSG.GET.{stream}"] if keys == ">" else []
    return [*stream_info(stream), f"{JS}.DIRECT.GET.{stream}.$KV.{bucket}.{keys}", *by_body]


def kv_watch(bucket: str, keys: str = ">") -> list[str]:
    """Watch keys (``keys``: a subject pattern of keys) with a named consumer filtered to them, whose create
    subject names its filter (``<stream>.<consumer>.<filter>``): what ``result --wait`` does."""
    return [f"{JS}.CONSUMER.CREATE.{kv_stream(bucket)}.*.$KV.{bucket}.{keys}"]


def kv_make(bucket: str) -> list[str]:
    """Create a bucket, or raise its replicas to the ``replicas`` setting (``shared/bus/replicas.py``)."""
    return [f"{JS}.STREAM.{verb}.{kv_stream(bucket)}" for verb in ("CREATE", "UPDATE")]


def kv_write(bucket: str) -> list[str]:
    """Open (creating it if missing), read and write a bucket."""
    return [*kv_make(bucket), *kv_read(bucket), f"$KV.{bucket}.>"]


def kv_open(bucket: str) -> list[str]:
    """Open (creating it if missing) and read a bucket: a service may start before the bucket's writer."""
    return [*kv_make(bucket), *kv_read(bucket)]


ANY_TASK_STREAM = "*"
"""Task streams are named ``agentscaler-tasks-<pool>``, one subject token: for all pools, a wildcard on it."""
ANY_POOL = "*"

AGENT_EVENT = s.agent_event_subject
HISTORY_READ = stream_read(s.HISTORY_STREAM)
AUDIT_READ = stream_read(s.AUDIT_STREAM)
COMMAND_SUBJECTS = (s.COMMAND, s.COMMAND_OPERATE, s.COMMAND_READ, s.OPTIMIZE, s.CHAT, s.CHAT_OPERATE, s.CHAT_READ)


def _task_streams(pools: Sequence[str]) -> list[str]:
    return [ANY_TASK_STREAM] if not pools else [s.task_stream(p) for p in pools]


def _pools(pools: Sequence[str]) -> list[str]:
    return [ANY_POOL] if not pools else list(pools)


def roles(pools: Sequence[str] = ()) -> dict[str, Role]:
    """Every role, by name. ``pools``: the pools a submitter may submit to and read the results of (empty: all)."""
    viewer_pub = [
        s.STATUS,
        s.REGISTRY_QUERY,
        as_user(s.COMMAND_READ),
        as_user(s.CHAT_READ),
        *HISTORY_READ,
        *AUDIT_READ,
        *kv_get(s.RESULTS_BUCKET),
        *kv_watch(s.RESULTS_BUCKET),
        *kv_get(s.ATTEMPTS_BUCKET),
        *s.SERVICE_DISCOVERY,  # find the services, their endpoints and counts (``nats micro ls``)
    ]
    viewer_sub = [INBOX, f"{s.PREFIX}.evt.>"]
    table = [
        Role("admin", "everything, including pool definitions", (">",), (">",), responses=True),
        Role(
            "operator",
            "scale, auto/manual, optimize, status, agents, history, results; not pool definitions",
            (as_user(s.COMMAND_OPERATE), as_user(s.CHAT_OPERATE), as_user(s.OPTIMIZE), *viewer_pub),
            tuple(viewer_sub),
        ),
        Role(
            "submitter",
            "submit tasks to its pools and read their results",
            tuple(
                [s.task_subject(p) for p in _pools(pools)]
                + [f for st in _task_streams(pools) for f in stream_info(st)]
                + [f for p in pools for f in kv_get(s.RESULTS_BUCKET, f"{p}.>")]
                + [f for p in _pools(pools) for f in kv_watch(s.RESULTS_BUCKET, f"{p}.>")]
                + [f for p in pools for f in kv_get(s.ATTEMPTS_BUCKET, f"{p}.>")]
                + ([] if pools else [*kv_get(s.RESULTS_BUCKET), *kv_get(s.ATTEMPTS_BUCKET)])
            ),
            (INBOX,),
        ),
        Role("viewer", "status, agents, pools, history, results: read only", tuple(viewer_pub), tuple(viewer_sub)),
        Role(
            "policy",
            "the policy service: commands, pools, desired counts, decisions, task queues",
            (
                s.decision_subject("*"),
                s.history_subject("*"),
                s.optimize_event_subject("*"),
                s.pool_event_subject("refused", "*"),
                s.STATUS,  # the chat endpoint's status replies
                s.audit_subject("command"),
                violations_of("policy"),
                f"{JS}.STREAM.INFO.*",
                f"{JS}.STREAM.CREATE.*",
                f"{JS}.STREAM.UPDATE.*",
                f"{JS}.CONSUMER.CREATE.*.{s.TASK_CONSUMER}",
                f"{JS}.CONSUMER.DURABLE.CREATE.*.{s.TASK_CONSUMER}",
                *HISTORY_READ,
                *kv_write(s.POOLS_BUCKET),
                *kv_write(s.DESIRED_BUCKET),
                *kv_write(s.OPTIMIZE_BUCKET),
                *kv_write(s.CORDONS_BUCKET),
                *kv_open(s.HOSTS_BUCKET),
                *kv_write(s.LEASES_BUCKET),
            ),
            (
                INBOX,
                *bare_and_as_anyone(*COMMAND_SUBJECTS),
                s.snapshot_subject("*"),
                s.task_subject("*"),
                *s.SERVICE_DISCOVERY,
            ),
            responses=True,
        ),
        Role(
            "monitor",
            "the monitor service: snapshots and status",
            (
                s.snapshot_subject("*"),
                s.pool_event_subject("converged", "*"),
                s.pool_event_subject("stuck", "*"),
                s.REGISTRY_QUERY,
                violations_of("monitor"),
                f"{JS}.STREAM.NAMES",  # to find the results bucket's stream by subject
                f"{JS}.STREAM.INFO.*",  # each stream's replicas and leader, for status (task streams: one per pool)
                f"{JS}.CONSUMER.INFO.*.{s.TASK_CONSUMER}",
                *HISTORY_READ,
                *kv_open(s.POOLS_BUCKET),
                *kv_open(s.DESIRED_BUCKET),
                *kv_open(s.OPTIMIZE_BUCKET),
                *kv_open(s.HOSTS_BUCKET),
                *kv_open(s.CORDONS_BUCKET),
                *kv_open(s.RESULTS_BUCKET),
                *kv_open(s.LEASES_BUCKET),
            ),
            (INBOX, s.STATUS, s.snapshot_subject("*"), s.decision_subject("*"), *s.SERVICE_DISCOVERY),
            responses=True,
        ),
        Role(
            "registry",
            "the registry service: the agent table and the agents' lifecycle events",
            (
                AGENT_EVENT("registered"),
                AGENT_EVENT("deregistered"),
                AGENT_EVENT("lost"),
                violations_of("registry"),
                *kv_write(s.AGENTS_BUCKET),
                *kv_write(s.LEASES_BUCKET),
            ),
            (
                INBOX,
                s.REGISTRY_QUERY,
                *bare_and_as_anyone(s.AGENT_REGISTER, s.AGENT_DEREGISTER, s.heartbeat_subject("*")),
                AGENT_EVENT("spawned"),
                AGENT_EVENT("exited"),
                *s.SERVICE_DISCOVERY,
            ),
            responses=True,
        ),
        Role(
            "actuator",
            "the actuator service: starts and stops agents",
            (
                AGENT_EVENT("spawned"),
                AGENT_EVENT("exited"),
                s.REGISTRY_QUERY,
                violations_of("actuator"),
                *kv_open(s.POOLS_BUCKET),
                *kv_open(s.DESIRED_BUCKET),
                *kv_write(s.HOSTS_BUCKET),
                *kv_write(s.DEATHS_BUCKET),
            ),
            (INBOX, AGENT_EVENT("lost"), *s.SERVICE_DISCOVERY),
            responses=True,  # to discovery requests
        ),
        Role(
            AGENT_ROLE,
            "each agent: pull and ack its pool's tasks, write its pool's results, heartbeat, register and "
            "deregister as itself; nothing else",
            (
                f"{JS}.CONSUMER.INFO.{s.task_stream(POOL)}.{s.TASK_CONSUMER}",
                f"{JS}.CONSUMER.MSG.NEXT.{s.task_stream(POOL)}.{s.TASK_CONSUMER}",
                f"$JS.ACK.{s.task_stream(POOL)}.{s.TASK_CONSUMER}.>",
                *kv_get(s.RESULTS_BUCKET, f"{POOL}.>"),
                f"$KV.{s.RESULTS_BUCKET}.{POOL}.>",
                *kv_make(s.ATTEMPTS_BUCKET),  # the first agent makes it
                *kv_get(s.ATTEMPTS_BUCKET, f"{POOL}.>"),
                f"$KV.{s.ATTEMPTS_BUCKET}.{POOL}.>",
                *kv_get(s.DEATHS_BUCKET),  # why the agent that ran a task it gives up on died
                s.as_actor(s.heartbeat_subject(POOL), AGENT),
                s.as_actor(s.AGENT_REGISTER, AGENT),
                s.as_actor(s.AGENT_DEREGISTER, AGENT),
            ),
            (INBOX,),
        ),
    ]
    return {role.name: role for role in table}


ROLE_NAMES = tuple(roles())
"""Every role, the humans' first, then the services', then the agents'."""
SERVICE_ROLES = ("policy", "monitor", "registry", "actuator")
