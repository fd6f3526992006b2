"""Pool cgroups on this host: find a usable backend (cgroup v2, else v1, else none), make one cgroup per pool
under the actuator's own, keep its memory and pids limits in step with the pool, move processes in, remove it
on stop. Nothing here stops the actuator: a cgroup that cannot be made or written is logged with what to do,
and the pool runs without limits."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from agentscaler.shared.messages.pools import PoolConfig

from .cgroupplan import MIB, NEEDED, UNIFIED, Hierarchy, Limits, cgroup_name, locate, place_v2, pool_limits
from .settings import CgroupMode

log = structlog.get_logger()

FIX_ACCESS = 'run the actuator as root or in a delegated cgroup, or set the actuator\'s cgroups = "off"'
FIX_LIMITS = "the pool's agents may already use more: raise its agent_memory_limit_mb or agent_pids_limit"


@dataclass(frozen=True)
class Backend:
    version: Literal["v1", "v2"]
    bases: dict[str, Path]
    """The directory pool cgroups are made in, by controller: the same one for both under v2."""


def detect(mode: CgroupMode) -> tuple[Backend | None, str]:
    """The backend to use, and why the others were not (for the log)."""
    if mode == "off":
        return None, 'the actuator setting cgroups = "off"'
    try:
        found = locate(Path("/proc/self/cgroup").read_text(), Path("/proc/self/mountinfo").read_text())
    except OSError as exc:
        return None, f"cannot read this process's cgroups: {exc}"
    reasons = []
    for version, find in (("v2", _v2), ("v1", _v1)):
        if mode in ("auto", version):
            backend = find(found)
            if isinstance(backend, Backend):
                return backend, "; ".join(reasons)
            reasons.append(backend)
    return None, "; ".join(reasons)


def _v2(found: dict[str, Hierarchy]) -> Backend | str:
    unified = found.get(UNIFIED)
    if unified is None:
        return "cgroup v2: not mounted"
    try:
        controllers = _words(unified.own / "cgroup.controllers")
        subtree = _words(unified.own / "cgroup.subtree_control")
    except OSError as exc:
        return f"cgroup v2: {exc}"
    place = place_v2(unified, controllers, subtree, _writable(unified.own), _writable(unified.own.parent))
    if isinstance(place, str):
        return place
    base, enable = place
    if enable:
        try:
            _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(NEEDED)))
        except OSError as exc:
            return (
                f"cgroup v2: cannot enable memory and pids for the children of {base} ({exc}); run the actuator "
                "in a leaf of a delegated cgroup"
            )
    return Backend("v2", dict.fromkeys(NEEDED, base))


def _v1(found: dict[str, Hierarchy]) -> Backend | str:
    dirs = {c: found[c].own for c in NEEDED if c in found}
    if missing := NEEDED - dirs.keys():
        return f"cgroup v1: no {' or '.join(sorted(missing))} hierarchy mounted"
    if closed := [str(d) for d in dirs.values() if not _writable(d)]:
        return f"cgroup v1: {', '.join(sorted(closed))} not writable"
    return Backend("v1", dirs)


class PoolCgroup:
    """One pool's cgroup: a directory in each hierarchy of the backend (one under v2, two under v1)."""

    def __init__(self, backend: Backend, name: str) -> None:
        self.backend = backend
        self.dirs = {controller: base / name for controller, base in backend.bases.items()}
        self.paths = sorted(set(self.dirs.values()))
        self._add_failed = False

    def create(self) -> None:
        for path in self.paths:
            path.mkdir(exist_ok=True)  # one left by an actuator that crashed is reused

    def limit(self, limits: Limits) -> None:
        v1 = self.backend.version == "v1"
        unlimited = "-1" if v1 else "max"
        memory = unlimited if limits.memory_bytes is None else str(limits.memory_bytes)
        _write(self.dirs["pids"] / "pids.max", "max" if limits.pids is None else str(limits.pids))
        # Last: v1 refuses a memory limit below what is in use (EBUSY), and the pids one should apply anyway.
        _write(self.dirs["memory"] / ("memory.limit_in_bytes" if v1 else "memory.max"), memory)

    def add(self, pid: int) -> None:
        """Move a process (all its threads) in; its children are born in it. A failure is logged (a warning
        the first time, then at debug level), not raised."""
        for path in self.paths:
            try:
                _write(path / "cgroup.procs", str(pid))
            except OSError as exc:
                (log.debug if self._add_failed else log.warning)(
                    "cannot move a process into its pool cgroup; it runs without those limits",
                    pid=pid,
                    path=str(path),
                    error=str(exc),
                    fix=FIX_ACCESS,
                )
                self._add_failed = True

    def joining(self, first: Callable[[], None]) -> Callable[[], None]:
        """A ``preexec_fn``: ``first``, then move the new process in before it runs its program, so all its
        memory is charged here. It only opens and writes files, and cannot report a failure: the parent calls
        :meth:`add` after the start, which repeats the move (a no-op once done) and logs what failed."""
        files = [os.fsencode(path / "cgroup.procs") for path in self.paths]

        def preexec() -> None:
            first()
            for file in files:
                with contextlib.suppress(OSError):
                    fd = os.open(file, os.O_WRONLY)
                    try:
                        os.write(fd, b"0")  # 0 is the writing process
                    finally:
                        os.close(fd)

        return preexec

    def oom_kills(self) -> int | None:
        """Processes the kernel's OOM killer has ended in this cgroup so far (``oom_kill`` of v1's
        memory.oom_control or v2's memory.events); None where the kernel does not count them."""
        name = "memory.oom_control" if self.backend.version == "v1" else "memory.events"
        try:
            text = (self.dirs["memory"] / name).read_text()
        except OSError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return None

    def remove(self) -> None:
        """Remove the cgroup; it must hold no process any more."""
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                path.rmdir()


class PoolCgroups:
    """The actuator's pool cgroups: made on first use, their limits kept in step with each pool's config and
    the agents it runs, removed on stop."""

    def __init__(self, backend: Backend | None, host: str) -> None:
        self.backend = backend
        self.host = host
        self.groups: dict[str, PoolCgroup] = {}
        self._applied: dict[str, Limits] = {}
        self._broken: set[str] = set()
        self._oom_seen: dict[str, int] = {}
        """Each pool cgroup's OOM kill count already accounted for."""

    @classmethod
    def detect(cls, mode: CgroupMode, host: str) -> PoolCgroups:
        backend, reason = detect(mode)
        if backend is None:
            log.info("agents run without cgroup limits", reason=reason)
        else:
            bases = sorted({str(base) for base in backend.bases.values()})
            log.info("agents run under cgroup limits", backend=backend.version, under=bases, skipped=reason or None)
        return cls(backend, host)

    def get(self, pool: str) -> PoolCgroup | None:
        return self.groups.get(pool)

    def ensure(self, pool: PoolConfig, running: int) -> None:
        """Make the pool's cgroup if it is missing, and set its limits for ``running`` agents if they changed."""
        if self.backend is None or pool.name in self._broken:
            return
        group = self.groups.get(pool.name)
        if group is None:
            group = PoolCgroup(self.backend, cgroup_name(self.host, pool.name))
            try:
                group.create()
            except OSError as exc:
                self._broken.add(pool.name)
                with contextlib.suppress(OSError):
                    group.remove()
                log.warning(
                    "cannot create the pool cgroup; its agents run without cgroup limits",
                    pool=pool.name,
                    path=" ".join(str(p) for p in group.paths),
                    error=str(exc),
                    fix=FIX_ACCESS,
                )
                return
            self.groups[pool.name] = group
            self._oom_seen[pool.name] = group.oom_kills() or 0  # a reused cgroup's past kills are not ours
        limits = pool_limits(pool, running)
        if self._applied.get(pool.name) == limits:
            return
        self._applied[pool.name] = limits  # a failure is retried when the limits change, not every pass
        path = " ".join(str(p) for p in group.paths)
        memory_mb = "max" if limits.memory_bytes is None else limits.memory_bytes // MIB
        pids = "max" if limits.pids is None else limits.pids
        try:
            group.limit(limits)
        except OSError as exc:
            log.warning(
                "cannot apply the pool cgroup limits",
                pool=pool.name,
                memory_mb=memory_mb,
                pids=pids,
                path=path,
                error=str(exc),
                fix=FIX_LIMITS,
            )
            return
        log.info("pool cgroup limits", pool=pool.name, memory_mb=memory_mb, pids=pids, path=path)

    def took_oom_kill(self, pool: str) -> bool:
        """Whether the kernel's OOM killer has ended a process in the pool's cgroup that no earlier call
        accounted for: ask once for each agent that died of SIGKILL, and each kill answers True once."""
        group = self.groups.get(pool)
        kills = None if group is None else group.oom_kills()
        if kills is None or kills <= self._oom_seen.get(pool, 0):
            return False
        self._oom_seen[pool] = self._oom_seen.get(pool, 0) + 1
        return True

    def close(self) -> None:
        """Remove every pool cgroup (on stop, once the agents and fork servers are gone)."""
        for name, group in self.groups.items():
            try:
                group.remove()
            except OSError as exc:
                log.warning(
                    "cannot remove the pool cgroup", pool=name, paths=[str(p) for p in group.paths], error=str(exc)
                )
        self.groups.clear()
        self._applied.clear()


def _words(path: Path) -> set[str]:
    return set(path.read_text().split())


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def _write(path: Path, value: str) -> None:
    """One write to a cgroup file, so the kernel's answer to it is raised here."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
