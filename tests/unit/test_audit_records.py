"""Who a command is from (the actor in its subject, the actor of a client's credentials), and what an audit
record keeps of a request and its reply: pure functions, no NATS."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import msgspec
import nkeys
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentscaler.services.cli.audit_view import render_audit, who
from agentscaler.services.policy.audit import outcome_of, pool_of, request_of
from agentscaler.shared import subjects
from agentscaler.shared.auth.actor import NoActor, actor_from, actor_of_subject, base_subject, creds_user
from agentscaler.shared.auth.inbox import public_key
from agentscaler.shared.auth.jwt import Key
from agentscaler.shared.bus.options import actor_of
from agentscaler.shared.messages.audit import AuditRecord
from agentscaler.shared.messages.commands import Error, GetPool, Scale, Scaled, SetPool
from agentscaler.shared.messages.pools import PoolConfig
from agentscaler.shared.settings import CommonSettings, SettingsError
from tests.nats_jwt import Operator

KEY = "UAZVBHFKMZNA4DBE3I3LC7IAWIKLCHXZX7GBPPBG4JQOCW5IPJWEH4BU"


@pytest.mark.parametrize(
    ("subject", "actor", "base"),
    [
        (f"agentscaler.cmd.as.{KEY}", KEY, "agentscaler.cmd"),
        (f"agentscaler.cmd.operate.as.{KEY}", KEY, "agentscaler.cmd.operate"),
        ("agentscaler.optimize.as.alice", "alice", "agentscaler.optimize"),
        ("agentscaler.cmd", "", "agentscaler.cmd"),
        ("agentscaler.cmd.operate", "", "agentscaler.cmd.operate"),
        ("as.alice", "", "as.alice"),  # nothing before the mark: not a command sent as someone
    ],
)
def test_the_actor_is_the_subjects_last_token_after_as(subject: str, actor: str, base: str) -> None:
    assert actor_of_subject(subject) == actor
    assert base_subject(subject) == base


@given(
    st.sampled_from([*subjects.COMMAND_KINDS, subjects.COMMAND, subjects.OPTIMIZE]),
    st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
)
def test_as_actor_and_actor_of_subject_agree(subject: str, actor: str) -> None:
    sent = subjects.as_actor(subject, actor)
    assert (actor_of_subject(sent), base_subject(sent)) == (actor, subject)


def test_a_client_acts_as_its_nkey_its_jwt_or_its_user(tmp_path: Path) -> None:
    seed = tmp_path / "user.nk"
    seed.write_bytes(Key.new(nkeys.PREFIX_BYTE_USER).seed)
    assert actor_from(nkey=str(seed)) == public_key(seed.read_bytes())
    creds = Operator().user_creds(tmp_path / "u.creds")
    text = creds.read_text()
    payload = text.split("\n")[1].split(".")[1]
    sub = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    assert creds_user(text) == sub and sub.startswith("U")
    assert actor_of(CommonSettings(creds=str(creds))) == sub
    assert actor_from(user="alice") == "alice"
    assert actor_from(user="alice.smith") == ""  # not a subject token: commands go on the bare subjects
    assert actor_from() == ""


def test_unreadable_credentials_say_so(tmp_path: Path) -> None:
    (tmp_path / "bad.creds").write_text("no jwt here")
    with pytest.raises(NoActor, match="no user JWT"):
        creds_user("no jwt here")
    with pytest.raises(SettingsError, match="cannot tell the user"):
        actor_of(CommonSettings(creds=str(tmp_path / "bad.creds")))
    (tmp_path / "bad.nk").write_text("SUnotaseed")
    with pytest.raises(SettingsError, match="nkey seed file"):
        actor_of(CommonSettings(nkey=str(tmp_path / "bad.nk")))


def test_a_record_masks_pool_env_values_and_keeps_bad_bodies_as_text() -> None:
    config = PoolConfig(name="p", env={"API_KEY": "s3cret", "REGION": "eu"})
    kept = request_of(SetPool(config=config), b"")
    assert kept["config"]["env"] == {"API_KEY": "***", "REGION": "***"}
    assert "s3cret" not in json.dumps(kept)
    assert request_of(None, b'{"type": "sca' + b"x" * 5000)[:13] == '{"type": "sca'
    assert len(request_of(None, b"x" * 5000)) == 2048
    assert request_of(None, b"\xff\xfe") == "\ufffd\ufffd"


def test_outcomes_and_pools() -> None:
    assert outcome_of(Error(code="unknown_pool", message="no such pool")) == ("unknown_pool", "no such pool")
    assert outcome_of(Scaled(pool="p", previous=1, desired=3)) == ("ok", "desired 1 -> 3")
    assert pool_of(Scale(pool="p", direction="up", count=1)) == "p"
    assert pool_of(SetPool(config=PoolConfig(name="q"))) == "q"
    assert pool_of(GetPool(pool="r")) == "r" and pool_of(None) == ""


def test_records_read_for_people() -> None:
    base = AuditRecord(kind="command", at=0.0, subject="s", actor=KEY, actor_name="operator", command="scale",
                       pool="p", request={"type": "scale"}, outcome="refused", message="no room")  # fmt: skip
    assert who(base) == "operator (UAZVBHFK…)"
    assert who(msgspec.structs.replace(base, actor="")) == "anonymous"
    line = render_audit(base)
    assert "scale" in line and "operator (UAZVBHFK…)" in line and "refused: no room" in line
    violation = AuditRecord(kind="violation", at=0.0, subject="x", outcome="violation", message="denied",
                            reporter="monitor@h")  # fmt: skip
    assert "violation" in render_audit(violation) and "monitor@h" in render_audit(violation)
