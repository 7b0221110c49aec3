"""``ims user key add|list|remove`` and the key service, on both backends."""

from __future__ import annotations

import getpass
import io
import json
import subprocess

import pytest

from ims_tui.cli.main import main
from ims_tui.services import ssh_keys, users
from ims_tui.services.actor import Actor
from ims_tui.services.audit_log import AuditFilter, browse
from ims_tui.services.auth import AccountLocked, sign_in, sign_in_verified
from ims_tui.services.errors import AuthError, BadInput, PermissionDenied, RuleViolation
from tests.auth_support import PASSWORD, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import open_store

pytestmark = pytest.mark.usefixtures("fast_hashing")
ADMIN = Actor("root", "admin", "test")


def keygen(tmp_path, name: str):
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@pc", "-f", str(path)], check=True)
    return path


def openssh_fingerprint(pub) -> str:
    return subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True).stdout.split()[1]


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    add_user(store, "rita", "receiver")
    add_user(store, "pete", "picker")
    store.dispose()
    return store_url


def run(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_add_list_remove_with_openssh_fingerprints(capsys, monkeypatch, url, tmp_path):
    key = keygen(tmp_path, "rita")
    fingerprint = openssh_fingerprint(f"{key}.pub")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "key", "add", "rita", f"{key}.pub")
    assert (code, out) == (0, f"key {fingerprint} (ssh-ed25519) added to rita\n")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "key", "list", "rita", "--json")
    assert json.loads(out) == [{"username": "rita", "fingerprint": fingerprint, "type": "ssh-ed25519", "comment": "rita@pc"}]
    code, out, err = run(capsys, monkeypatch, "--db", url, "user", "key", "add", "pete", "-", stdin=(tmp_path / "rita.pub").read_text())
    assert code == 1 and err == f"error: key {fingerprint} is already registered to another user\n"
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "key", "remove", "rita", fingerprint)
    assert (code, out) == (0, f"key {fingerprint} removed from rita\n")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "key", "list", "rita")
    assert out == "rita has no keys\n"
    store = open_store(url)
    rows = browse(store, ADMIN, AuditFilter(action="user.key")).rows
    assert [(row.action, row.target, row.username) for row in rows][:2] == [
        ("user.key.remove", "rita", "cli:" + getpass.getuser()), ("user.key.add", "rita", "cli:" + getpass.getuser())]
    store.dispose()


@pytest.mark.parametrize(("content", "message"), [
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "is a private key: give the .pub file"),
    ("hello world\n", "not an OpenSSH public key line"),
    ("ssh-ed25519 AAAA!!!\n", "base64 part is damaged"),
    ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIB6pIJJSmF0Q9M4LFi0v4hZ6IG0D6I1XOrXGVxOSfjXY x\n", "type does not match"),
    ("", "no public key in the file"),
])
def test_bad_key_files_are_one_line_exit_2_and_change_nothing(capsys, monkeypatch, url, tmp_path, content, message):
    path = tmp_path / "bad.pub"
    path.write_text(content)
    code, out, err = run(capsys, monkeypatch, "--db", url, "user", "key", "add", "rita", str(path))
    assert code == 2 and message in err and err.count("\n") == 1
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "key", "list", "rita")
    assert out == "rita has no keys\n"
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "key", "add", "rita", str(tmp_path / "missing.pub"))
    assert code == 2 and "cannot read" in err


def test_only_administrators_manage_other_users_keys_and_users_their_own(url, tmp_path):
    store = open_store(url)
    pete = sign_in(store, "pete", PASSWORD, station="t").actor
    rita_key = ssh_keys.read_public_key_file(f"{keygen(tmp_path, 'rita')}.pub")
    with pytest.raises(PermissionDenied):
        ssh_keys.add_key(store, pete, "rita", rita_key)
    with pytest.raises(PermissionDenied):
        ssh_keys.list_keys(store, pete, "rita")
    own = ssh_keys.read_public_key_file(f"{keygen(tmp_path, 'pete')}.pub")
    assert ssh_keys.add_key(store, pete, "pete", own).username == "pete"
    with pytest.raises(RuleViolation, match="already registered to this user"):
        ssh_keys.add_key(store, ADMIN, "pete", own)
    assert ssh_keys.user_for_key(store, own.blob) == "pete"
    users.disable(store, ADMIN, "pete")
    assert ssh_keys.user_for_key(store, own.blob) is None  # a disabled account's keys open nothing
    with pytest.raises(BadInput, match="unknown user"):
        ssh_keys.add_key(store, ADMIN, "nobody", rita_key)
    store.dispose()


def test_key_sign_in_is_audited_and_respects_a_lockout(url):
    store = open_store(url)
    result = sign_in_verified(store, "rita", method="ssh key", station="ssh")
    assert result.actor.username == "rita" and result.actor.user_id is not None
    for _ in range(3):
        with pytest.raises(AuthError):
            sign_in(store, "rita", "wrong-password", station="t", max_failed=3)
    with pytest.raises(AccountLocked):
        sign_in_verified(store, "rita", method="ssh key", station="ssh", max_failed=3)
    rows = browse(store, ADMIN, AuditFilter(action="signin", username="rita")).rows
    assert [(row.action, row.summary) for row in rows if row.action in ("signin", "signin.refused")][-1] == ("signin", "ssh key")
    assert any(row.action == "signin.refused" and row.summary == "ssh key: account locked" for row in rows)
    store.dispose()
