"""``ims product show`` and ``ims stock show|receive|issue|move|adjust``."""

from __future__ import annotations

import argparse

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, add_key_flag, add_tracking_flags, money, quantity
from ims_tui.services import inventory, stock
from ims_tui.services.ledger import PostingResult


def register(subparsers: argparse._SubParsersAction) -> None:
    product = subparsers.add_parser("product", help="product details").add_subparsers(dest="product_command", metavar="ACTION")
    show = product.add_parser("show", help="a product by SKU, barcode, GS1 scan or supplier SKU")
    show.add_argument("code")
    add_json_flag(show)
    show.set_defaults(handler=cmd_product_show)

    stock_parser = subparsers.add_parser("stock", help="stock levels and postings")
    actions = stock_parser.add_subparsers(dest="stock_command", metavar="ACTION")

    show = actions.add_parser("show", help="on hand by location and lot, reserved, available")
    show.add_argument("code")
    add_json_flag(show)
    show.set_defaults(handler=cmd_stock_show)

    receive = actions.add_parser("receive", help="goods in from a supplier")
    receive.add_argument("code")
    receive.add_argument("qty", type=quantity)
    receive.add_argument("--to", required=True, metavar="LOC")
    add_tracking_flags(receive, expiry=True)
    receive.add_argument("--cost", type=money, metavar="C")
    receive.add_argument("--ref", default="", metavar="TEXT")
    add_key_flag(receive)
    add_json_flag(receive)
    receive.set_defaults(handler=cmd_receive)

    issue = actions.add_parser("issue", help="goods out to a customer")
    issue.add_argument("code")
    issue.add_argument("qty", type=quantity)
    issue.add_argument("--from", dest="source", required=True, metavar="LOC")
    add_tracking_flags(issue)
    issue.add_argument("--ref", default="", metavar="TEXT")
    add_key_flag(issue)
    add_json_flag(issue)
    issue.set_defaults(handler=cmd_issue)

    move = actions.add_parser("move", help="goods between two stock locations")
    move.add_argument("code")
    move.add_argument("qty", type=quantity)
    move.add_argument("--from", dest="source", required=True, metavar="LOC")
    move.add_argument("--to", required=True, metavar="LOC")
    add_tracking_flags(move)
    add_key_flag(move)
    add_json_flag(move)
    move.set_defaults(handler=cmd_move)

    adjust = actions.add_parser("adjust", help="correct the quantity at a location")
    adjust.add_argument("code")
    adjust.add_argument("--at", required=True, metavar="LOC")
    group = adjust.add_mutually_exclusive_group(required=True)
    group.add_argument("--set", dest="set_to", type=quantity, metavar="QTY")
    group.add_argument("--by", type=quantity, metavar="DELTA")
    adjust.add_argument("--reason", required=True)
    add_tracking_flags(adjust)
    adjust.add_argument("--cost", type=money, metavar="C", help="unit cost of stock added (default: average cost)")
    add_key_flag(adjust)
    add_json_flag(adjust)
    adjust.set_defaults(handler=cmd_adjust)


def _report(ctx: CliContext, result: PostingResult, done: str) -> int:
    text = f"already posted (key {result.key}): nothing changed" if result.already_posted else f"{done} (posting {result.posting_id})"
    ctx.emit(result.to_dict(), text)
    return 0


def cmd_receive(ctx: CliContext, args: argparse.Namespace) -> int:
    result = stock.receive(
        ctx.store, ctx.actor, args.code, args.qty, to=args.to, lot=args.lot, expiry=args.expiry,
        serials=tuple(args.serial), cost=args.cost, reference=args.ref, key=args.key,
    )
    return _report(ctx, result, f"received {args.qty} {args.code} into {args.to}")


def cmd_issue(ctx: CliContext, args: argparse.Namespace) -> int:
    result = stock.issue(
        ctx.store, ctx.actor, args.code, args.qty, source=args.source, lot=args.lot,
        serials=tuple(args.serial), reference=args.ref, key=args.key,
    )
    return _report(ctx, result, f"issued {args.qty} {args.code} from {args.source}")


def cmd_move(ctx: CliContext, args: argparse.Namespace) -> int:
    result = stock.move(
        ctx.store, ctx.actor, args.code, args.qty, source=args.source, to=args.to, lot=args.lot,
        serials=tuple(args.serial), key=args.key,
    )
    return _report(ctx, result, f"moved {args.qty} {args.code} from {args.source} to {args.to}")


def cmd_adjust(ctx: CliContext, args: argparse.Namespace) -> int:
    result = stock.adjust(
        ctx.store, ctx.actor, args.code, at=args.at, reason=args.reason, set_to=args.set_to, by=args.by,
        lot=args.lot, serials=tuple(args.serial), cost=args.cost, key=args.key,
    )
    return _report(ctx, result, f"adjusted {args.code} at {args.at}")


def cmd_product_show(ctx: CliContext, args: argparse.Namespace) -> int:
    detail = inventory.product_detail(ctx.store, ctx.actor, args.code)
    ctx.emit(detail.to_dict(), detail.render())
    return 0


def cmd_stock_show(ctx: CliContext, args: argparse.Namespace) -> int:
    detail = inventory.product_detail(ctx.store, ctx.actor, args.code)
    ctx.emit(detail.stock_dict(), detail.render_stock())
    return 0
