"""``auth init``'s files, and the roles table in docs/security.md kept equal to the code."""

from __future__ import annotations

import stat
from pathlib import Path

import nkeys
import pytest

from agentscaler.services.cli import auth
from agentscaler.shared import subjects
from agentscaler.shared.auth.inbox import public_key
from agentscaler.shared.auth.roles import ROLE_NAMES, SERVICE_ROLES, roles
from agentscaler.shared.auth.table import BEGIN, END, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_init_writes_a_private_seed_per_role_and_the_server_users(tmp_path: Path) -> None:
    written = auth.init(tmp_path / "keys")
    assert [p.name for p in written] == [f"{r}.nk" for r in ROLE_NAMES] + [auth.SERVER_CONF]
    conf = (tmp_path / "keys" / auth.SERVER_CONF).read_text()
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    keys = set()
    for role in ROLE_NAMES:
        seed = auth.seed_file(tmp_path / "keys", role).read_bytes()
        assert seed.startswith(b"SU")
        assert nkeys.from_seed(bytearray(seed.strip())).public_key.decode() == public_key(seed)
        keys.add(public_key(seed))
        assert f'"nkey": "{public_key(seed)}"' in conf
        assert (f'"_INBOX.{public_key(seed)}.>"' in conf) == (role != "admin")  # the admin reads everything
    assert len(keys) == len(ROLE_NAMES)


def test_init_keeps_existing_keys_unless_forced(tmp_path: Path) -> None:
    auth.init(tmp_path)
    before = auth.seed_file(tmp_path, "admin").read_bytes()
    with pytest.raises(auth.AuthError, match="--force"):
        auth.init(tmp_path)
    assert auth.seed_file(tmp_path, "admin").read_bytes() == before
    auth.init(tmp_path, force=True)
    assert auth.seed_file(tmp_path, "admin").read_bytes() != before


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
        assert Path(ids[role]["nkey"]).name == f"{role}.nk"
    assert Path(ids["actuator"]["agent_nkey"]).name == "agent.nk"


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
