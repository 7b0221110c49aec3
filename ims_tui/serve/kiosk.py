"""Kiosk mode (``ims --kiosk`` or ``kiosk = true``): the app with no way out to a shell.

The app itself refuses ctrl+q, ctrl+c and ctrl+z (it says so), keeps the mouse off and locks
soon.  This supervisor runs it in a child process and starts it again whenever it ends, crash
or not, so the station never drops to a shell; it ignores the terminal's interrupt, quit and
suspend signals itself.  It stops only on SIGTERM or SIGHUP (the machine shutting down, the
terminal or SSH connection gone).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from ims_tui.config import Config
from ims_tui.serve.child import SPEC_ENV
from ims_tui.services.errors import BadInput

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before a restart; a crash soon after the previous one waits longer."""
STABLE_SECONDS = 60.0


def supervise(config: Config, username: str | None = None) -> int:
    """Run the kiosk app until told to stop; ``username``: start it signed in as this user (already
    authenticated by the caller, as ``--login-user`` under an sshd ForceCommand)."""
    spec = json.dumps({"mode": "app", "db": config.database_url, "station": config.station, "user": username, "kiosk": True})
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInput("the kiosk needs a terminal (over ssh: ssh -t)")
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGHUP if signum == signal.SIGHUP else signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    crashes = 0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "ims_tui.serve.child"], env={**os.environ, SPEC_ENV: spec})
        code = child.wait()
        if stopping:
            break
        crashes = 0 if time.monotonic() - started > STABLE_SECONDS else crashes + 1
        delay = RESTART_DELAYS[min(crashes, len(RESTART_DELAYS) - 1)]
        sys.stderr.write(f"\x1b[0m\x1b[2J\x1b[Hims ended (exit {code}); the kiosk starts it again in {delay:g} s\n")
        sys.stderr.flush()
        time.sleep(delay)
    return 0
