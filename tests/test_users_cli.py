"""``ims user ...``: secrets only from stdin or a prompt, exit codes, and ``--user`` permissions."""

from __future__ import annotations

import io
import json

import pytest

from ims_tui.cli.main import main
from ims_tui.services import auth
from tests.auth_support import PASSWORD, fast_hashing  # noqa: F401 - fixture
from tests.conftest import open_store

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def url(store_url):
    open_store(store_url).dispose()
    return store_url


def run(capsys, monkeypatch, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_add_list_and_sign_in_with_the_new_user(capsys, monkeypatch, url):
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "receiver",
                       "--full-name", "Rita R", "--password-stdin", "--badge", "BADGE-0042", "--pin-stdin",
                       stdin=f"{PASSWORD}\n4711\n")
    assert (code, out) == (0, "user rita added as receiver with badge BADGE-0042\n")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["username"], listed["role"], listed["badge"], listed["active"], listed["locked"]) == (
        "rita", "receiver", "BADGE-0042", True, False)
    assert not any("hash" in key for key in listed)
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "list")
    assert "rita" in out and "receiver" in out and "never" in out
    from ims_tui.db.engine import Store

    store = Store(url)
    assert auth.sign_in_badge(store, "BADGE-0042", "4711", station="s").actor.username == "rita"
    store.dispose()


def test_a_password_is_never_an_argument(capsys, monkeypatch, url):
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "picker", "--password", PASSWORD)
    assert code == 2 and err.startswith("error: unrecognized arguments")
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "picker")
    assert code == 2 and err == "error: no password: use --password-stdin, or run from a terminal to be asked\n"


def test_bad_input_is_exit_2_and_changes_nothing(capsys, monkeypatch, url):
    assert run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "boss", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 2
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "picker", "--password-stdin",
                       stdin="short\n")
    assert (code, err) == (2, "error: a password needs at least 8 characters\n")
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "add", "rita", "--role", "picker", "--password-stdin")
    assert code == 2 and "no password on stdin" in err
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "disable", "ghost")
    assert (code, err) == (2, "error: unknown user 'ghost'\n")
    assert json.loads(run(capsys, monkeypatch, "--db", url, "user", "list", "--json")[1]) == []


def add(capsys, monkeypatch, url, name, role, password=PASSWORD):
    assert run(capsys, monkeypatch, "--db", url, "user", "add", name, "--role", role, "--password-stdin",
               stdin=password + "\n")[0] == 0


def test_user_option_applies_that_users_role(capsys, monkeypatch, url):
    add(capsys, monkeypatch, url, "adam", "admin")
    add(capsys, monkeypatch, url, "pat", "picker")
    as_pat = ("--db", url, "--user", "pat")
    code, _, err = run(capsys, monkeypatch, *as_pat, "user", "list", env={"IMS_PASSWORD": PASSWORD})
    assert (code, err) == (3, "error: permission denied: role picker may not manage users\n")
    code, _, err = run(capsys, monkeypatch, *as_pat, "user", "role", "pat", "admin", env={"IMS_PASSWORD": PASSWORD})
    assert code == 3
    code, _, err = run(capsys, monkeypatch, *as_pat, "user", "list", env={"IMS_PASSWORD": "wrong-password"})
    assert (code, err) == (3, f"error: {auth.FAILED_PASSWORD}\n")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "--user", "adam", "user", "role", "pat", "receiver",
                       env={"IMS_PASSWORD": PASSWORD})
    assert (code, out) == (0, "user pat is now receiver\n")


def test_own_password_change_with_user_option(capsys, monkeypatch, url):
    add(capsys, monkeypatch, url, "pat", "picker")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "--user", "pat", "user", "passwd", "pat", "--password-stdin",
                       stdin="pats-new-password\n", env={"IMS_PASSWORD": PASSWORD})
    assert (code, out) == (0, "password of pat changed\n")
    code, _, _ = run(capsys, monkeypatch, "--db", url, "--user", "pat", "user", "passwd", "pat", "--password-stdin",
                     stdin="again-new-password\n", env={"IMS_PASSWORD": PASSWORD})
    assert code == 3  # the old password no longer signs in


def test_lockout_disable_unlock_role_and_badge(capsys, monkeypatch, url):
    add(capsys, monkeypatch, url, "adam", "admin")
    add(capsys, monkeypatch, url, "pat", "picker")
    for _ in range(5):
        run(capsys, monkeypatch, "--db", url, "--user", "pat", "user", "list", env={"IMS_PASSWORD": "wrong-password"})
    code, _, err = run(capsys, monkeypatch, "--db", url, "--user", "pat", "user", "list", env={"IMS_PASSWORD": PASSWORD})
    assert code == 3 and "locked until" in err
    assert "locked until" in run(capsys, monkeypatch, "--db", url, "user", "list")[1]
    assert run(capsys, monkeypatch, "--db", url, "user", "unlock", "pat")[1] == "user pat unlocked\n"
    assert run(capsys, monkeypatch, "--db", url, "user", "disable", "pat")[1] == "user pat disabled\n"
    code, _, err = run(capsys, monkeypatch, "--db", url, "--user", "pat", "user", "list", env={"IMS_PASSWORD": PASSWORD})
    assert (code, err) == (3, f"error: {auth.FAILED_PASSWORD}\n")
    assert run(capsys, monkeypatch, "--db", url, "user", "enable", "pat")[0] == 0
    code, _, err = run(capsys, monkeypatch, "--db", url, "user", "disable", "adam")
    assert (code, err) == (1, "error: adam is the last active administrator; make another one first\n")
    code, out, _ = run(capsys, monkeypatch, "--db", url, "user", "badge", "pat", "BADGE-0007", "--pin-stdin", stdin="24680\n")
    assert (code, out) == (0, "pat now signs in with badge BADGE-0007 and a PIN\n")
    assert run(capsys, monkeypatch, "--db", url, "user", "badge", "pat", "--remove")[0] == 0
    assert json.loads(run(capsys, monkeypatch, "--db", url, "user", "list", "--json")[1])[1]["badge"] is None
