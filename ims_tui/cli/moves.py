"""``ims transfer create|list|show|ship|receive|close`` and ``ims scrap``."""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, add_key_flag, add_tracking_flags, date, money, quantity
from ims_tui.services import scrap, stock_settings, stock_transfers
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check
from ims_tui.services.purchasing import LineInput, money_text, qty_text


def register(subparsers: argparse._SubParsersAction) -> None:
    transfer = subparsers.add_parser("transfer", help="stock between warehouses, through a transit location")
    actions = transfer.add_subparsers(dest="transfer_command", metavar="ACTION")

    create = actions.add_parser("create", help="a transfer from one warehouse to another; prints its number")
    create.add_argument("--from", dest="source", required=True, metavar="W1")
    create.add_argument("--to", required=True, metavar="W2")
    create.add_argument("--line", action="append", required=True, metavar="CODE:QTY", help="repeatable")
    add_json_flag(create)
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="transfers, newest first")
    listing.add_argument("--open", action="store_true", help="only those not yet fully received")
    listing.add_argument("--limit", type=int, default=50)
    add_json_flag(listing)
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="a transfer: shipped, received, in transit, differences")
    show.add_argument("transfer")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    ship = actions.add_parser("ship", help="take every line from these bins into transit (lots first-expiry-first)")
    ship.add_argument("transfer")
    ship.add_argument("--from", dest="sources", nargs="+", action="extend", required=True, metavar="LOC")
    add_key_flag(ship)
    add_json_flag(ship)
    ship.set_defaults(handler=cmd_ship)

    receive = actions.add_parser("receive", help="receive QTY of CODE from transit into a bin (a case counts its pack)")
    receive.add_argument("transfer")
    receive.add_argument("code")
    receive.add_argument("qty", type=quantity, nargs="?")
    receive.add_argument("--to", required=True, metavar="LOC")
    add_tracking_flags(receive)
    add_key_flag(receive)
    add_json_flag(receive)
    receive.set_defaults(handler=cmd_receive)

    close = actions.add_parser("close", help="close a transfer (managers): what never arrived is written off")
    close.add_argument("transfer")
    add_key_flag(close)
    add_json_flag(close)
    close.set_defaults(handler=cmd_close)

    scrap_parser = subparsers.add_parser(
        "scrap", help="write stock off with a reason code; --expired lists and scraps expired lots",
        description="ims scrap CODE QTY --from LOC --reason R | ims scrap --expired [--choose SKU:LOT@LOC ... | --all] "
                    "| ims scrap --approval-value V",
    )
    scrap_parser.add_argument("code", nargs="?")
    scrap_parser.add_argument("qty", type=quantity, nargs="?")
    scrap_parser.add_argument("--from", dest="source", metavar="LOC")
    scrap_parser.add_argument("--reason", metavar="R", help=f"one of {', '.join(scrap.REASONS)}")
    add_tracking_flags(scrap_parser)
    scrap_parser.add_argument("--note", default="")
    scrap_parser.add_argument("--approve", action="store_true", help="approve it yourself (managers): needed above the value setting")
    scrap_parser.add_argument("--expired", action="store_true", help="the expired-lot sweep: list every expired lot in a bin")
    scrap_parser.add_argument("--choose", nargs="+", action="extend", default=[], metavar="SKU:LOT@LOC",
                              help="with --expired: scrap these (managers), in one posting")
    scrap_parser.add_argument("--all", action="store_true", help="with --expired: scrap every one listed (managers)")
    scrap_parser.add_argument("--as-of", type=date, metavar="YYYY-MM-DD", help="with --expired: expired before this day")
    scrap_parser.add_argument("--approval-value", type=money, metavar="V", help="set the value above which scrap needs a manager")
    add_key_flag(scrap_parser)
    add_json_flag(scrap_parser)
    scrap_parser.set_defaults(handler=cmd_scrap)


def _emit(ctx: CliContext, view: stock_transfers.TransferView, first_line: str | None = None) -> int:
    ctx.emit(view.to_dict(), view.render() if first_line is None else f"{first_line}\n{view.render()}")
    return 0


def cmd_create(ctx: CliContext, args: argparse.Namespace) -> int:
    view = stock_transfers.create_transfer(ctx.store, ctx.actor, args.source, args.to, [LineInput.parse(t) for t in args.line])
    ctx.emit(view.to_dict(), view.number)
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = stock_transfers.list_transfers(ctx.store, ctx.actor, open_only=args.open, limit=args.limit)
    text = "\n".join(
        f"{row.number:<10} {row.status:<9} {row.source:>6} -> {row.destination:<6} {row.lines:>3} lines "
        f"shipped {qty_text(row.shipped):>6}/{qty_text(row.qty):<6} received {qty_text(row.received)}"
        + (f"  in transit {qty_text(row.shipped - row.received)}" if row.shipped > row.received and row.status != "closed" else "")
        for row in rows
    ) or "no transfers"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    return _emit(ctx, stock_transfers.get_transfer(ctx.store, ctx.actor, args.transfer))


def cmd_ship(ctx: CliContext, args: argparse.Namespace) -> int:
    view = stock_transfers.ship(ctx.store, ctx.actor, args.transfer, args.sources, key=args.key)
    return _emit(ctx, view, f"{view.number} shipped: {qty_text(view.in_transit)} in transit at {view.transit}")


def cmd_receive(ctx: CliContext, args: argparse.Namespace) -> int:
    view = stock_transfers.receive(ctx.store, ctx.actor, args.transfer, args.code, args.qty, to=args.to, lot=args.lot,
                                   serials=args.serial, key=args.key)
    return _emit(ctx, view, f"{view.number}: {view.status}, {qty_text(view.in_transit)} still in transit")


def cmd_close(ctx: CliContext, args: argparse.Namespace) -> int:
    view = stock_transfers.close(ctx.store, ctx.actor, args.transfer, key=args.key)
    return _emit(ctx, view, f"{view.number} closed")


def cmd_scrap(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.approval_value is not None:
        settings = stock_settings.change_settings(ctx.store, ctx.actor, {"scrap.approval_value": args.approval_value})
        ctx.emit(settings.to_dict(), f"scrap above {money_text(settings.scrap_approval_value)} needs a manager's approval")
        return 0
    if args.expired:
        if args.choose or args.all:
            choices = None if args.all else [scrap.parse_choice(text) for text in args.choose]
            result = scrap.scrap_expired(ctx.store, ctx.actor, choices, as_of=args.as_of, key=args.key)
            ctx.emit(result.to_dict(), result.describe())
            return 0
        rows = scrap.expired_lots(ctx.store, ctx.actor, as_of=args.as_of)
        text = "\n".join(
            f"{row.choice:<40} expired {row.expiry.isoformat()}  on hand {qty_text(row.on_hand):>6}"
            + (f" ({qty_text(row.reserved)} reserved)" if row.reserved else "") + f"  value {money_text(row.value)}"
            for row in rows
        ) or "no expired lots in stock"
        ctx.emit([row.to_dict() for row in rows], text)
        return 0
    if not args.code or not args.source or not args.reason:
        raise BadInput("give CODE QTY --from LOC --reason R (or --expired)")
    approved_by = None
    if args.approve:
        check(ctx.store, ctx.actor, Permission.APPROVE_OVERRIDE, args.code)
        approved_by = ctx.actor.username
    result = scrap.scrap(ctx.store, ctx.actor, args.code, args.qty, source=args.source, reason=args.reason, lot=args.lot,
                         serials=args.serial, note=args.note, approved_by=approved_by, key=args.key)
    ctx.emit(result.to_dict(), result.describe())
    return 0
