"""``ims customer ...``, ``ims so ...``, ``ims pick ...`` and ``ims ship SO``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, add_key_flag, add_tracking_flags, date, money, quantity
from ims_tui.services import picking, sales
from ims_tui.services.purchasing import qty_text
from ims_tui.services.sales import SOLineInput


def _print_flags(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--printer", metavar="HOST[:PORT]", help=f"send the {what} (ZPL) to a label printer")
    group.add_argument("-o", "--output", type=Path, metavar="FILE.zpl", help=f"write the {what} (ZPL) to a file")


def register(subparsers: argparse._SubParsersAction) -> None:
    customer = subparsers.add_parser("customer", help="customers: add, list")
    customer_actions = customer.add_subparsers(dest="customer_command", metavar="ACTION")
    add = customer_actions.add_parser("add", help="a new customer")
    add.add_argument("name")
    add.add_argument("--code")
    add.add_argument("--email")
    add.add_argument("--phone")
    add.add_argument("--min-shelf-days", type=int, default=0, metavar="N",
                     help="never allocate lots with fewer days to expiry than this")
    add_json_flag(add)
    add.set_defaults(handler=cmd_customer_add)
    customers = customer_actions.add_parser("list", help="customers by name")
    add_json_flag(customers)
    customers.set_defaults(handler=cmd_customer_list)

    so = subparsers.add_parser("so", help="sales orders: create, confirm, cancel, return")
    actions = so.add_subparsers(dest="so_command", metavar="ACTION")
    create = actions.add_parser("create", help="a new draft order; prints its number")
    create.add_argument("--customer", required=True, metavar="NAME")
    create.add_argument("--line", action="append", default=[], metavar="CODE:QTY[:PRICE]",
                        help="a product (SKU or barcode), quantity and optional unit price; repeatable")
    create.add_argument("--policy", default="as-available", choices=sales.SO_POLICIES)
    create.add_argument("--due", type=date, metavar="YYYY-MM-DD", help="requested date of the lines")
    create.add_argument("--note", default="")
    add_json_flag(create)
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="sales orders, newest first")
    listing.add_argument("--status", choices=sales.SO_STATUSES)
    listing.add_argument("--open", action="store_true", help="only orders not yet shipped, closed or cancelled")
    listing.add_argument("--limit", type=int, default=50)
    add_json_flag(listing)
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="an order with waiting, reserved, picked and shipped per line")
    show.add_argument("so")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    line = actions.add_parser("line", help="add a product to an order (a confirmed order reserves it at once)")
    line.add_argument("so")
    line.add_argument("code")
    line.add_argument("qty", type=quantity)
    line.add_argument("--price", type=money, metavar="P")
    line.add_argument("--requested", type=date, metavar="YYYY-MM-DD")
    add_json_flag(line)
    line.set_defaults(handler=cmd_line)

    confirm = actions.add_parser("confirm", help="reserve stock (FEFO for lots with expiry, else FIFO)")
    confirm.add_argument("so")
    add_json_flag(confirm)
    confirm.set_defaults(handler=cmd_confirm)

    cancel = actions.add_parser("cancel", help="cancel an order and release what it held")
    cancel.add_argument("so")
    cancel.add_argument("--reason", default="")
    add_json_flag(cancel)
    cancel.set_defaults(handler=cmd_cancel)

    close = actions.add_parser("close", help="close a shipped order (a partial one drops its backorder)")
    close.add_argument("so")
    add_json_flag(close)
    close.set_defaults(handler=cmd_close)

    ret = actions.add_parser("return", help="goods of a shipped order come back (to stock or quarantine)")
    ret.add_argument("so")
    ret.add_argument("code")
    ret.add_argument("qty", type=quantity)
    ret.add_argument("--to", required=True, metavar="LOC")
    ret.add_argument("--reason", required=True)
    add_tracking_flags(ret)
    add_key_flag(ret)
    add_json_flag(ret)
    ret.set_defaults(handler=cmd_return)

    pick = subparsers.add_parser("pick", help="pick lists: create, show, confirm, short")
    pick_actions = pick.add_subparsers(dest="pick_command", metavar="ACTION")
    pick_create = pick_actions.add_parser("create", help="a pick list (one order or a batch) in walking order")
    pick_create.add_argument("--so", action="append", required=True, metavar="SO", help="repeatable: a batch")
    pick_create.add_argument("--packing", metavar="LOC", help="where picked goods go (default: the packing location)")
    add_json_flag(pick_create)
    pick_create.set_defaults(handler=cmd_pick_create)
    pick_list = pick_actions.add_parser("list", help="pick lists, newest first")
    pick_list.add_argument("--open", action="store_true")
    add_json_flag(pick_list)
    pick_list.set_defaults(handler=cmd_pick_list)
    pick_show = pick_actions.add_parser("show", help="a pick list in walking order (print it with --printer or -o)")
    pick_show.add_argument("pick")
    _print_flags(pick_show, "pick list")
    add_json_flag(pick_show)
    pick_show.set_defaults(handler=cmd_pick_show)
    pick_confirm = pick_actions.add_parser("confirm", help="take QTY of a line from its bin into packing")
    pick_confirm.add_argument("pick")
    pick_confirm.add_argument("line", type=int)
    pick_confirm.add_argument("qty", type=quantity)
    pick_confirm.add_argument("--from", dest="source", required=True, metavar="LOC")
    add_tracking_flags(pick_confirm)
    add_key_flag(pick_confirm)
    add_json_flag(pick_confirm)
    pick_confirm.set_defaults(handler=cmd_pick_confirm)
    pick_short = pick_actions.add_parser("short", help="the rest is not there: re-allocate, else backorder or hold")
    pick_short.add_argument("pick")
    pick_short.add_argument("line", type=int)
    add_json_flag(pick_short)
    pick_short.set_defaults(handler=cmd_pick_short)

    ship = subparsers.add_parser("ship", help="post what was picked for an order to the customer")
    ship.add_argument("so")
    add_key_flag(ship)
    _print_flags(ship, "packing slip and shipping label")
    add_json_flag(ship)
    ship.set_defaults(handler=cmd_ship)


def cmd_customer_add(ctx: CliContext, args: argparse.Namespace) -> int:
    view = sales.add_customer(ctx.store, ctx.actor, args.name, code=args.code, email=args.email, phone=args.phone,
                              min_shelf_days=args.min_shelf_days)
    ctx.emit(view.to_dict(), f"customer {view.code} {view.name}")
    return 0


def cmd_customer_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = sales.list_customers(ctx.store, ctx.actor)
    text = "\n".join(
        f"{row.code:<12} {row.name[:36]:<36} {row.min_shelf_days:>4} days  {row.email or ''}" for row in rows
    ) or "no customers"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_create(ctx: CliContext, args: argparse.Namespace) -> int:
    lines = [SOLineInput.parse(text) for text in args.line]
    view = sales.create_so(ctx.store, ctx.actor, args.customer, lines, policy=args.policy, due_date=args.due, note=args.note)
    ctx.emit(view.to_dict(), view.number)
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = sales.list_sos(ctx.store, ctx.actor, status=args.status, open_only=args.open, limit=args.limit)
    text = "\n".join(
        f"{row.number:<10} {row.status:<10} {row.customer[:26]:<26} {row.lines:>3} lines "
        f"{qty_text(row.qty_shipped):>7}/{qty_text(row.qty_ordered):<7} waiting {qty_text(row.qty_waiting):<6}"
        f"{' HELD' if row.held else ''}"
        for row in rows
    ) or "no sales orders"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    view = sales.get_so(ctx.store, ctx.actor, args.so)
    ctx.emit(view.to_dict(), view.render())
    return 0


def cmd_line(ctx: CliContext, args: argparse.Namespace) -> int:
    view = sales.add_so_line(ctx.store, ctx.actor, args.so, SOLineInput(args.code, args.qty, args.price, args.requested))
    ctx.emit(view.to_dict(), view.render())
    return 0


def cmd_confirm(ctx: CliContext, args: argparse.Namespace) -> int:
    result = sales.confirm_so(ctx.store, ctx.actor, args.so)
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_cancel(ctx: CliContext, args: argparse.Namespace) -> int:
    view = sales.cancel_so(ctx.store, ctx.actor, args.so, args.reason)
    ctx.emit(view.to_dict(), f"{view.number} is {view.status}")
    return 0


def cmd_close(ctx: CliContext, args: argparse.Namespace) -> int:
    view = sales.close_so(ctx.store, ctx.actor, args.so)
    ctx.emit(view.to_dict(), f"{view.number} is {view.status}")
    return 0


def cmd_return(ctx: CliContext, args: argparse.Namespace) -> int:
    result = picking.return_from_customer(ctx.store, ctx.actor, args.so, args.code, args.qty, to=args.to,
                                          reason=args.reason, lot=args.lot, serials=args.serial, key=args.key)
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_pick_create(ctx: CliContext, args: argparse.Namespace) -> int:
    view = picking.create_pick(ctx.store, ctx.actor, args.so, packing=args.packing)
    ctx.emit(view.to_dict(), view.render())
    return 0


def cmd_pick_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = picking.list_picks(ctx.store, ctx.actor, open_only=args.open)
    text = "\n".join(f"{row.number:<10} {row.status:<6} {row.open_lines:>3}/{row.lines:<3} open  {row.orders}"
                     for row in rows) or "no pick lists"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_pick_show(ctx: CliContext, args: argparse.Namespace) -> int:
    view = picking.get_pick(ctx.store, ctx.actor, args.pick)
    if args.printer or args.output:
        where = picking.print_documents(ctx.store, ctx.actor, picking.pick_list_zpl(view), what=view.number,
                                        printer=args.printer, output=args.output)
        sys.stderr.write(f"{view.number} sent to {where}\n")
    ctx.emit(view.to_dict(), view.render())
    return 0


def cmd_pick_confirm(ctx: CliContext, args: argparse.Namespace) -> int:
    result = picking.confirm_pick(ctx.store, ctx.actor, args.pick, args.line, args.qty, source=args.source, lot=args.lot,
                                  serials=args.serial, key=args.key)
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_pick_short(ctx: CliContext, args: argparse.Namespace) -> int:
    result = picking.short_pick(ctx.store, ctx.actor, args.pick, args.line)
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_ship(ctx: CliContext, args: argparse.Namespace) -> int:
    result = picking.ship_so(ctx.store, ctx.actor, args.so, key=args.key)
    text = result.describe()
    if not result.already_posted:
        text += "\n" + result.docs.packing_slip
        if args.printer or args.output:
            where = picking.print_documents(ctx.store, ctx.actor, result.docs.zpl, what=result.shipment,
                                            printer=args.printer, output=args.output)
            text += f"\npacking slip and label sent to {where}"
    ctx.emit(result.to_dict(), text)
    return 0
