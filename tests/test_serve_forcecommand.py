"""The OpenSSH way: a real sshd (Debian's openssh-server) on a loopback port with the README's
ForceCommand recipe; the connecting login gets the kiosk app, signed in as its namesake user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app_helpers import stock_the_store
from tests.auth_support import add_user, use_cheap_hasher
from tests.conftest import open_store
from tests.serve_support import TMUX, Terminal, free_port, make_key, session_processes, ssh_args, wait_for, wait_for_port

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
LOGIN = pwd.getpwuid(os.getuid()).pw_name
pytestmark = pytest.mark.skipif(SSHD is None or TMUX is None or os.getuid() != 0,
                                reason="needs openssh-server and tmux (.ci/system-packages), and root to run sshd")

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
PidFile {tmp}/sshd.pid
AuthorizedKeysFile {tmp}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {login}
# the recipe (README, "The OpenSSH way")
PermitTTY yes
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
ForceCommand {command}
"""


@pytest.fixture
def sshd(sqlite_url, tmp_path, monkeypatch):
    use_cheap_hasher(monkeypatch)
    store = open_store(sqlite_url)
    stock_the_store(store)
    add_user(store, LOGIN, "receiver")
    store.dispose()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key")], check=True)
    key = make_key(tmp_path, "client")
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    port = free_port()
    command = f"env IMS_CONFIG={tmp_path}/none.toml {sys.executable} -m ims_tui --db {sqlite_url} --kiosk --login-user"
    config = tmp_path / "sshd_config"
    config.write_text(SSHD_CONFIG.format(port=port, tmp=tmp_path, login=LOGIN, command=command))
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=(tmp_path / "sshd.log").open("w"))
    try:
        wait_for_port(port)
        yield port, key, process
    finally:
        process.terminate()
        process.wait(10)


def test_force_command_gives_the_login_its_kiosk_signed_in_and_a_drop_ends_it(sshd, sqlite_url):
    port, key, process = sshd
    term = Terminal(ssh_args(port, LOGIN, key=key) + ["-tt"])
    try:
        term.wait_text(f"Signed in as {LOGIN} (receiver)")
        term.keys("C-q")
        term.wait_text("does nothing on this kiosk")
        assert "[exit" not in term.text()
        wait_for(lambda: session_processes(process.pid), what="the app under sshd")
    finally:
        term.close()
    wait_for(lambda: not session_processes(process.pid), 15, "the app to end with the connection")
    # whatever command the client asks for, the ForceCommand runs the kiosk, which needs a terminal
    result = subprocess.run(ssh_args(port, LOGIN, key=key) + ["sh", "-c", "echo escaped"],
                            capture_output=True, text=True, timeout=60)
    assert "escaped" not in result.stdout
    assert (result.returncode, result.stderr) == (2, "error: the kiosk needs a terminal (over ssh: ssh -t)\n")
