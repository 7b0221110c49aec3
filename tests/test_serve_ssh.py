"""`ims serve ssh` through the real OpenSSH client: keys, passwords, lockout, the app on a pty,
resizes, command mode with the user's permissions, caps, crashes and dropped connections."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from decimal import Decimal

import pytest

from ims_tui.services import purchasing, ssh_keys, users
from ims_tui.services.actor import Actor
from ims_tui.services.audit_log import AuditFilter, browse
from ims_tui.services.purchasing import LineInput
from tests.auth_support import use_cheap_hasher
from tests.conftest import open_store
from tests.serve_support import Server, Terminal, askpass_env, make_key, needs_ssh, ssh_args, wait_for
from tests.test_purchasing_service import MANAGER, setup_catalogue

pytestmark = needs_ssh
ADMIN = Actor("root", "admin", "test")
AUDITOR = Actor("auditor-x", "auditor", "test")


SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""The terminal tests need one backend; command mode and the lockout run on both."""


@pytest.fixture
def shop(store_url, monkeypatch, tmp_path):
    """A store with a catalogue, rita (receiver) with a registered key, mona (manager), pete (picker)."""
    use_cheap_hasher(monkeypatch)
    store = open_store(store_url)
    setup_catalogue(store)
    users.add_user(store, ADMIN, "pete", "picker", "picker-pass-1")
    key = make_key(tmp_path, "rita_key")
    ssh_keys.add_key(store, ADMIN, "rita", ssh_keys.read_public_key_file(f"{key}.pub"))
    store.key_path = key  # type: ignore[attr-defined]
    yield store
    store.dispose()


@pytest.fixture
def server(shop, tmp_path):
    started = Server(tmp_path, shop.url, "ssh", "--max-per-user", "2",
                     config="[security]\nmax_failed_logins = 3\nlockout_minutes = 10\n")
    yield started
    started.stop()


def run_ssh(server, user, *command, key=None, password=None, tmp_path=None, stdin=""):
    env = askpass_env(tmp_path, password) if password is not None else None
    return subprocess.run(ssh_args(server.port, user, key=key, password=password is not None) + list(command),
                          capture_output=True, text=True, timeout=60, env=env, input=stdin)


def audit_rows(store, action):
    return browse(store, ADMIN, AuditFilter(action=action)).rows


@SQLITE_ONLY
def test_key_sign_in_drives_the_app_and_a_dropped_receipt_resumes(shop, server):
    number = purchasing.order_po(shop, MANAGER, purchasing.create_po(
        shop, MANAGER, "Acme Supplies", [LineInput("PLAIN", Decimal(24))]).number).number
    term = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"])
    try:
        term.wait_text("Signed in as rita (receiver)")  # no sign-in screen: the key was the sign-in
        term.keys("F3")
        term.wait_text("Scan the PO")
        term.scan(number)  # wedge bursts: each one write, as a scanner types
        term.wait_text("Scan an item")
        term.scan("14006381333938")
        term.wait_text("Scan the bin")
        term.scan("A-01")
        term.wait_text("12 PLAIN -> A-01")  # the putaway line: "12" alone is on screen before the bin is taken
        term.scan("4006381333931")  # the next item: scanned, its bin not yet
        wait_for(lambda: "Scan the bin" in term.text(), what="the next putaway prompt")
    finally:
        term.close()  # the connection drops mid-receipt
    wait_for(lambda: not server.children(), 10, "the session process to end")
    end = wait_for(lambda: audit_rows(shop, "ssh.session.end"), 10, "the session end in the audit log")[0]
    assert end.username == "rita" and "connection lost" in end.summary and "exit 0" in end.summary
    start = audit_rows(shop, "ssh.session.start")[0]
    assert "from 127.0.0.1:" in start.summary and "key; app" in start.summary

    again = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"])
    try:
        again.wait_text("Signed in as rita")
        again.keys("F3")
        again.wait_text("resumed your open receipt")
        screen = again.wait_text("Scan the bin")  # the item scanned before the drop still waits for its bin
        assert number in screen and "12 scan" in screen
    finally:
        again.close()


def test_password_sign_in_wrong_password_counts_and_locks_out(shop, server, tmp_path):
    ok = run_ssh(server, "mona", "ims", "stock", "show", "PLAIN", password="manager-pass-1", tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "PLAIN" in ok.stdout
    wrong = run_ssh(server, "mona", "ims", "info", password="not-the-password", tmp_path=tmp_path)
    assert wrong.returncode == 255 and "Permission denied" in wrong.stderr
    assert users.get_user(shop, ADMIN, "mona").failed_attempts == 1  # the same counter as the station's
    for _ in range(2):
        run_ssh(server, "mona", "ims", "info", password="still-wrong", tmp_path=tmp_path)
    assert users.get_user(shop, ADMIN, "mona").is_locked()
    locked = run_ssh(server, "mona", "ims", "info", password="manager-pass-1", tmp_path=tmp_path)
    assert locked.returncode == 255  # the right password no longer gets in
    assert [row.outcome for row in audit_rows(shop, "signin.refused")] == ["locked"]


@SQLITE_ONLY
def test_an_unregistered_key_is_refused_and_a_removed_key_stops_working(shop, server, tmp_path):
    stranger = make_key(tmp_path, "stranger")
    refused = run_ssh(server, "rita", "ims", "info", key=stranger)
    assert refused.returncode == 255 and "Permission denied" in refused.stderr
    # rita's own key does not sign in as anyone else
    assert run_ssh(server, "mona", "ims", "info", key=shop.key_path).returncode == 255
    fingerprint = ssh_keys.list_keys(shop, ADMIN, "rita")[0].fingerprint
    ssh_keys.remove_key(shop, ADMIN, "rita", fingerprint)
    assert run_ssh(server, "rita", "ims", "info", key=shop.key_path).returncode == 255


def test_commands_run_as_the_signed_in_user_with_their_permissions(shop, server, tmp_path):
    shown = run_ssh(server, "rita", "ims", "stock", "show", "PLAIN", key=shop.key_path)
    assert shown.returncode == 0, shown.stderr
    denied = run_ssh(server, "rita", "ims", "user", "list", key=shop.key_path)
    assert denied.returncode == 3 and denied.stderr.startswith("error: permission denied")
    assert [(row.username, row.outcome) for row in audit_rows(shop, "manage_users")] == [("rita", "denied")]
    sneaky = run_ssh(server, "rita", "ims", "--user", "mona", "user", "list", key=shop.key_path)
    assert sneaky.returncode == 2 and "cannot be given over ssh" in sneaky.stderr
    # ssh -T without a command: each line of input is one command, run as rita
    batch = run_ssh(server, "rita", "-T", key=shop.key_path, stdin="stock show PLAIN\nuser list\n")
    assert batch.returncode == 3 and "PLAIN" in batch.stdout


@SQLITE_ONLY
def test_resize_reaches_the_app_and_the_terminal_type_is_the_clients(shop, server):
    term = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"], width=80, height=24)
    try:
        term.wait_text("Signed in as rita")
        assert max(len(line) for line in term.text().splitlines()) <= 80
        term.resize(132, 40)
        wait_for(lambda: max(len(line) for line in term.text().splitlines()) > 120, 10, "the app to redraw at 132 columns")
        children = server.children()
        assert len(children) == 1
        env = dict(item.split("=", 1) for item in open(f"/proc/{children[0]}/environ").read().split("\0") if "=" in item)
        assert env["TERM"] == "tmux-256color" or env["TERM"].startswith(("screen", "tmux"))
        assert "COLUMNS" not in env and "LINES" not in env
    finally:
        term.close()


@SQLITE_ONLY
def test_the_session_cap_refuses_with_a_message_and_a_crash_ends_one_session_only(shop, server):
    first = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"])
    second = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"])
    try:
        first.wait_text("Signed in as rita")
        second.wait_text("Signed in as rita")
        third = run_ssh(server, "rita", "ims", "info", key=shop.key_path)
        assert third.returncode == 1 and "rita already has 2 sessions open" in third.stderr
        victim, survivor = sorted(server.children())
        os.kill(victim, signal.SIGKILL)  # one app crashes
        wait_for(lambda: server.children() == [survivor], 10, "the crashed session to end")
        live = first if "[exit" not in first.text() else second
        wait_for(lambda: "[exit" in first.text() or "[exit" in second.text(), 10, "one client to be disconnected")
        live = second if "[exit" in first.text() else first
        live.keys("F2")  # the other session still answers keys
        live.wait_text("Lookup")
        assert server.process.poll() is None
    finally:
        first.close()
        second.close()
    ends = audit_rows(shop, "ssh.session.end")
    assert any("signal 9" in row.summary or "exit 137" in row.summary for row in ends)


@SQLITE_ONLY
def test_idle_sessions_close_the_total_cap_holds_and_the_host_key_is_kept_private(shop, tmp_path):
    server = Server(tmp_path, shop.url, "ssh", "--idle-minutes", "0.1", "--max-sessions", "1")
    try:
        key_file = tmp_path / "data" / "ims-tui" / "ssh_host_ed25519_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        first_key = key_file.read_bytes()
        term = Terminal(ssh_args(server.port, "rita", key=shop.key_path) + ["-tt"])
        try:
            wait_for(server.children, 10, "rita's session")  # open (the idle clock runs from its start)
            full = run_ssh(server, "mona", "ims", "info", password="manager-pass-1", tmp_path=tmp_path)
            assert full.returncode == 1 and "the server is full (1 sessions)" in full.stderr
            term.wait_text("session closed after the idle timeout", timeout=30)
            term.wait_text("[exit")
        finally:
            term.close()
        end = wait_for(lambda: audit_rows(shop, "ssh.session.end"), 10, "the session end")[0]
        assert "idle timeout" in end.summary
    finally:
        server.stop()
    again = Server(tmp_path, shop.url, "ssh")  # a restart keeps the host key
    again.stop()
    assert key_file.read_bytes() == first_key


@pytest.mark.parametrize("kind", ["ssh", "web"])
def test_a_bad_address_or_a_taken_port_is_one_line_and_exit_2(kind, sqlite_url, tmp_path, monkeypatch, capsys):
    import socket

    from ims_tui.cli.main import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["--db", sqlite_url, "serve", kind, "--listen", "host:port"]) == 2
    assert capsys.readouterr().err == f"error: argument --listen: not HOST:PORT: 'host:port' (see 'ims serve {kind} --help')\n"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--db", sqlite_url, "serve", kind, "--listen", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and err.count("\n") == 1


@SQLITE_ONLY
def test_a_store_migrated_under_the_server_refuses_new_sessions_with_exit_4(shop, server):
    from sqlalchemy import text

    with shop.write() as session:  # as if another program had moved the schema on
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    refused = run_ssh(server, "rita", "ims", "info", key=shop.key_path)
    assert refused.returncode == 4 and "newer than this program knows" in refused.stderr
