"""``ims settings show`` and ``ims settings security``: the store's own settings (site policy).

Each setting is a subcommand of ``ims settings``; add one with its own ``add_parser`` in
:func:`register` and its handler below.
"""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.services import settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("settings", help="the store's own settings (site policy; administrators change them)")
    actions = parser.add_subparsers(dest="settings_command", metavar="ACTION")

    show = actions.add_parser("show", help="every store setting")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    security = actions.add_parser(
        "security", help="sign-in lockout and station idle lock (administrators; a station file cannot weaken them)"
    )
    security.add_argument("--max-failed-logins", type=int, metavar="N", help="failed sign-ins in a row that lock an account (1-100)")
    security.add_argument("--lockout-minutes", type=float, metavar="M", help="how long a locked account stays locked")
    security.add_argument("--idle-lock-minutes", type=float, metavar="M", help="idle minutes before a station locks (0: never)")
    add_json_flag(security)
    security.set_defaults(handler=cmd_security)


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    data = settings.show(ctx.store, ctx.actor)
    policy = settings.SecurityPolicy(**data["security"])
    ctx.emit(data, f"security: {policy.describe()}")
    return 0


def cmd_security(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = settings.set_security(
        ctx.store, ctx.actor, max_failed_logins=args.max_failed_logins, lockout_minutes=args.lockout_minutes,
        idle_lock_minutes=args.idle_lock_minutes,
    )
    ctx.emit({"security": policy.to_dict()}, f"security: {policy.describe()}")
    return 0
