"""Argument types that turn bad input into one clear usage error."""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal

from ims_tui import values
from ims_tui.services.errors import BadInput


def quantity(text: str) -> Decimal:
    """A quantity as the desk reads it (:func:`ims_tui.values.parse_quantity`)."""
    try:
        return values.parse_quantity(text, what="")
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def money(text: str) -> Decimal:
    """An amount (a cost or a price) as the desk reads it (:func:`ims_tui.values.parse_money`)."""
    try:
        return values.parse_money(text, what="")
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def date(text: str) -> dt.date:
    """A date as documented for the command line: ``YYYY-MM-DD`` only (the desk takes more)."""
    try:
        return values.parse_iso_date(text, what="")
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Accept ``--json`` after the command too (``ims check --json``), as well as before it."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON output")


def add_tracking_flags(parser: argparse.ArgumentParser, *, expiry: bool = False) -> None:
    """``--lot`` (and ``--expiry`` where goods arrive) and ``--serial S ...`` for tracked products."""
    parser.add_argument("--lot")
    if expiry:
        parser.add_argument("--expiry", type=date, metavar="YYYY-MM-DD")
    parser.add_argument("--serial", action="extend", nargs="+", default=[], metavar="S")


def add_key_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", metavar="KEY", help="idempotency key: repeating a posting with it changes nothing")
