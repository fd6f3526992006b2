"""Pure cgroup decisions: where this process sits in the cgroup hierarchies (from the text of /proc/self/cgroup
and /proc/self/mountinfo), where pool cgroups can go under cgroup v2, and what limits a pool gets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.numbers import MIB

NEEDED = frozenset({"memory", "pids"})
"""The controllers pool cgroups use."""

UNIFIED = "unified"
"""The key of the cgroup v2 hierarchy in :func:`locate`'s answer (v1 hierarchies go by controller name)."""


@dataclass(frozen=True)
class Hierarchy:
    """Where this process sits in one cgroup hierarchy."""

    mount: Path
    """Where the hierarchy, or the part of it visible here, is mounted."""
    own: Path
    """The directory of this process's cgroup."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int | None
    """memory.max (v2) or memory.limit_in_bytes (v1); None for no limit."""
    pids: int | None
    """pids.max: processes and threads; None for no limit."""


def pool_limits(pool: PoolConfig, running: int = 0) -> Limits:
    """A pool's cgroup limits: its per-agent allowances times its agent slots, which are ``max_agents`` (or the
    agents running, if more: draining agents overlap their replacements) plus one for a fork server."""
    slots = max(pool.max_agents, running) + (1 if pool.spawn == "fork" else 0)
    memory = slots * pool.agent_memory_limit_mb * MIB if pool.agent_memory_limit_mb else None
    pids = slots * pool.agent_pids_limit if pool.agent_pids_limit else None
    return Limits(memory_bytes=memory, pids=pids)


def cgroup_name(host: str, pool: str) -> str:
    """The pool's cgroup on this host: one per (host, pool), as agent ids are, so actuators never share one."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"agentscaler-{host}-{pool}")


def locate(proc_cgroup: str, mountinfo: str) -> dict[str, Hierarchy]:
    """This process's cgroups: ``"unified"`` for cgroup v2 and each v1 controller (``"memory"``, ``"pids"``,
    ...) by name, for the hierarchies that are mounted here and show this process's cgroup."""
    mounts = _cgroup_mounts(mountinfo)
    found: dict[str, Hierarchy] = {}
    for line in proc_cgroup.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        keys = [UNIFIED] if number == "0" and not controllers else controllers.split(",")
        for key in keys:
            for kinds, root, point in mounts:
                inner = _inside(path, root)
                if key in kinds and inner is not None:
                    found.setdefault(key, Hierarchy(mount=point, own=point / inner if inner else point))
                    break
    return found


def _cgroup_mounts(mountinfo: str) -> list[tuple[set[str], str, Path]]:
    """(hierarchy keys, root of the mount inside its hierarchy, mount point) of every cgroup mount."""
    mounts = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        kind, options = fields[dash + 1], fields[dash + 3] if len(fields) > dash + 3 else ""
        if kind == "cgroup2":
            mounts.append(({UNIFIED}, _unescape(fields[3]), Path(_unescape(fields[4]))))
        elif kind == "cgroup":
            mounts.append((set(options.split(",")), _unescape(fields[3]), Path(_unescape(fields[4]))))
    return mounts


def _unescape(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash as octal escapes (``\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def _inside(path: str, root: str) -> str | None:
    """``path`` relative to the mount's ``root`` ("" for the root itself); None if the mount does not show it."""
    if root == "/":
        return path.strip("/")
    if path == root:
        return ""
    return path[len(root) + 1 :].strip("/") if path.startswith(root + "/") else None


def place_v2(
    unified: Hierarchy, controllers: set[str], subtree: set[str], own_writable: bool, parent_writable: bool
) -> tuple[Path, bool] | str:
    """Where pool cgroups go under cgroup v2, and whether ``memory`` and ``pids`` must first be enabled in its
    ``cgroup.subtree_control``; else why v2 cannot be used. ``controllers`` and ``subtree`` are the words of
    the actuator's own cgroup's ``cgroup.controllers`` and ``cgroup.subtree_control``.

    A cgroup that holds processes cannot give controllers to children ("no internal processes"), except the
    root. So: under the actuator's own cgroup if its children have them (or it is the top, where they can be
    enabled), else beside it, in its parent, which enables for its children what ``controllers`` lists."""
    missing = NEEDED - controllers
    if missing:
        have = " ".join(sorted(controllers)) or "none"
        return (
            f"cgroup v2: {', '.join(sorted(missing))} not delegated to {unified.own} (cgroup.controllers: {have}); "
            "they must be enabled in the parent's cgroup.subtree_control, not bound to a v1 hierarchy"
        )
    if own_writable and subtree >= NEEDED:
        return unified.own, False
    if unified.own == unified.mount:
        return (unified.own, True) if own_writable else f"cgroup v2: {unified.own} is not writable"
    if parent_writable:
        return unified.own.parent, False
    return (
        f"cgroup v2: {unified.own.parent} is not writable, and {unified.own} holds the actuator so cannot give "
        "controllers to children; run the actuator in a leaf of a delegated cgroup (systemd: Delegate=yes and "
        "DelegateSubgroup=)"
    )
