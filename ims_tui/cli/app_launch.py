"""``ims`` with no command: open the station app on the configured store."""

from __future__ import annotations

import os

from ims_tui.cli.context import CliContext
from ims_tui.db import schema


def _login_user(ctx: CliContext, store):  # type: ignore[no-untyped-def]
    """``--login-user``: the application user named like the OS account running this process.

    The name comes from the process's user id, not from the environment.  Not a way around a
    password: whoever can run ``ims`` as this OS account can already act as the local operator.
    """
    import pwd

    from ims_tui.services.auth import sign_in_verified

    login = pwd.getpwuid(os.getuid()).pw_name
    config = ctx.config
    return sign_in_verified(store, login, method="os login", station=config.station,
                            max_failed=config.max_failed_logins, lockout_minutes=config.lockout_minutes).actor


def launch_app(ctx: CliContext) -> int:
    """Create the schema of an empty store (a store of another revision is refused), then run the app."""
    from ims_tui.screens.keymap import check_keymap

    check_keymap(ctx.config.keys)  # a bad [keys] table stops here, in one line, before any screen
    store = ctx.open_store(check_schema=False, create=True)
    if schema.is_empty(store):
        schema.upgrade(store)
    else:
        schema.ensure_current(store)
    actor = _login_user(ctx, store) if ctx.args.login_user else None
    if ctx.args.kiosk or ctx.config.kiosk:
        from ims_tui.serve.kiosk import supervise

        return supervise(ctx.config, actor.username if actor else None)
    from ims_tui.app import ImsApp

    app = ImsApp(ctx.config, store, actor=actor)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
