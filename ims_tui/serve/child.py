"""One served session's process: the station app or one CLI command, as a user the server signed in.

Started by ``ims serve ssh``, ``ims serve web`` and the kiosk supervisor as
``python -m ims_tui.serve.child`` with SPEC in the environment variable ``IMS_SERVE_SPEC`` (not
on the command line, where ``ps`` would show the store's URL to every local user), or as the
one argument.  SPEC is JSON::

    {"mode": "app" | "cli" | "batch", "db": URL, "station": NAME,
     "user": NAME or null, "kiosk": bool, "argv": [...]}

Why a user name on the command line is not a way in: whoever can start this module on the server
can already run ``ims`` as the local operator, who has administrator rights.  The server passes
the name only after the user proved who they are (password or registered key); the account is
read again here, so a disabled user gets nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
import threading
from typing import Any

from ims_tui.services.errors import AuthError, ImsError

SPEC_ENV = "IMS_SERVE_SPEC"
EXIT_GRACE_SECONDS = 5.0
PR_SET_PDEATHSIG = 1
FORBIDDEN_OPTIONS = ("--db", "--user", "--kiosk")
"""Options a served command may not give: the server decides the store and the user."""


def _actor(store: Any, username: str, station: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ims_tui.db.models import User
    from ims_tui.services.actor import Actor

    with store.read() as session:
        row = session.execute(select(User.id, User.role, User.active).where(User.username == username)).one_or_none()
    if row is None or not row.active:
        raise AuthError(f"account {username} is disabled or gone")
    return Actor(username, row.role, station, row.id)


_running_app: list[Any] = []
"""The app of this process, once made (for the hang-up handler)."""


def _leave(signum: int, frame: Any) -> None:
    """SIGHUP (the connection dropped) or SIGTERM (the server stops): end cleanly.

    Drafts are saved after every step, so nothing is lost.  Before the app runs there is
    nothing to close; while it starts, it is asked again until it can exit.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        os._exit(0)
    # a last resort: an app that cannot finish exiting must not outlive its session
    last_resort = threading.Timer(EXIT_GRACE_SECONDS, os._exit, (0,))
    last_resort.daemon = True  # never what keeps the process alive
    last_resort.start()
    loop.call_soon_threadsafe(_exit_when_running, loop)  # wakes the loop up, unlike a bare call here


def _exit_when_running(loop: asyncio.AbstractEventLoop) -> None:
    if _running_app and _running_app[0].is_running:
        _running_app[0].exit(0)
    else:
        loop.call_later(0.05, _exit_when_running, loop)


def _hang_up_with_parent() -> None:
    """Linux: SIGHUP this process when the server or supervisor that started it dies, however."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(0)


def run_app(spec: dict) -> int:
    from ims_tui.app import ImsApp
    from ims_tui.config import load_config
    from ims_tui.db.engine import Store

    # The starter has checked the store's schema revision (the SSH and web servers for each
    # session, ``ims --kiosk`` before it starts): not loading Alembic here saves each session
    # about 11 MB and a tenth of its start-up.
    config = load_config(database_url=spec["db"], station=spec.get("station"))
    store = Store(config.database_url)
    actor = _actor(store, spec["user"], config.station) if spec.get("user") else None
    kiosk = bool(spec.get("kiosk"))
    app = ImsApp(config, store, actor=actor, kiosk=kiosk)

    _running_app.append(app)
    try:
        result = app.run(mouse=not kiosk)
    finally:
        store.dispose()
    return result if isinstance(result, int) else (app.return_code or 0)


def _command_argv(words: list[str]) -> list[str] | str:
    """The command's words without a leading ``ims``; or a refusal."""
    if words and words[0] in ("ims", "python -m ims_tui"):
        words = words[1:]
    for word in words:
        if word.split("=", 1)[0] in FORBIDDEN_OPTIONS:
            return f"error: {word.split('=', 1)[0]} cannot be given over ssh: the server decides the store and the user"
    return words


def run_cli(spec: dict, argv: list[str]) -> int:
    from ims_tui.cli.main import main
    from ims_tui.config import load_config
    from ims_tui.db.engine import Store

    words = _command_argv(argv)
    if isinstance(words, str):
        sys.stderr.write(words + "\n")
        return 2
    if not words:
        sys.stderr.write("error: give a command, e.g. 'ims stock show SKU' (see 'ims --help')\n")
        return 2
    config = load_config(database_url=spec["db"], station=spec.get("station"))
    store = Store(config.database_url)
    try:
        actor = _actor(store, spec["user"], config.station)
    except ImsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    finally:
        store.dispose()
    return main(["--db", config.database_url, "--station", config.station, *words], actor=actor)


def run_batch(spec: dict) -> int:
    """``ssh -T`` without a command: each line of stdin is one command; the last failure's code."""
    code = 0
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            sys.stderr.write(f"error: {exc}\n")
            code = 2
            continue
        result = run_cli(spec, words)
        sys.stdout.flush()
        code = result or code
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0] if args else os.environ.pop(SPEC_ENV))
    mode = spec.get("mode", "app")
    if mode == "app":
        signal.signal(signal.SIGHUP, _leave)
        signal.signal(signal.SIGTERM, _leave)
        _hang_up_with_parent()
        return run_app(spec)
    if mode == "cli":
        return run_cli(spec, list(spec.get("argv", [])))
    return run_batch(spec)


if __name__ == "__main__":
    raise SystemExit(main())
