"""``ims report NAME``: any report as a table, JSON, CSV or XLSX."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from typing import Any

from ims_tui.cli.context import CliContext, json_default
from ims_tui.cli.parsing import add_json_flag, date
from ims_tui.cli.transfer import ProgressLine
from ims_tui.services.errors import BadInput
from ims_tui.services.reports import REPORTS, ReportParams, get_report, iterate, totals
from ims_tui.services.reports import snapshots
from ims_tui.services.reports.core import BY_CHOICES, PARAM_FLAGS
from ims_tui.services.reports.export import export_report
from ims_tui.services.transfer import FORMATS

EPILOG = """\
reports:
  stock        on hand by warehouse, location and lot; reserved, available, value
  valuation    value on hand as of --as-of under the ledger (book), FIFO, LIFO and average; --by
  cogs         cost of goods sold for a period (--from/--to); --by
  turnover     turnover and days on hand for a period; --by product|category
  abc          ABC by consumption value and XYZ by demand variability (ims settings abc)
  aging        stock on hand by age since receipt, value per bucket
  expiring     lots expired or expiring within --days (30) of --as-of
  trace        --lot L or --serial S forward to bins and customers; --so SO back to lots, suppliers, POs
  performance  units and cost shipped, revenue at list price, margin, sell-through, stock-out days
  suppliers    fill rate, promised against actual lead time, late lines (--supplier)
  moves        movement history in a period (--warehouse, --category, --product)
  snapshot     build the valuation snapshots (the first of each month, and the start of --as-of,
               default today) that as-of valuations start from; reports build missing ones too
The period defaults to the 365 days up to today; dates are YYYY-MM-DD (UTC).
Exit codes: 0 done, 2 bad usage (a parameter the report does not take, an unknown warehouse ...),
3 permission denied (reports need the reports permission, files also export), 4 store unreachable.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from ims_tui.services import reports  # noqa: F401 - fills REPORTS

    parser = subparsers.add_parser("report", help="reports: stock, valuation, cogs, turnover, abc, aging, ...",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*REPORTS, "snapshot"], metavar="NAME", help=", ".join([*REPORTS, "snapshot"]))
    parser.add_argument("--from", dest="date_from", type=date, metavar="D", help="first day of the period")
    parser.add_argument("--to", dest="date_to", type=date, metavar="D", help="last day of the period (default: today)")
    parser.add_argument("--as-of", dest="as_of", type=date, metavar="D", help="the day to value stock at")
    parser.add_argument("--warehouse", metavar="W")
    parser.add_argument("--category", metavar="C")
    parser.add_argument("--supplier", metavar="S")
    parser.add_argument("--by", choices=BY_CHOICES, default="product", help="group by product, category or warehouse")
    parser.add_argument("--days", type=int, default=30, metavar="N", help="expiring: within N days")
    parser.add_argument("--lot", metavar="L")
    parser.add_argument("--serial", metavar="S")
    parser.add_argument("--so", metavar="SO")
    parser.add_argument("--product", metavar="CODE")
    parser.add_argument("--format", choices=FORMATS, help="write csv or xlsx to -o FILE (default: from its extension)")
    parser.add_argument("-o", "--output", metavar="FILE")
    add_json_flag(parser)
    parser.set_defaults(handler=cmd_report)


def params_from(args: argparse.Namespace) -> ReportParams:
    return ReportParams(date_from=args.date_from, date_to=args.date_to, as_of=args.as_of, warehouse=args.warehouse,
                        category=args.category, supplier=args.supplier, by=args.by, days=args.days, lot=args.lot,
                        serial=args.serial, so=args.so, product=args.product)


def cmd_report(ctx: CliContext, args: argparse.Namespace) -> int:
    params = params_from(args)
    if args.name == "snapshot":
        return cmd_snapshot(ctx, args, params)
    if args.format and not args.output:
        raise BadInput("--format writes a file: give -o FILE")
    if args.output:
        fmt = args.format or ("xlsx" if args.output.lower().endswith(".xlsx") else "csv")
        progress = ProgressLine()
        try:
            result = export_report(ctx.store, ctx.actor, args.name, params, args.output, fmt=fmt, progress=progress)
        finally:
            progress.close()
        ctx.emit(result.to_dict(), result.describe())
        return 0
    columns, rows = iterate(ctx.store, ctx.actor, args.name, params)
    summed = totals(ctx.store, ctx.actor, args.name, params)
    report = get_report(args.name)
    out = sys.stdout
    if ctx.json:
        out.write('{"report": ' + json.dumps(args.name) + ', "columns": ' + json.dumps([c for c, _ in columns])
                  + ', "rows": [')
        for index, row in enumerate(rows):
            out.write(("," if index else "") + "\n  " + json.dumps(dict(zip([c for c, _ in columns], row, strict=True)),
                                                                  default=json_default))
        out.write('\n], "totals": ' + json.dumps(summed, default=json_default) + ', "notes": '
                  + json.dumps(report.notes) + "}\n")
        return 0
    _table(out, columns, rows, summed)
    if report.notes:
        out.write(f"note: {report.notes}\n")
    return 0


def cmd_snapshot(ctx: CliContext, args: argparse.Namespace, params: ReportParams) -> int:
    extra = sorted(params.given() - {"as_of"}) + (["-o"] if args.output else []) + (["--format"] if args.format else [])
    if extra:
        flags = ", ".join(PARAM_FLAGS.get(name, name) for name in extra)
        raise BadInput(f"ims report snapshot takes only --as-of, not {flags}")
    built = snapshots.refresh(ctx.store, ctx.actor, params.as_of)
    lines = [f"snapshot at {b.cut:%Y-%m-%d}: {b.products} products in {b.seconds:.1f} s" for b in built]
    ctx.emit({"built": [b.to_dict() for b in built]},
             "\n".join(lines) if lines else "the snapshots were already up to date")
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return f"{value.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).replace("\n", " ").replace("\t", " ")


def _table(out: Any, columns: tuple, rows: Any, summed: dict) -> None:
    """Aligned columns, widths from the first 200 rows (the rest stream through at those widths)."""
    names = [name for name, _ in columns]
    right = [type_ not in ("text", "date", "datetime") for _, type_ in columns]
    head: list[list[str]] = []
    for row in rows:
        head.append([_cell(value) for value in row])
        if len(head) == 200:
            break
    widths = [min(max([len(name)] + [len(r[i]) for r in head]), 40) for i, name in enumerate(names)]

    def line(cells: list[str]) -> str:
        parts = []
        for cell, width, align in zip(cells, widths, right, strict=True):
            cell = cell if len(cell) <= width else cell[: width - 1] + "~"
            parts.append(cell.rjust(width) if align else cell.ljust(width))
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(names))
    for cells in head:
        out.write(line(cells))
    for row in rows:
        out.write(line([_cell(value) for value in row]))
    if summed:
        out.write(f"{summed.get('rows', 0)} rows; totals: "
                  + ", ".join(f"{name} {_cell(value)}" for name, value in summed.items() if name != "rows") + "\n")
