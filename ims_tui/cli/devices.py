"""``ims scanners``, ``ims scan decode``, ``ims scan listen``: scanners and scans from the shell."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import aclosing
from typing import TYPE_CHECKING

from ims_tui.cli.parsing import add_json_flag
from ims_tui.devices.base import ScanSource
from ims_tui.devices.decode import DecodedScan, decode_scan
from ims_tui.devices.discovery import discover_scanners
from ims_tui.devices.sources import merge_scans, parse_source_spec, source_from_config
from ims_tui.services.errors import BadInput

if TYPE_CHECKING:
    from ims_tui.cli.context import CliContext


def register(subparsers: argparse._SubParsersAction) -> None:
    scanners = subparsers.add_parser("scanners", help="candidate scanner devices (evdev and serial ports)")
    add_json_flag(scanners)
    scanners.set_defaults(handler=cmd_scanners)

    scan = subparsers.add_parser("scan", help="decode a scan, or print scans live from a scanner")
    actions = scan.add_subparsers(dest="scan_command", metavar="ACTION")

    decode = actions.add_parser(
        "decode", help="decode one scan: symbology, GTIN, GS1 elements (lot, expiry, serial ...), Digital Link"
    )
    decode.add_argument("text", metavar="TEXT", help=r"the scanned text; GS may be written <GS> or \x1d")
    add_json_flag(decode)
    decode.set_defaults(handler=cmd_decode)

    listen = actions.add_parser("listen", help="print decoded scans live (Ctrl+C stops)")
    listen.add_argument(
        "--source",
        metavar="SPEC",
        help="evdev:/dev/input/... or serial:/dev/ttyXXX?baud=9600&eol=cr (default: the station config's scanners)",
    )
    listen.add_argument("--count", type=_positive, metavar="N", help="stop after N scans")
    add_json_flag(listen)
    listen.set_defaults(handler=cmd_listen)


def cmd_scanners(ctx: CliContext, args: argparse.Namespace) -> int:
    found = discover_scanners()
    lines = []
    for candidate in found.candidates:
        mark = "*" if candidate.likely else " "
        usb = f" [{candidate.usb_id}]" if candidate.usb_id else ""
        lines.append(f"{mark} {candidate.spec}  {candidate.name}{usb}  ({'; '.join(candidate.reasons)})")
    if not found.candidates:
        lines.append("no candidate scanners found")
    lines += [f"note: {line}" for line in found.diagnostics]
    if any(candidate.likely for candidate in found.candidates):
        lines.append("* = likely a scanner; put its spec in [[scanners]] source = \"...\" of the station config")
    ctx.emit(found.to_dict(), "\n".join(lines))
    return 0


def cmd_decode(ctx: CliContext, args: argparse.Namespace) -> int:
    decoded = decode_scan(args.text)
    ctx.emit(decoded.to_dict(), _describe(decoded))
    if decoded.problems:
        more = len(decoded.problems) - 1
        raise BadInput(decoded.problems[0] + (f" (and {more} more)" if more else ""))
    return 0


def cmd_listen(ctx: CliContext, args: argparse.Namespace) -> int:
    sources = _sources(ctx, args.source)
    for source in sources:
        source.on_state = _print_state
    return asyncio.run(_listen(sources, args.count, as_json=ctx.json))


async def _listen(sources: list[ScanSource], count: int | None, *, as_json: bool) -> int:
    seen = 0
    async with aclosing(merge_scans(sources)) as scans:
        async for event in scans:
            decoded = decode_scan(event.text)
            if as_json:
                line = json.dumps({"source": event.source, "at": event.at, **decoded.to_dict()})
            else:
                line = f"{event.source}  {decoded.summary()}"
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            seen += 1
            if count is not None and seen >= count:
                break
    return 0


def _sources(ctx: CliContext, spec: str | None) -> list[ScanSource]:
    config = ctx.config
    try:
        if spec is not None:
            return [parse_source_spec(spec, layouts=config.layouts)]
        sources = [source_from_config(entry, config.layouts) for entry in config.scanners]
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if not sources:
        where = f" of {config.config_path}" if config.config_path else ""
        raise BadInput(
            f"no scanner configured: pass --source SPEC or add a [[scanners]] entry to the station config{where}"
            " ('ims scanners' lists candidates)"
        )
    return sources


def _print_state(source: ScanSource, state: str) -> None:
    sys.stderr.write(f"{source.name}: {state}\n")
    sys.stderr.flush()


def _describe(decoded: DecodedScan) -> str:
    rows: list[tuple[str, object]] = []
    if decoded.symbology:
        rows.append(("symbology", f"{decoded.symbology} ({decoded.symbology_id})"))
    if decoded.plain_code is not None and not decoded.gtin:
        rows.append(("code", decoded.plain_code))
    if decoded.gtin:
        rows.append(("GTIN", f"{decoded.gtin} ({'check digit ok' if decoded.gtin_valid else 'BAD check digit'})"))
    rows += [
        ("lot", decoded.lot),
        ("expiry", decoded.expiry),
        ("serial", decoded.serial),
        ("quantity", decoded.quantity),
        ("net weight kg", decoded.net_weight_kg),
    ]
    rows += [(f"({ai})", f"{value}  {description}") for ai, description, value in decoded.elements]
    if decoded.digital_link:
        rows.append(("Digital Link", "yes"))
    rows += [("problem", problem) for problem in decoded.problems]
    return "\n".join(f"{name:<14}{value}" for name, value in rows if value is not None)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)
