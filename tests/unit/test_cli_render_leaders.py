"""``agentscaler status`` ends with who leads the leased services, or says none does."""

from __future__ import annotations

import msgspec

from agentscaler.services.cli.render import render_status
from agentscaler.shared.messages.leases import LeaseRecord

from . import builders as b


def lease(service: str, host: str, pid: int, since: float) -> LeaseRecord:
    return LeaseRecord(service=service, holder=f"{host}:{pid}:ab12", host=host, pid=pid, since=since,
                       renewed_at=since, ttl=6.0)  # fmt: skip


def test_the_last_line_names_each_leader_or_none() -> None:
    snap = msgspec.structs.replace(
        b.snapshot(at=1000.0), leaders={"registry": None, "policy": lease("policy", "vm-a", 4121, 1000.0 - 125)}
    )
    assert render_status(snap).splitlines()[-1] == "leaders  policy vm-a pid 4121 for 2m 5s   registry none"


def test_published_snapshots_without_leaders_show_no_line() -> None:
    assert "leaders" not in render_status(b.snapshot(at=1000.0))
