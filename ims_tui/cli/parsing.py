"""Argument types that turn bad input into one clear usage error."""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal, InvalidOperation


def quantity(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


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
