"""``auth init``'s files, and the roles table in docs/security.md kept equal to the code."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agentscaler.services.cli import auth
from agentscaler.shared import subjects
from agentscaler.shared.auth import jwt
from agentscaler.shared.auth.roles import AGENT_ROLE, ROLE_NAMES, SERVICE_ROLES, USER, roles
from agentscaler.shared.auth.serverconf import sign_agent
from agentscaler.shared.auth.table import BEGIN, END, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_init_writes_private_creds_per_role_and_the_operator_mode_server(tmp_path: Path) -> None:
    written = auth.init(tmp_path / "keys")
    humans_and_services = [r for r in ROLE_NAMES if r != AGENT_ROLE]
    assert [p.name for p in written] == [f"{r}.creds" for r in humans_and_services] + [
        auth.AGENT_SIGNER,
        auth.SERVER_CONF,
        auth.ACTORS,
    ]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    conf = (tmp_path / "keys" / auth.SERVER_CONF).read_text()
    assert "operator:" in conf and "resolver: MEMORY" in conf and "resolver_preload" in conf
    table = roles()
    users = {}
    for role in humans_and_services:
        text = auth.creds_file(tmp_path / "keys", role).read_text()
        claims = jwt.claims_of(jwt.creds_jwt(text))
        user = jwt.Key.of(jwt.creds_seed(text)).public
        assert claims["sub"] == user and claims["name"] == role and user.startswith("U")
        assert claims["nats"]["pub"]["allow"] == [p.replace(USER, user) for p in table[role].publish]
        assert (f"_INBOX.{user}.>" in claims["nats"]["sub"]["allow"]) == (role != "admin")  # the admin reads all
        users[user] = role
    signer = (tmp_path / "keys" / auth.AGENT_SIGNER).read_bytes()
    assert signer.startswith(b"SA")  # an account signing key: agents' users, scoped to the agent role
    assert json.loads((tmp_path / "keys" / auth.ACTORS).read_text()) == users  # the names audit records give


def test_an_agents_user_carries_only_its_pool_and_id(tmp_path: Path) -> None:
    auth.init(tmp_path)
    account = jwt.claims_of(jwt.creds_jwt(auth.creds_file(tmp_path, "admin").read_text()))["iss"]
    text = sign_agent(jwt.Key.of((tmp_path / auth.AGENT_SIGNER).read_bytes()), account, "p-h-1", "p", 0)
    claims = jwt.claims_of(jwt.creds_jwt(text))
    assert claims["name"] == "p-h-1" and claims["nats"]["tags"] == ["pool:p"]
    assert claims["nats"]["issuer_account"] == account
    assert "pub" not in claims["nats"] and "sub" not in claims["nats"]  # the scope's template gives them


def test_init_keeps_existing_credentials_unless_forced(tmp_path: Path) -> None:
    auth.init(tmp_path)
    before = auth.creds_file(tmp_path, "admin").read_bytes()
    with pytest.raises(auth.AuthError, match="--force"):
        auth.init(tmp_path)
    assert auth.creds_file(tmp_path, "admin").read_bytes() == before
    auth.init(tmp_path, force=True)
    assert auth.creds_file(tmp_path, "admin").read_bytes() != before


def test_init_refuses_bad_pool_names(tmp_path: Path) -> None:
    with pytest.raises(subjects.InvalidName):
        auth.init(tmp_path, pools=["a.>"])


def test_run_gives_each_service_its_own_identity(tmp_path: Path) -> None:
    with pytest.raises(auth.AuthError, match="auth init"):
        auth.service_identities(tmp_path)
    auth.init(tmp_path)
    ids = auth.service_identities(tmp_path)
    assert set(ids) == set(SERVICE_ROLES)
    for role in SERVICE_ROLES:
        assert Path(ids[role]["creds"]).name == f"{role}.creds"
    assert Path(ids["actuator"]["agent_signer"]).name == auth.AGENT_SIGNER
    assert Path(ids["policy"]["actors"]).name == auth.ACTORS


def test_only_the_admin_may_define_pools_or_reach_every_subject() -> None:
    table = roles()
    for name, role in table.items():
        reaches_all = ">" in role.publish or subjects.COMMAND in role.publish
        assert reaches_all == (name == "admin"), name
    assert "set_pool" not in subjects.COMMAND_KINDS[subjects.COMMAND_OPERATE]
    assert subjects.command_subject("set_pool") == subjects.COMMAND
    assert subjects.command_subject("scale") == subjects.COMMAND_OPERATE
    assert subjects.command_subject("list_pools") == subjects.COMMAND_READ


def test_submitter_pools_narrow_its_subjects() -> None:
    mine = roles(["a", "b"])["submitter"]
    assert "agentscaler.tasks.a" in mine.publish and "agentscaler.tasks.*" not in mine.publish
    assert not any(p.startswith("$JS.API.STREAM.MSG.GET") for p in mine.publish)  # by body: unlimitable


def test_the_security_page_shows_the_roles_of_the_code() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lacks the roles table markers"
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == markdown(), "docs/security.md's roles table differs from the code: paste markdown()'s output"


def test_every_bucket_and_stream_has_a_role_besides_the_admin() -> None:
    """A bucket or stream added to shared/subjects.py needs its readers and writers in shared/auth/roles.py."""
    granted = " ".join(p for name, role in roles().items() if name != "admin" for p in role.publish)
    names = [v for k, v in vars(subjects).items() if k.endswith(("_BUCKET", "_STREAM")) and isinstance(v, str)]
    assert names
    missing = [n for n in names if n not in granted]
    assert missing == [], f"no role may use {missing}: add them to shared/auth/roles.py"
