"""Helpers for the serving tests: a real `ims serve ssh|web` process, the real OpenSSH client in a
real terminal (tmux), free ports, and waits that poll instead of sleeping blindly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

SSH = shutil.which("ssh")
TMUX = shutil.which("tmux")
needs_ssh = pytest.mark.skipif(SSH is None or TMUX is None, reason="needs the OpenSSH client and tmux (.ci/system-packages)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    def open_() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(open_, timeout, f"port {port}")


class Server:
    """`ims --db URL serve KIND ...` in a process of its own, with its own data and config dirs."""

    def __init__(self, tmp: Path, url: str, kind: str, *args: str, config: str = "") -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{kind}.log"
        (tmp / "config").mkdir(exist_ok=True)
        station = tmp / "config" / "station.toml"
        station.write_text(config)
        self.env = {**os.environ, "XDG_DATA_HOME": str(tmp / "data"), "IMS_CONFIG": str(station)}
        self.env.pop("IMS_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ims_tui", "--db", url, "--station", "serve-test", "serve", kind,
             "--listen", f"127.0.0.1:{self.port}", *args],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=self.env,
        )
        try:
            wait_for_port(self.port)
        except AssertionError:
            self.stop()
            raise AssertionError(f"the server did not start: {self.log.read_text()}") from None

    def children(self) -> list[int]:
        """The session processes the server started (one per session)."""
        return session_processes(self.process.pid, direct=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def session_processes(root: int, *, direct: bool = False) -> list[int]:
    """Live ``ims_tui.serve.child`` processes started by ``root`` (or anywhere below it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"ims_tui.serve.child" not in cmdline or state == "Z":
            continue
        pid = parent_of(int(entry.name))
        while pid > 1 and pid != root and not direct:
            pid = parent_of(pid)
        if pid == root:
            found.append(int(entry.name))
    return found


def ssh_args(port: int, user: str, *, key: Path | None = None, password: bool = False) -> list[str]:
    args = [SSH or "ssh", "-p", str(port), "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none", "-o", "ConnectTimeout=10", "-o", "NumberOfPasswordPrompts=1"]
    if key is not None:
        args += ["-i", str(key), "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no"]
    if password:
        args += ["-o", "PubkeyAuthentication=no", "-o", "KbdInteractiveAuthentication=no"]
    return args + [f"{user}@127.0.0.1"]


def askpass_env(tmp: Path, password: str) -> dict[str, str]:
    """The ssh client reads the password from an askpass program (no terminal needed)."""
    script = tmp / f"askpass-{uuid.uuid4().hex[:8]}"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{password}'\n")
    script.chmod(0o700)
    return {**os.environ, "SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"}


def make_key(tmp: Path, name: str) -> Path:
    path = tmp / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(path)], check=True)
    return path


class Terminal:
    """A real terminal (a pane of a tmux server of its own, started with ``env``) running a command."""

    def __init__(self, command: list[str], width: int = 80, height: int = 24, env: dict[str, str] | None = None) -> None:
        self.name = f"serve-{uuid.uuid4().hex[:10]}"
        self.socket = Path(tempfile.mkdtemp(prefix="serve-tmux-")) / "s"
        line = " ".join(_quote(part) for part in command)
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                   f"{line}; echo '[exit '$?']'; sleep 60", env=env)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX or "tmux", "-S", str(self.socket), "-f", "/dev/null", *args],
                              capture_output=True, text=True, env=env)

    def text(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def pane_pid(self) -> int:
        return int(self._tmux("list-panes", "-t", self.name, "-F", "#{pane_pid}").stdout.split()[0])

    def wait_text(self, needle: str, timeout: float = 20.0) -> str:
        wait_for(lambda: needle in self.text(), timeout, f"{needle!r} on the screen:\n{self.text()}")
        return self.text()

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        """Literal text in one write, as a wedge scanner's burst arrives."""
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def scan(self, text: str) -> None:
        self.type(text + "\r")

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))

    def close(self) -> None:
        self._tmux("kill-server")
        shutil.rmtree(self.socket.parent, ignore_errors=True)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
