"""Values as people type them and as the station shows them: quantities, money, dates, PO lines.

One module for every layer (services, flows, the CLI, screens and importers), so a quantity or
an expiry typed at the desk means the same as on the command line.  Each kind has exactly one
parsing function; limits on a kind (largest quantity, digits allowed) belong in that function.
Errors are :class:`~ims_tui.errors.BadInput` with one line naming what was wrong.

The virtual locations a posting names (goods come from Supplier, go to Customer ...) are defined
here once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ims_tui.errors import BadInput

# --- virtual locations -----------------------------------------------------------------------

SUPPLIER, CUSTOMER, ADJUSTMENT, SCRAP = "SUPPLIER", "CUSTOMER", "ADJUSTMENT", "SCRAP"
VIRTUAL_LOCATIONS: dict[str, tuple[str, str]] = {
    SUPPLIER: ("Supplier", "supplier"),
    CUSTOMER: ("Customer", "customer"),
    ADJUSTMENT: ("Inventory adjustment", "adjustment"),
    SCRAP: ("Scrap", "scrap"),
}
"""code -> (name, location kind); the store gets them from migration 0003."""

WHOLE_UNITS = frozenset({"ea", "pcs", "unit"})
"""Units of measure counted in whole units only: 2.5 of them is refused."""

# --- numbers ---------------------------------------------------------------------------------

QTY_SCALE = 3
MONEY_SCALE = 4
"""Decimals kept in the store (``ims_tui.db.types`` stores scaled integers): more are refused."""

LARGEST = Decimal(10) ** 12
"""Every quantity and amount is below this.  Stored scaled (x10^3, x10^4) that is at most 10^16,
so a signed 64-bit column (9.2 x 10^18) still holds a sum of hundreds of the largest values."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?", re.ASCII)
"""ASCII digits only: Python's Decimal would also read ``５``, ``١٢`` and ``1_0``."""


def parse_number(text: object, *, what: str, scale: int) -> Decimal:
    """A number in ASCII digits, below :data:`LARGEST`, with at most ``scale`` decimals."""
    raw = str(text).strip()
    if not _NUMBER.fullmatch(raw):
        if raw.lower().lstrip("+-") in {"inf", "infinity", "nan", "snan"}:
            raise BadInput(_named(what, f"not a finite number: {raw!r}"))
        raise BadInput(_named(what, f"not a number: {raw!r}"))
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise BadInput(_named(what, f"not a number: {raw!r}")) from None
    if abs(value) >= LARGEST:
        raise BadInput(_named(what, f"too large: {raw} (the largest is 999,999,999,999)"))
    if value != value.quantize(Decimal(1).scaleb(-scale)):
        raise BadInput(f"{what} has more than {scale} decimals: {raw}" if what else f"more than {scale} decimals: {raw}")
    return value


def _named(what: str, problem: str) -> str:
    return f"{what} is {problem}" if what else problem


def parse_quantity(text: object, *, what: str = "quantity", positive: bool = False) -> Decimal:
    """A quantity: ``12``, ``2.5``; ``positive`` refuses zero and below; below :data:`LARGEST`."""
    value = parse_number(text, what=what, scale=QTY_SCALE)
    if positive and value <= 0:
        raise BadInput(f"{what} must be more than zero, not {format_quantity(value)}")
    return value


def is_quantity(text: str) -> bool:
    """True when ``text`` reads as a quantity (a typed number at a scan step)."""
    try:
        parse_quantity(text)
    except BadInput:
        return False
    return True


def parse_money(text: object, *, what: str = "cost") -> Decimal:
    """An amount of money, never negative, below :data:`LARGEST`, at most 4 decimals."""
    value = parse_number(text, what=what, scale=MONEY_SCALE)
    if value < 0:
        raise BadInput(f"{what} cannot be negative ({format_money(value)})")
    return value


def format_quantity(value: Decimal) -> str:
    """A quantity without trailing zeros: ``12``, ``2.5``."""
    return format(value.normalize(), "f")


def format_money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def whole_unit_refusal(sku: str, uom: str, qty: Decimal) -> str | None:
    """Why ``qty`` of an item counted in whole units is refused, or None."""
    if uom in WHOLE_UNITS and qty != qty.to_integral_value():
        return f"{sku} is counted in whole {uom}, not {format_quantity(qty)}"
    return None


# --- dates -----------------------------------------------------------------------------------

DATE_FORMS = ("%Y-%m-%d", "%Y%m%d", "%y%m%d")
"""The forms a typed expiry takes: ``2027-03-31``, ``20270331`` or GS1-style ``270331``."""


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
"""The one form a date takes on the command line: ``2027-03-31``."""


def parse_date(text: str, *, what: str = "date") -> dt.date:
    """A date in one of :data:`DATE_FORMS` as the desk takes it (ASCII digits only)."""
    raw = str(text).strip()
    if not re.fullmatch(r"[0-9-]+", raw):
        raise BadInput(_named(what, f"not a date (YYYY-MM-DD): {raw!r}"))
    for form in DATE_FORMS:
        try:
            return dt.datetime.strptime(raw, form).date()
        except ValueError:
            continue
    raise BadInput(_named(what, f"not a date (YYYY-MM-DD): {raw!r}"))


def parse_iso_date(text: str, *, what: str = "date") -> dt.date:
    """A date as the command line documents it: ``YYYY-MM-DD`` and nothing else."""
    raw = str(text).strip()
    if not ISO_DATE.fullmatch(raw):
        raise BadInput(_named(what, f"not a date (YYYY-MM-DD): {raw!r}"))
    return parse_date(raw, what=what)


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value else "-"


# --- a purchase-order line -------------------------------------------------------------------


@dataclass(frozen=True)
class POLineText:
    """A PO line as typed: code, quantity (None when not given) and optional unit cost."""

    code: str
    qty: Decimal | None
    unit_cost: Decimal | None = None


def parse_po_line(text: str, *, qty_required: bool = False) -> POLineText:
    """``CODE [QTY [COST]]`` with spaces or colons: ``MILK 5 0.70``, ``MILK:5:0.70``, ``MILK``.

    A code may itself contain colons: only trailing numbers are taken as quantity and cost.
    """
    raw = text.strip()
    parts = raw.split() if len(raw.split()) > 1 else _colon_parts(raw)
    usage = "a line is CODE:QTY[:COST] (or CODE QTY COST)"
    if not parts or not parts[0] or len(parts) > 3 or (qty_required and len(parts) < 2):
        raise BadInput(f"{usage}, not {text!r}")
    qty = parse_quantity(parts[1]) if len(parts) > 1 else None
    cost = parse_money(parts[2]) if len(parts) > 2 else None
    return POLineText(parts[0], qty, cost)


def _colon_parts(text: str) -> list[str]:
    parts = [text]
    while len(parts) < 3 and ":" in parts[0]:
        head, _, tail = parts[0].rpartition(":")
        if not is_quantity(tail):
            break
        parts[0:1] = [head, tail]
    return [part.strip() for part in parts]


__all__ = [
    "ADJUSTMENT", "CUSTOMER", "DATE_FORMS", "ISO_DATE", "LARGEST", "MONEY_SCALE", "QTY_SCALE", "POLineText", "SCRAP", "SUPPLIER", "VIRTUAL_LOCATIONS", "WHOLE_UNITS",
    "format_date", "format_money", "format_quantity", "is_quantity", "parse_date", "parse_iso_date", "parse_money", "parse_number", "parse_po_line",
    "parse_quantity", "whole_unit_refusal",
]
