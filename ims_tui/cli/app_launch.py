"""``ims`` with no command: open the station app on the configured store."""

from __future__ import annotations

import os

from ims_tui.cli.context import CliContext


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


def _open_store(ctx: CliContext):  # type: ignore[no-untyped-def]
    """The store, its schema created if it is empty; a store of another revision is refused."""
    from ims_tui.db import schema

    store = ctx.open_store(check_schema=False, create=True)
    if schema.is_empty(store):
        schema.upgrade(store)
    else:
        schema.ensure_current(store)
    return store


def launch_app(ctx: CliContext) -> int:
    """Run the app; the store is opened (and its schema checked) behind the first paint of the
    sign-in screen.  A store that cannot be used ends the app with its one-line error."""
    from ims_tui.screens.keymap import check_keymap

    check_keymap(ctx.config.keys)  # a bad [keys] table stops here, in one line, before any screen
    if ctx.args.login_user or ctx.args.kiosk or ctx.config.kiosk:
        store = _open_store(ctx)
        actor = _login_user(ctx, store) if ctx.args.login_user else None
        if ctx.args.kiosk or ctx.config.kiosk:
            from ims_tui.serve.kiosk import supervise

            return supervise(ctx.config, actor.username if actor else None)
        opener = store
    else:
        actor, opener = None, lambda: _open_store(ctx)
    from ims_tui.app import ImsApp

    app = ImsApp(ctx.config, opener, actor=actor)
    result = app.run()
    if app.store_error is not None:
        raise app.store_error
    return result if isinstance(result, int) else (app.return_code or 0)
