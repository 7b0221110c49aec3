"""``ims po create|list|show|line|order|cancel|receive|return|drafts|discard``."""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, add_key_flag, add_tracking_flags, date, money, quantity
from ims_tui.services import purchasing, receiving
from ims_tui.services.errors import BadInput
from ims_tui.services.purchasing import LineInput, PurchaseOrderView, qty_text


def register(subparsers: argparse._SubParsersAction) -> None:
    po = subparsers.add_parser("po", help="purchase orders: create, list, show, receive")
    actions = po.add_subparsers(dest="po_command", metavar="ACTION")

    create = actions.add_parser("create", help="a new draft PO; prints its number")
    create.add_argument("--supplier", required=True, metavar="NAME")
    create.add_argument("--line", action="append", default=[], metavar="CODE:QTY[:COST]",
                        help="a product (SKU, barcode or supplier SKU), quantity and optional unit cost; repeatable")
    create.add_argument("--expected", type=date, metavar="YYYY-MM-DD", help="default: today + the supplier's lead time")
    create.add_argument("--note", default="")
    create.add_argument("--order", action="store_true", help="mark it ordered at once (it can then be received)")
    add_json_flag(create)
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="purchase orders, newest first")
    listing.add_argument("--status", choices=purchasing.PO_STATUSES)
    listing.add_argument("--open", action="store_true", help="only draft, ordered and partially received")
    listing.add_argument("--limit", type=int, default=50)
    add_json_flag(listing)
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="a PO with ordered, received and remaining per line")
    show.add_argument("po")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    line = actions.add_parser("line", help="add a product to an open PO, or change a line (--line-no)")
    line.add_argument("po")
    line.add_argument("code", nargs="?", help="product to add (adds to its line when already on the PO)")
    line.add_argument("qty", type=quantity, nargs="?")
    line.add_argument("--line-no", type=int, help="change this line instead of adding")
    line.add_argument("--qty", type=quantity, dest="new_qty", metavar="Q", help="with --line-no: the new ordered quantity")
    line.add_argument("--cost", type=money, metavar="C")
    line.add_argument("--expected", type=date, metavar="YYYY-MM-DD")
    line.add_argument("--remove", action="store_true", help="remove --line-no (nothing received on it yet)")
    add_json_flag(line)
    line.set_defaults(handler=cmd_line)

    order = actions.add_parser("order", help="draft -> ordered")
    order.add_argument("po")
    add_json_flag(order)
    order.set_defaults(handler=cmd_order)

    cancel = actions.add_parser("cancel", help="cancel a PO nothing was received on")
    cancel.add_argument("po")
    cancel.add_argument("--reason", default="")
    add_json_flag(cancel)
    cancel.set_defaults(handler=cmd_cancel)

    receive = actions.add_parser("receive", help="receive goods against a PO (one posting)")
    receive.add_argument("po")
    receive.add_argument("code")
    receive.add_argument("qty", type=quantity)
    receive.add_argument("--to", required=True, metavar="LOC")
    add_tracking_flags(receive, expiry=True)
    receive.add_argument("--override", action="store_true",
                         help="receive beyond the order or an item not on it (needs the approve-override permission)")
    add_key_flag(receive)
    add_json_flag(receive)
    receive.set_defaults(handler=cmd_receive)

    ret = actions.add_parser("return", help="send stock back to the supplier")
    ret.add_argument("code")
    ret.add_argument("qty", type=quantity)
    ret.add_argument("--from", dest="source", required=True, metavar="LOC")
    ret.add_argument("--reason", required=True)
    ret.add_argument("--po", help="the PO it was received on (it then owes the goods again)")
    add_tracking_flags(ret)
    add_key_flag(ret)
    add_json_flag(ret)
    ret.set_defaults(handler=cmd_return)

    drafts = actions.add_parser("drafts", help="receipts in progress (--all: every user's, for managers)")
    drafts.add_argument("--all", action="store_true")
    add_json_flag(drafts)
    drafts.set_defaults(handler=cmd_drafts)

    discard = actions.add_parser("discard", help="throw away a receipt in progress (nothing was posted)")
    discard.add_argument("draft_id", type=int)
    discard.set_defaults(handler=cmd_discard)


def _emit_po(ctx: CliContext, view: PurchaseOrderView, first_line: str | None = None) -> int:
    text = view.render() if first_line is None else f"{first_line}\n{view.render()}"
    ctx.emit(view.to_dict(), text)
    return 0


def cmd_create(ctx: CliContext, args: argparse.Namespace) -> int:
    lines = [LineInput.parse(text) for text in args.line]
    view = purchasing.create_po(ctx.store, ctx.actor, args.supplier, lines, expected_date=args.expected, note=args.note)
    if args.order:
        view = purchasing.order_po(ctx.store, ctx.actor, view.number)
    ctx.emit(view.to_dict(), view.number)
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = purchasing.list_pos(ctx.store, ctx.actor, status=args.status, open_only=args.open, limit=args.limit)
    text = "\n".join(
        f"{row.number:<10} {row.status:<10} {row.supplier[:28]:<28} {row.lines:>3} lines "
        f"{qty_text(row.qty_received):>8}/{qty_text(row.qty_ordered):<8} "
        f"{row.expected_date.isoformat() if row.expected_date else '-'}"
        for row in rows
    ) or "no purchase orders"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    return _emit_po(ctx, purchasing.get_po(ctx.store, ctx.actor, args.po))


def cmd_line(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.line_no is not None and args.remove:
        view = purchasing.remove_po_line(ctx.store, ctx.actor, args.po, args.line_no)
    elif args.line_no is not None:
        view = purchasing.set_po_line(ctx.store, ctx.actor, args.po, args.line_no, qty=args.new_qty,
                                      unit_cost=args.cost, expected_date=args.expected)
    else:
        if args.code is None or args.qty is None:
            raise BadInput("give CODE QTY to add a line, or --line-no N to change one")
        view = purchasing.add_po_line(ctx.store, ctx.actor, args.po, LineInput(args.code, args.qty, args.cost, args.expected))
    return _emit_po(ctx, view)


def cmd_order(ctx: CliContext, args: argparse.Namespace) -> int:
    return _emit_po(ctx, purchasing.order_po(ctx.store, ctx.actor, args.po))


def cmd_cancel(ctx: CliContext, args: argparse.Namespace) -> int:
    return _emit_po(ctx, purchasing.cancel_po(ctx.store, ctx.actor, args.po, args.reason))


def cmd_receive(ctx: CliContext, args: argparse.Namespace) -> int:
    result = receiving.receive_po(
        ctx.store, ctx.actor, args.po, args.code, args.qty, to=args.to, lot=args.lot, expiry=args.expiry,
        serials=args.serial, override=args.override, key=args.key,
    )
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_return(ctx: CliContext, args: argparse.Namespace) -> int:
    result = receiving.return_to_supplier(
        ctx.store, ctx.actor, args.code, args.qty, source=args.source, reason=args.reason, po=args.po, lot=args.lot,
        serials=args.serial, key=args.key,
    )
    text = (f"already posted (key {result.key}): nothing changed" if result.already_posted
            else f"returned {qty_text(args.qty)} {args.code} from {args.source} at {result.unit_cost} each (posting {result.posting_id})")
    if result.po:
        text += f"; {result.po.number} is {result.po.status}"
    ctx.emit(result.to_dict(), text)
    return 0


def cmd_drafts(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = receiving.list_receipt_drafts(ctx.store, ctx.actor, everyone=args.all)
    text = "\n".join(
        f"{row.draft_id:>6} {row.username:<14} {row.station:<14} {row.reference:<24} {row.lines:>3} lines "
        f"{row.updated_at:%Y-%m-%d %H:%M}" if row.updated_at else ""
        for row in rows
    ) or "no receipts in progress"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_discard(ctx: CliContext, args: argparse.Namespace) -> int:
    receiving.discard_receipt(ctx.store, ctx.actor, args.draft_id)
    ctx.emit({"discarded": args.draft_id}, f"discarded receipt {args.draft_id}")
    return 0
