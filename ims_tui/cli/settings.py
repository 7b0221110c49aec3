"""``ims settings``: the store's own settings (site policy), changed by administrators.

Each setting is a subcommand of ``ims settings``; add one with its own ``add_parser`` in
:func:`register` and its handler below.
"""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.services import settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("settings", help="the store's settings: valuation method, report classes, security policy")
    actions = parser.add_subparsers(dest="settings_action", metavar="ACTION")

    show = actions.add_parser("show", help="every setting with its value")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    valuation = actions.add_parser("valuation", help="the valuation method for postings from now on (administrators)")
    valuation.add_argument("method", choices=settings.VALUATION_METHODS, metavar="METHOD",
                           help="fifo, lifo or average (moving average)")
    add_json_flag(valuation)
    valuation.set_defaults(handler=cmd_valuation)

    classes = actions.add_parser("abc", help="ABC and XYZ class boundaries for 'ims report abc' (administrators)")
    classes.add_argument("--a", metavar="PCT", help="class A: the items making up this %% of consumption value (default 80)")
    classes.add_argument("--b", metavar="PCT", help="classes A and B together: this %% (default 95)")
    classes.add_argument("--x", metavar="CV", help="class X: weekly demand varies at most this much (default 0.5)")
    classes.add_argument("--y", metavar="CV", help="class Y: at most this much; more is Z (default 1)")
    add_json_flag(classes)
    classes.set_defaults(handler=cmd_classes)

    replenish = actions.add_parser("replenish", help="demand window and service level of reorder points (administrators)")
    replenish.add_argument("--window-days", metavar="N", help="days of shipments and issues demand is taken from (default 90)")
    replenish.add_argument("--service-level", metavar="PCT", help="%% of lead times covered without running out (default 95)")
    add_json_flag(replenish)
    replenish.set_defaults(handler=cmd_replenish)

    security = actions.add_parser(
        "security", help="sign-in lockout and station idle lock (administrators; a station file cannot weaken them)"
    )
    security.add_argument("--max-failed-logins", type=int, metavar="N", help="failed sign-ins in a row that lock an account (1-100)")
    security.add_argument("--lockout-minutes", type=float, metavar="M", help="how long a locked account stays locked")
    security.add_argument("--idle-lock-minutes", type=float, metavar="M", help="idle minutes before a station locks (0: never)")
    add_json_flag(security)
    security.set_defaults(handler=cmd_security)


def _changed(ctx: CliContext, changed: dict[str, tuple[str, str]]) -> int:
    text = "\n".join(f"{key}: {before} -> {after}" for key, (before, after) in changed.items()) or "nothing changed"
    ctx.emit({key: {"before": before, "after": after} for key, (before, after) in changed.items()}, text)
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    values = settings.show(ctx.store, ctx.actor)
    plain = {key: value for key, value in values.items() if key in settings.SETTINGS}
    width = max(len(key) for key in plain)
    lines = [f"{key:<{width}}  {value:<8}  {settings.SETTINGS[key].description}" for key, value in plain.items()]
    lines.append(f"security: {settings.SecurityPolicy(**values['security']).describe()}")
    ctx.emit(values, "\n".join(lines))
    return 0


def cmd_valuation(ctx: CliContext, args: argparse.Namespace) -> int:
    return _changed(ctx, settings.change(ctx.store, ctx.actor, {"valuation_method": args.method}))


def cmd_classes(ctx: CliContext, args: argparse.Namespace) -> int:
    values = {key: value for key, value in (("abc_a", args.a), ("abc_b", args.b), ("xyz_x", args.x), ("xyz_y", args.y))
              if value is not None}
    if not values:
        return cmd_show(ctx, args)
    return _changed(ctx, settings.change(ctx.store, ctx.actor, values))


def cmd_replenish(ctx: CliContext, args: argparse.Namespace) -> int:
    values = {key: value for key, value in (("replenish_window_days", args.window_days),
                                            ("replenish_service_level", args.service_level)) if value is not None}
    if not values:
        return cmd_show(ctx, args)
    return _changed(ctx, settings.change(ctx.store, ctx.actor, values))


def cmd_security(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = settings.set_security(
        ctx.store, ctx.actor, max_failed_logins=args.max_failed_logins, lockout_minutes=args.lockout_minutes,
        idle_lock_minutes=args.idle_lock_minutes,
    )
    ctx.emit({"security": policy.to_dict()}, f"security: {policy.describe()}")
    return 0
