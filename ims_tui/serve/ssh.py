"""``ims serve ssh``: the station app and the CLI over SSH, one process per session, on asyncssh.

Signing in: the application account's password (argon2, the same lockout, through
:mod:`ims_tui.services.auth`) or a public key registered with ``ims user key add``.  The SSH
user name is the application user name; that user is the app's signed-in user, so permissions
and the audit trail name the real person.

A session with a pty runs the app (:mod:`ims_tui.serve.child`) on a pty of its own: a new
session (``setsid``) with the pty as its controlling terminal, the client's terminal size
(``TIOCSWINSZ``, and again on every resize, which the kernel turns into SIGWINCH), the client's
TERM and COLORTERM, no stale COLUMNS/LINES.  A session with a command, or ``ssh -T``, runs the
CLI as that user.  A dropped connection sends the process SIGHUP (the app exits cleanly;
drafts are saved after every step) and SIGKILL if it lingers.  Caps per user and in total, an
idle timeout, and the start and end of each session (with the client's address) in the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import shlex
import signal
import struct
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ims_tui.config import Config, data_dir
from ims_tui.db.engine import Store
from ims_tui.serve.child import SPEC_ENV
from ims_tui.services.actor import Actor
from ims_tui.services.errors import AuthError, ImsError

HOST_KEY_NAME = "ssh_host_ed25519_key"
KILL_AFTER_SECONDS = 3.0
REMOTE_ENV = {"TEXTUAL_FPS": "30", "TEXTUAL_ANIMATIONS": "none", "ESCDELAY": "25"}
"""Remote sessions draw less often and skip animations (GUIDE section 11)."""
CLIENT_ENV = ("COLORTERM", "LANG", "LC_ALL", "LC_CTYPE", "NO_COLOR")


@dataclass
class SshSettings:
    host: str = "127.0.0.1"
    port: int = 2222
    host_key: Path | None = None
    max_sessions: int = 50
    max_per_user: int = 3
    idle_minutes: float = 30.0
    kiosk: bool = False


def load_host_key(path: Path | None) -> tuple[Path, asyncssh.SSHKey]:
    """The server's host key; made on first start (ed25519, 0600) in the data directory."""
    path = path or data_dir() / HOST_KEY_NAME
    if path.exists():
        return path, asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="ims serve ssh")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key())
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key())
    return path, key


@dataclass
class _Sessions:
    """Open sessions, counted per user and in total (the caps)."""

    total: int = 0
    per_user: dict[str, int] = field(default_factory=dict)

    def refusal(self, username: str, settings: SshSettings) -> str | None:
        if self.total >= settings.max_sessions:
            return f"the server is full ({settings.max_sessions} sessions): try again later"
        if self.per_user.get(username, 0) >= settings.max_per_user:
            return f"{username} already has {settings.max_per_user} sessions open: close one first"
        return None

    def open(self, username: str) -> None:
        self.total += 1
        self.per_user[username] = self.per_user.get(username, 0) + 1

    def close(self, username: str) -> None:
        self.total -= 1
        self.per_user[username] -= 1


class _Auth(asyncssh.SSHServer):
    """One connection's sign-in: password through the auth service, or a registered key."""

    def __init__(self, server: SshServer) -> None:
        self.server = server
        self.actor: Actor | None = None
        self.method = ""
        self.peer = "?"

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        conn.set_extra_info(ims_auth=self)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        from ims_tui.services.auth import sign_in

        config = self.server.config
        try:
            result = await asyncio.to_thread(
                sign_in, self.server.store, username, password, station=config.station,
                max_failed=config.max_failed_logins, lockout_minutes=config.lockout_minutes,
            )
        except ImsError:
            return False
        self.actor, self.method = result.actor, "password"
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        from ims_tui.services.ssh_keys import user_for_key

        owner = await asyncio.to_thread(user_for_key, self.server.store, key.public_data)
        if owner != username:
            return False
        self.method = "key"
        return True


class SshServer:
    def __init__(self, config: Config, store: Store, settings: SshSettings) -> None:
        self.config = config
        self.store = store
        self.settings = settings
        self.sessions = _Sessions()
        self.host_key_path, self.host_key = load_host_key(settings.host_key)
        self._server: asyncssh.SSHAcceptor | None = None
        self.children: set[int] = set()

    async def start(self) -> None:
        self._server = await asyncssh.create_server(
            lambda: _Auth(self), self.settings.host, self.settings.port,
            server_host_keys=[self.host_key], process_factory=self._session,
            line_editor=False, encoding=None, allow_scp=False, agent_forwarding=False,
            x11_forwarding=False, keepalive_interval=30, login_timeout=60,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Hang up every session (their apps exit cleanly), kill what is left after a grace time."""
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGHUP)
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        while self.children and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for pid in list(self.children):
            _end_group(pid)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- one session ---------------------------------------------------------------------------

    async def _session(self, process: asyncssh.SSHServerProcess) -> None:
        auth: _Auth = process.get_extra_info("connection").get_extra_info("ims_auth")
        username = process.get_extra_info("username")
        code = 1
        try:
            actor = await self._signed_in(auth, username)
        except ImsError as exc:
            process.stderr.write(f"error: {exc}\r\n".encode())
            process.exit(exc.exit_code)
            return
        refusal = self.sessions.refusal(actor.username, self.settings)
        if refusal is not None:
            process.stderr.write(f"error: {refusal}\r\n".encode())
            await asyncio.to_thread(self._audit, actor, "ssh.session.refused", f"from {auth.peer}: {refusal}")
            process.exit(1)
            return
        try:  # a store upgraded since the server started is refused here, not in the app
            await asyncio.to_thread(_check_schema, self.store)
        except ImsError as exc:
            process.stderr.write(f"error: {exc}\r\n".encode())
            process.exit(exc.exit_code)
            return
        self.sessions.open(actor.username)
        started = time.monotonic()
        kind = "app" if process.get_terminal_type() and not process.command else "command"
        reason = "ended"
        try:
            await asyncio.to_thread(self._audit, actor, "ssh.session.start",
                                    f"from {auth.peer} ({auth.method}; {kind}" + (f": {process.command}" if process.command else "") + ")")
            if kind == "app":
                code, reason = await self._run_app(process, actor)
            else:
                code, reason = await self._run_command(process, actor)
        finally:
            self.sessions.close(actor.username)
            with contextlib.suppress(ImsError):
                await asyncio.to_thread(self._audit, actor, "ssh.session.end",
                                        f"from {auth.peer}: {reason} after {time.monotonic() - started:.0f} s (exit {code})")
        with contextlib.suppress(Exception):
            process.exit(code)

    async def _signed_in(self, auth: _Auth, username: str) -> Actor:
        if auth.method == "password" and auth.actor is not None:
            return auth.actor
        if auth.method == "key":
            from ims_tui.services.auth import sign_in_verified

            config = self.config
            result = await asyncio.to_thread(sign_in_verified, self.store, username, method="ssh key", station=config.station,
                                             max_failed=config.max_failed_logins, lockout_minutes=config.lockout_minutes)
            return result.actor
        raise AuthError("not signed in")

    def _audit(self, actor: Actor, action: str, summary: str) -> None:
        from ims_tui.services.auth import record_session

        record_session(self.store, actor, action, summary)

    def _spec(self, actor: Actor, mode: str, argv: list[str] | None = None) -> str:
        return json.dumps({"mode": mode, "db": self.config.database_url, "station": self.config.station,
                           "user": actor.username, "kiosk": self.settings.kiosk, "argv": argv or []})

    def _env(self, process: asyncssh.SSHServerProcess, term: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES", "IMS_PASSWORD")}
        client = process.env or {}
        for key in CLIENT_ENV:
            env.pop(key, None)
            if key in client:
                env[key] = str(client[key])
        if term:
            env["TERM"] = term
        env.update(REMOTE_ENV)
        return env

    async def _run_command(self, process: asyncssh.SSHServerProcess, actor: Actor) -> tuple[int, str]:
        if process.command:
            try:
                argv = shlex.split(process.command)
            except ValueError as exc:
                process.stderr.write(f"error: {exc}\n".encode())
                return 2, "bad command"
            spec = self._spec(actor, "cli", argv)
        else:
            spec = self._spec(actor, "batch")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ims_tui.serve.child",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**self._env(process, None), SPEC_ENV: spec}, start_new_session=True,
        )
        self.children.add(child.pid)

        async def copy_out(source: asyncio.StreamReader, target: asyncssh.SSHWriter) -> None:
            while data := await source.read(65536):
                with contextlib.suppress(OSError, asyncssh.Error):  # the client left: drain anyway
                    target.write(data)

        async def copy_in() -> str:
            assert child.stdin is not None
            while True:
                try:
                    data = await process.stdin.read(65536)
                except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived, asyncssh.SignalReceived):
                    continue
                except (asyncssh.Error, OSError):
                    return "connection lost"
                if not data:
                    with contextlib.suppress(OSError):
                        child.stdin.close()
                    await asyncio.Event().wait()  # input ended; the command carries on
                try:
                    child.stdin.write(data)
                    await child.stdin.drain()
                except OSError:  # the command stopped reading
                    await asyncio.Event().wait()

        outputs = asyncio.gather(copy_out(child.stdout, process.stdout), copy_out(child.stderr, process.stderr))
        feeding = asyncio.create_task(copy_in())
        try:
            done, _ = await asyncio.wait({outputs, feeding}, return_when=asyncio.FIRST_COMPLETED)
            if feeding in done:  # the client went away mid-command
                _end_group(child.pid)
                await child.wait()
                return 255, "connection lost"
            code = await child.wait()
            return code, "command done"
        finally:
            feeding.cancel()
            outputs.cancel()
            self.children.discard(child.pid)

    async def _run_app(self, process: asyncssh.SSHServerProcess, actor: Actor) -> tuple[int, str]:
        width, height, *_ = process.get_terminal_size()
        master, slave = pty.openpty()
        _set_size(slave, width or 80, height or 24)
        spec = self._spec(actor, "app")

        def controlling_tty() -> None:  # in the child, before exec: own session, the pty as its terminal
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ims_tui.serve.child",
            stdin=slave, stdout=slave, stderr=slave, env={**self._env(process, process.get_terminal_type()), SPEC_ENV: spec},
            preexec_fn=controlling_tty, close_fds=True,
        )
        os.close(slave)
        self.children.add(child.pid)
        loop = asyncio.get_running_loop()
        output_done = asyncio.Event()
        last_input = time.monotonic()

        def readable() -> None:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(master)
                output_done.set()
                return
            try:
                process.stdout.write(data)
            except (OSError, asyncssh.Error):  # the client is gone: keep draining, the app is ending
                return
            # back-pressure: read more only when the client has taken this, so a slow link slows
            # the app (it blocks on its pty) instead of filling the server's memory
            loop.remove_reader(master)
            draining.add(asyncio.create_task(resume_reading()))

        async def resume_reading() -> None:
            with contextlib.suppress(OSError, asyncssh.Error):
                await process.stdout.drain()
            draining.difference_update({task for task in draining if task.done()})
            if not output_done.is_set() and not closing:
                loop.add_reader(master, readable)

        draining: set[asyncio.Task] = set()
        closing = False
        loop.add_reader(master, readable)

        async def pump_input() -> str:
            nonlocal last_input
            while True:
                try:
                    data = await process.stdin.read(65536)
                except asyncssh.TerminalSizeChanged as change:
                    _set_size(master, change.width, change.height)
                    continue
                except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                    continue
                except (asyncssh.Error, OSError):
                    return "connection lost"
                if not data:
                    return "connection lost"
                last_input = time.monotonic()
                await asyncio.to_thread(_write_all, master, data) if len(data) > 4096 else _write_all(master, data)

        async def idle_watch() -> str:
            limit = self.settings.idle_minutes * 60
            while True:
                await asyncio.sleep(min(30.0, max(limit / 4, 0.2)))
                if limit > 0 and time.monotonic() - last_input >= limit:
                    return "idle timeout"

        reader = asyncio.create_task(pump_input())
        idle = asyncio.create_task(idle_watch())
        exited = asyncio.create_task(child.wait())
        try:
            done, _ = await asyncio.wait({reader, idle, exited}, return_when=asyncio.FIRST_COMPLETED)
            if exited in done:
                reason = "app closed"
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(output_done.wait(), 1.0)
            else:
                reason = reader.result() if reader in done else idle.result()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGHUP)
                try:
                    await asyncio.wait_for(asyncio.shield(exited), KILL_AFTER_SECONDS)
                except asyncio.TimeoutError:
                    _end_group(child.pid)
                    await exited
            code = exited.result()
            if reason == "idle timeout":  # after the app has left the screen, so it stays readable
                with contextlib.suppress(OSError, asyncssh.Error):
                    process.stdout.write(b"\r\nims: session closed after the idle timeout\r\n")
        finally:
            closing = True
            for task in (reader, idle, *draining):
                task.cancel()
            loop.remove_reader(master)
            os.close(master)
            self.children.discard(child.pid)
        if code < 0:
            reason += f" (signal {-code})" if reason == "app closed" else ""
            code = 128 - code
        return code, reason


def _check_schema(store: Store) -> None:
    from ims_tui.db import schema

    schema.ensure_current(store)


def _set_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        view = view[written:]


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def serve(config: Config, store: Store, settings: SshSettings) -> None:
    server = SshServer(config, store, settings)
    await server.start()
    print(f"ims serve ssh: listening on {settings.host}:{server.port} "
          f"(host key {server.host_key_path}, fingerprint {server.host_key.get_fingerprint()})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
