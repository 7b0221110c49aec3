"""``ims import KIND FILE`` and ``ims export KIND``."""

from __future__ import annotations

import argparse
import sys
import time

from ims_tui.cli.context import CliContext
from ims_tui.cli.parsing import add_json_flag
from ims_tui.services.errors import BadInput
from ims_tui.services.transfer import EXPORT_KINDS, FORMATS, KINDS, ImportOptions, export, parse_map_options, run_import

IMPORT_EPILOG = """\
columns (headers match case-insensitively; common synonyms such as EAN or Vendor are read and reported):
  products   sku name [description category uom barcodes unit_price unit_cost supplier supplier_sku
             supplier_cost reorder_point reorder_qty max_qty safety_stock tracking default_location active]
  suppliers  name [code email phone lead_time_days active]
  locations  code [name parent warehouse barcode kind active]
  stock      sku location qty [lot expiry serial unit_cost]   (opening stock, posted as adjustments)
lists (barcodes, suppliers, serials) are joined by |; a case barcode is CODE*PACK (e.g. 05012345678900*12).
An empty cell leaves the stored value as it is; a new record gets the default.

Every row is checked before anything is written; then all rows are written in one transaction, or
none.  Re-importing opening stock posts only rows not posted before (each row's key is its content).

exit codes:
  0  imported (with --dry-run: the file would import cleanly)
  1  the file is well-formed but clashes with the store (a barcode of another product, a tracking
     change while in stock, a serial already in stock ...): nothing was written
  2  bad usage or bad file content (unreadable file, missing columns, malformed numbers or dates,
     bad check digits, duplicates, unknown suppliers or locations): nothing was written
  3  permission denied (imports need the manager or admin role)
  4  store unreachable or schema out of date
"""

EXPORT_EPILOG = """\
CSV is UTF-8 with the import's columns, so an export imports back unchanged; XLSX has typed cells,
a frozen header and a filter.  Cells starting with = + - @ are neutralised against formula injection.
The audit log export needs the view_audit permission.  Exit codes: 0 done, 2 bad usage or unwritable
file, 3 permission denied, 4 store unreachable.
"""

DELIMITERS = {",": ",", "comma": ",", ";": ";", "semicolon": ";", "tab": "\t", "\\t": "\t"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="import products, suppliers, locations or opening stock from CSV",
                                   epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of {', '.join(KINDS)}")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--dry-run", action="store_true", help="check and report row by row; write nothing")
    parser.add_argument("--map", action="append", default=[], metavar="SRC=DEST",
                        help="read the file's column SRC as DEST (DEST empty: ignore SRC); repeatable")
    parser.add_argument("--errors", metavar="FILE", help="when rows are refused, write the file with an import_errors column to FILE")
    parser.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "cp1252"), help="override the detected encoding")
    parser.add_argument("--delimiter", choices=sorted(DELIMITERS), help="override the detected delimiter")
    parser.add_argument("--decimal", choices=(".", ","), help="override the detected decimal mark")
    parser.add_argument("--dates", choices=("dmy", "mdy"), help="read 01/02/2026 as day/month (dmy) or month/day (mdy)")
    add_json_flag(parser)
    parser.set_defaults(handler=cmd_import)

    parser = subparsers.add_parser("export", help="export products, suppliers, locations, stock, moves or the audit log",
                                   epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=EXPORT_KINDS, metavar="KIND", help=f"one of {', '.join(EXPORT_KINDS)}")
    parser.add_argument("--format", choices=FORMATS, help="csv or xlsx (default: from -o's extension, else csv)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    add_json_flag(parser)
    parser.set_defaults(handler=cmd_export)


class ProgressLine:
    """One updating line on stderr for long runs on a terminal; silent otherwise."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.started < 0.5 or now - self.last < 0.1:
            return
        self.last = now
        share = f"{100 * done // total}%" if total else f"{done}"
        sys.stderr.write(f"\r{phase} {share}   ")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def cmd_import(ctx: CliContext, args: argparse.Namespace) -> int:
    options = ImportOptions(
        mapping=parse_map_options(args.map),
        encoding=args.encoding,
        delimiter=DELIMITERS[args.delimiter] if args.delimiter else None,
        decimal=args.decimal,
        date_order=args.dates,
    )
    progress = ProgressLine()
    try:
        report = run_import(ctx.store, ctx.actor, args.kind, args.file, dry_run=args.dry_run, options=options,
                            progress=progress, errors_path=args.errors)
    finally:
        progress.close()
    ctx.emit(report.to_dict(), report.render())
    if report.exit_code:
        sys.stderr.write(f"error: {report.error_line()}\n")
    return report.exit_code


def cmd_export(ctx: CliContext, args: argparse.Namespace) -> int:
    fmt = args.format or ("xlsx" if args.output and args.output.lower().endswith(".xlsx") else "csv")
    progress = ProgressLine()
    try:
        if args.output:
            result = export(ctx.store, ctx.actor, args.kind, args.output, fmt=fmt, progress=progress)
        else:
            if fmt == "xlsx" and sys.stdout.isatty():
                raise BadInput("XLSX is binary: give -o FILE or redirect the output")
            result = export(ctx.store, ctx.actor, args.kind, sys.stdout.buffer, fmt=fmt, progress=progress)
    finally:
        progress.close()
    if args.output:
        ctx.emit(result.to_dict(), result.describe())
    elif result.truncated_cells:
        sys.stderr.write(result.describe() + "\n")
    return 0
