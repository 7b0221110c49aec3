"""``ims count create|list|show|scan|done|empty|submit|approve|recount|settings``."""

from __future__ import annotations

import argparse
import sys

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag, add_tracking_flags, money, quantity
from ims_tui.services import counts, stock_settings
from ims_tui.services.counts import CountView
from ims_tui.services.errors import BadInput


def register(subparsers: argparse._SubParsersAction) -> None:
    count = subparsers.add_parser("count", help="cycle counts: create, count bins (blind), submit, approve")
    actions = count.add_subparsers(dest="count_command", metavar="ACTION")

    create = actions.add_parser("create", help="a new count task (managers); prints its number")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--locations", nargs="+", metavar="LOC",
                       help="bins, areas (every bin under them) or ranges FIRST..LAST of bin codes")
    scope.add_argument("--products", nargs="+", metavar="CODE", help="every bin holding these products")
    scope.add_argument("--scheduled", action="store_true",
                       help="the products due by their ABC class (from consumption value) and the frequency settings")
    scope.add_argument("--recounts", action="store_true",
                       help="the bins and products short picks asked to have recounted")
    add_json_flag(create)
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="count tasks, newest first")
    listing.add_argument("--open", action="store_true", help="only open and in review")
    listing.add_argument("--limit", type=int, default=50)
    add_json_flag(listing)
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="a count: bins and lines (expected quantities: managers only)")
    show.add_argument("count")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)

    scan = actions.add_parser("scan", help="count QTY of CODE at LOC (a case barcode counts its pack)")
    scan.add_argument("count")
    scan.add_argument("location", metavar="LOC")
    scan.add_argument("code", metavar="CODE", help="SKU, barcode, case barcode or a whole GS1 label")
    scan.add_argument("qty", type=quantity, nargs="?", metavar="QTY", help="how many of what CODE is (default 1)")
    add_tracking_flags(scan, expiry=True)
    scan.add_argument("--set", action="store_true", help="set the line's count instead of adding to it")
    add_json_flag(scan)
    scan.set_defaults(handler=cmd_scan)

    done = actions.add_parser("done", help="bin done: what was not scanned there is counted zero")
    done.add_argument("count")
    done.add_argument("location", metavar="LOC")
    add_json_flag(done)
    done.set_defaults(handler=cmd_done)

    empty = actions.add_parser("empty", help="the bin is empty")
    empty.add_argument("count")
    empty.add_argument("location", metavar="LOC")
    add_json_flag(empty)
    empty.set_defaults(handler=cmd_empty)

    submit = actions.add_parser("submit", help="counting done: lines within tolerance post, the rest await a recount")
    submit.add_argument("count")
    add_json_flag(submit)
    submit.set_defaults(handler=cmd_submit)

    approve = actions.add_parser("approve", help="post the recounted lines (managers), all or --line N ...")
    approve.add_argument("count")
    approve.add_argument("--line", type=int, nargs="+", action="extend", default=[], metavar="N")
    add_json_flag(approve)
    approve.set_defaults(handler=cmd_approve)

    recount = actions.add_parser("recount", help="ask for lines to be counted again (managers)")
    recount.add_argument("count")
    recount.add_argument("--line", type=int, nargs="+", action="extend", required=True, metavar="N")
    add_json_flag(recount)
    recount.set_defaults(handler=cmd_recount)

    settings = actions.add_parser("settings", help="show or change the count tolerance and schedule")
    settings.add_argument("--tolerance-pct", type=quantity, metavar="P")
    settings.add_argument("--tolerance-value", type=money, metavar="V")
    settings.add_argument("--frequency", action="append", default=[], metavar="CLASS=DAYS",
                          help="days between counts of class A, B or C, e.g. A=30")
    settings.add_argument("--scheduled-max", type=int, metavar="N", help="products per scheduled count")
    add_json_flag(settings)
    settings.set_defaults(handler=cmd_settings)


def _emit(ctx: CliContext, view: CountView, first_line: str | None = None) -> int:
    text = view.render() if first_line is None else f"{first_line}\n{view.render()}"
    ctx.emit(view.to_dict(), text)
    return 0


def cmd_create(ctx: CliContext, args: argparse.Namespace) -> int:
    view = counts.create_count(ctx.store, ctx.actor, locations=args.locations or (), products=args.products or (),
                               scheduled=args.scheduled, recounts=args.recounts)
    ctx.emit(view.to_dict(), f"{view.number}: {len(view.bins)} bins to count")
    return 0


def cmd_list(ctx: CliContext, args: argparse.Namespace) -> int:
    rows = counts.list_counts(ctx.store, ctx.actor, open_only=args.open, limit=args.limit)
    text = "\n".join(
        f"{row.number:<10} {row.status:<9} {row.kind:<10} bins {row.bins_done:>3}/{row.bins:<3} lines {row.lines:>4}"
        f"{f'  recounts {row.recounts}' if row.recounts else ''}  {row.scope[:30]}"
        for row in rows
    ) or "no counts"
    ctx.emit([row.to_dict() for row in rows], text)
    return 0


def cmd_show(ctx: CliContext, args: argparse.Namespace) -> int:
    return _emit(ctx, counts.get_count(ctx.store, ctx.actor, args.count))


def cmd_scan(ctx: CliContext, args: argparse.Namespace) -> int:
    result = counts.record(ctx.store, ctx.actor, args.count, args.location, args.code, args.qty, lot=args.lot,
                           expiry=args.expiry, serials=args.serial, replace=args.set)
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_done(ctx: CliContext, args: argparse.Namespace) -> int:
    view = counts.bin_done(ctx.store, ctx.actor, args.count, args.location)
    ctx.emit(view.to_dict(), f"{args.location.strip()} done")
    return 0


def cmd_empty(ctx: CliContext, args: argparse.Namespace) -> int:
    view = counts.mark_empty(ctx.store, ctx.actor, args.count, args.location)
    ctx.emit(view.to_dict(), f"{args.location.strip()} counted empty")
    return 0


def cmd_submit(ctx: CliContext, args: argparse.Namespace) -> int:
    view = counts.submit(ctx.store, ctx.actor, args.count)
    recounts = len(view.recounts)
    text = f"{view.number} submitted: {view.status}" + (f", {recounts} line(s) to recount by another counter" if recounts else "")
    ctx.emit(view.to_dict(), text)
    return 0


def cmd_approve(ctx: CliContext, args: argparse.Namespace) -> int:
    try:
        result = counts.approve(ctx.store, ctx.actor, args.count, args.line)
    except counts.CountProblems as exc:
        if ctx.json:
            ctx.emit({"error": str(exc), "problems": list(exc.problems)})
        sys.stderr.write(f"error: {exc}\n" + "".join(f"  {problem}\n" for problem in exc.problems))
        return exc.exit_code
    ctx.emit(result.to_dict(), result.describe())
    return 0


def cmd_recount(ctx: CliContext, args: argparse.Namespace) -> int:
    view = counts.request_recount(ctx.store, ctx.actor, args.count, args.line)
    return _emit(ctx, view, f"{view.number}: line(s) {', '.join(str(n) for n in args.line)} to recount")


def cmd_settings(ctx: CliContext, args: argparse.Namespace) -> int:
    changes: dict[str, object] = {}
    if args.tolerance_pct is not None:
        changes["count.tolerance_pct"] = args.tolerance_pct
    if args.tolerance_value is not None:
        changes["count.tolerance_value"] = args.tolerance_value
    for item in args.frequency:
        cls, _, days = item.partition("=")
        if cls.strip().upper() not in ("A", "B", "C") or not days:
            raise BadInput(f"a frequency is CLASS=DAYS with class A, B or C, not {item!r}")
        changes[f"count.frequency_days.{cls.strip().upper()}"] = days
    if args.scheduled_max is not None:
        changes["count.scheduled_max_products"] = args.scheduled_max
    settings = (stock_settings.change_settings(ctx.store, ctx.actor, changes) if changes
                else stock_settings.get_settings(ctx.store, ctx.actor))
    ctx.emit(settings.to_dict(), settings.render())
    return 0

