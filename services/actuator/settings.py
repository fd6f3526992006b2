"""Actuator settings."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import msgspec

from agentscaler.services.agent.settings import DEFAULT_SPAWN_CONCURRENCY
from agentscaler.shared.allowlist import EXAMPLE_ENV_KEYS, EXAMPLE_HANDLERS
from agentscaler.shared.settings import CommonSettings

CgroupMode = Literal["auto", "v2", "v1", "off"]


class ActuatorSettings(CommonSettings, frozen=True, kw_only=True):
    reconcile_interval: Annotated[
        float, msgspec.Meta(gt=0, le=3600, description="seconds between reconcile passes when nothing changes")
    ] = 1.0
    spawn_batch: Annotated[
        int, msgspec.Meta(ge=1, le=100_000, description="most agents a pool's fork server is asked for in one pass")
    ] = 1000
    spawn_concurrency: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100_000,
            description="most agents starting at once: a fork server starts the next as one is ready; exec'd "
            "agents start this many per pass",
        ),
    ] = DEFAULT_SPAWN_CONCURRENCY
    spawn_pause: Annotated[
        float,
        msgspec.Meta(ge=0, le=3600, description="seconds between passes while agents are still to start"),
    ] = 0.1
    pools: Annotated[list[str], msgspec.Meta(description="pools this actuator runs; empty for all")] = []
    labels: Annotated[
        list[str],
        msgspec.Meta(description="what this host offers (e.g. gpu, zone=eu): pools' `hosts` patterns match them"),
    ] = []
    announce_interval: Annotated[
        float, msgspec.Meta(gt=0, le=60, description="seconds between this host's entries in agentscaler-hosts")
    ] = 2.0
    host_lost_after: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=3600, description="seconds without an entry after which the policy counts this host lost"
        ),
    ] = 10.0
    handlers: Annotated[
        list[str],
        msgspec.Meta(
            description="handlers this host runs, as patterns on module or module:function (e.g. myagents.*); "
            "a pool with another handler gets no agents here"
        ),
    ] = msgspec.field(default_factory=lambda: [EXAMPLE_HANDLERS])
    env_keys: Annotated[
        list[str],
        msgspec.Meta(description="pool env keys this host lets agents have, as patterns (e.g. MYAGENTS_*)"),
    ] = msgspec.field(default_factory=lambda: [EXAMPLE_ENV_KEYS])
    min_uptime: Annotated[
        float,
        msgspec.Meta(gt=0, le=86400, description="an agent exiting sooner than this counts as a crash for backoff"),
    ] = 10.0
    max_backoff: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="longest wait before restarting a crashing pool's agents")
    ] = 30.0
    python: Annotated[str, msgspec.Meta(description="interpreter that runs agents")] = sys.executable
    agent_creds: Annotated[
        str, msgspec.Meta(description="path of the .creds file agents connect with (never the actuator's own)")
    ] = ""
    agent_nkey: Annotated[
        str, msgspec.Meta(description="path of the nkey seed file agents connect with (never the actuator's own)")
    ] = ""
    agent_user: Annotated[
        str,
        msgspec.Meta(
            description="user (name or uid) agents run as; set it when the actuator runs as root, or handlers run "
            "as root and can lift their own limits"
        ),
    ] = ""
    agent_tls_cert: Annotated[
        str,
        msgspec.Meta(description="path of the TLS client certificate agents present (never the actuator's own)"),
    ] = ""
    agent_tls_key: Annotated[str, msgspec.Meta(description="path of the agents' TLS client key")] = ""
    agent_signer: Annotated[
        str,
        msgspec.Meta(
            description="path of the agents' scoped signing key (auth init's agent-signer.nk): each agent gets a "
            "user of its own, for its pool and id (needs the actuator's own creds)"
        ),
    ] = ""
    agent_creds_dir: Annotated[
        str,
        msgspec.Meta(description="directory for the agents' own credentials (default: a new private temporary one)"),
    ] = ""
    agent_log: Annotated[
        str, msgspec.Meta(description="file the agents' output goes to; empty to share the actuator's")
    ] = ""
    cgroups: Annotated[
        CgroupMode,
        msgspec.Meta(
            description='each pool in a cgroup with memory and pids limits: "auto" (v2, else v1), "v2", "v1" or "off"'
        ),
    ] = "auto"
