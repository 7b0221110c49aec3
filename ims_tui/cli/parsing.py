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
