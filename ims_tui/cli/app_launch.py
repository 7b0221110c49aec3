"""``ims`` with no command: open the station app on the configured store."""

from __future__ import annotations

from ims_tui.cli.context import CliContext
from ims_tui.db import schema


def launch_app(ctx: CliContext) -> int:
    """Create the schema of an empty store (a store of another revision is refused), then run the app."""
    store = ctx.open_store(check_schema=False, create=True)
    if schema.is_empty(store):
        schema.upgrade(store)
    else:
        schema.ensure_current(store)
    from ims_tui.app import ImsApp

    app = ImsApp(ctx.config, store)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
