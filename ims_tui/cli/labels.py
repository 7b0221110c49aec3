"""``ims label product|location|lot|po ... --printer HOST[:PORT] | -o FILE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ims_tui.cli.parsing import add_json_flag
from ims_tui.services.errors import BadInput
from ims_tui.services.labels import FORMATS, MAX_COPIES, label_for_location, label_for_lot, label_for_po, label_for_product, print_labels

if TYPE_CHECKING:
    from ims_tui.cli.context import CliContext

EPILOG = f"""\
--printer sends ZPL to a label printer's raw port (9100 unless given; IPv6 as [ADDRESS]:PORT).
-o FILE writes ZPL or SVG (from the extension .zpl/.svg, or --format); -o - writes to stdout.
A product with a unit GTIN among its barcodes gets a GS1 DataMatrix: (01) GTIN, and on lot labels
(17) expiry and (10) lot.  An SVG holds one label; copies are for ZPL (1 to {MAX_COPIES}).

exit codes:
  0  printed or written
  1  the printer did not take the job (unknown host, refused, no answer), or the label cannot
     carry the data (a lot with characters GS1 does not allow)
  2  bad usage: unknown product, location or lot, malformed HOST[:PORT], unwritable file
  3  permission denied (printing labels needs a floor role, manager or admin)
  4  store unreachable or schema out of date
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("label", help="print product, location or lot labels (ZPL to a printer, ZPL/SVG to a file)")
    kinds = parser.add_subparsers(dest="label_kind", metavar="KIND")

    product = _kind_parser(kinds, "product", "a product label: name, SKU as Code 128, GS1 DataMatrix of the GTIN")
    product.add_argument("code", metavar="CODE", help="SKU, barcode or supplier SKU")
    product.set_defaults(handler=cmd_label, make=lambda ctx, a: label_for_product(ctx.store, ctx.actor, a.code))

    location = _kind_parser(kinds, "location", "a location label: name, code, its barcode as Code 128")
    location.add_argument("code", metavar="CODE", help="location code or barcode")
    location.set_defaults(handler=cmd_label, make=lambda ctx, a: label_for_location(ctx.store, ctx.actor, a.code))

    order = _kind_parser(kinds, "po", "a purchase order label: its number as Code 128, scannable at receiving")
    order.add_argument("number", metavar="PO")
    order.set_defaults(handler=cmd_label, make=lambda ctx, a: label_for_po(ctx.store, ctx.actor, a.number))

    lot = _kind_parser(kinds, "lot", "a lot label: the product label with lot and expiry")
    lot.add_argument("product", metavar="PRODUCT", help="SKU, barcode or supplier SKU")
    lot.add_argument("lot", metavar="LOT")
    lot.set_defaults(handler=cmd_label, make=lambda ctx, a: label_for_lot(ctx.store, ctx.actor, a.product, a.lot))


def _kind_parser(kinds: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = kinds.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--printer", metavar="HOST[:PORT]", help="send ZPL to this printer's raw TCP port (default 9100)")
    where.add_argument("-o", "--output", metavar="FILE", help="write to FILE (- for stdout)")
    parser.add_argument("--format", choices=FORMATS, help="zpl or svg (default: zpl, or from the -o file's extension)")
    parser.add_argument("--copies", type=_copies, default=1, metavar="N", help=f"copies of the label, 1 to {MAX_COPIES} (default 1)")
    add_json_flag(parser)
    return parser


def _copies(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_COPIES:
        raise argparse.ArgumentTypeError(f"copies must be a whole number from 1 to {MAX_COPIES}, not {text!r}")
    return int(text)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.printer is not None or args.output == "-":
        return "zpl"
    suffix = Path(args.output).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise BadInput(f"cannot tell the label format from {args.output!r}: name it .zpl or .svg, or add --format")
    return suffix


def cmd_label(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.output == "-" and ctx.json:
        raise BadInput("-o - writes the label to stdout: --json cannot share it")
    fmt = _format(args)
    label = args.make(ctx, args)
    output = None if args.output is None else sys.stdout if args.output == "-" else Path(args.output)
    job = print_labels(ctx.store, ctx.actor, [label], printer=args.printer, output=output, fmt=fmt, copies=args.copies)
    if output is sys.stdout:
        return 0
    ctx.emit(job.to_dict(), job.summary())
    return 0
