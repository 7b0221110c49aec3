"""Decode one scan into what a warehouse needs: GTIN, lot, expiry, serial, quantity.

:func:`decode_scan` never raises.  Whatever it cannot make sense of goes into
``DecodedScan.problems`` as a line a person can act on; text that is simply not GS1 data
(a SKU, a bin label) comes back as ``plain_code`` with no problems.

How a scan is read:

- a symbology identifier (``]C1``, ``]d2``, ``]E0`` ...) is stripped and named; GS1
  symbologies are read as GS1 element strings, EAN/UPC/ITF-14 as a GTIN;
- without one, the text is GS1 when it holds a GS separator or starts with a complete
  (00) SSCC or (01)/(02) GTIN element, GS1 in brackets when it starts like ``(01)``,
  a GTIN when it is 8, 12, 13 or 14 digits, a Digital Link when it is an ``http(s)`` URL
  that parses as one; anything else is a plain code;
- the GS separator may be the real character (``\\x1d``), the text ``<GS>`` or the
  four characters ``\\x1d`` (what people paste into a shell).

Parsing itself is biip's; this module only picks the parser, keeps what was read before
an error, and words the problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.symbology import GS1Symbology, ISOSymbology, SymbologyIdentifier
from biip.upc import Upc

GS = "\x1d"

_GS_SPELLINGS = re.compile(r"<GS>|\\x1d", re.IGNORECASE)
_GS1_START = re.compile(r"^(?:0[12]\d{14}|00\d{18})")
_HRI_START = re.compile(r"^\(\d{2,4}\)")
_GS1_LINK_PATH = re.compile(r"/(?:01|00|02|414|8004|8006|8010|8013|8017|8018|253|255|401|402|417)/")

_SYMBOLOGY_NAMES = {
    GS1Symbology.GS1_128: "GS1-128",
    GS1Symbology.GS1_DATAMATRIX: "GS1 DataMatrix",
    GS1Symbology.GS1_QR_CODE: "GS1 QR Code",
    GS1Symbology.GS1_DATABAR: "GS1 DataBar",
    GS1Symbology.GS1_COMPOSITE_WITH_SEPARATOR_CHAR: "GS1 Composite",
    GS1Symbology.GS1_COMPOSITE_WITH_ESCAPE_CHAR: "GS1 Composite",
    GS1Symbology.GS1_DOTCODE: "GS1 DotCode",
    GS1Symbology.EAN_13: "EAN-13/UPC",
    GS1Symbology.EAN_13_WITH_ADD_ON: "EAN-13/UPC with add-on",
    GS1Symbology.EAN_8: "EAN-8",
    GS1Symbology.ITF_14: "ITF-14",
    GS1Symbology.EAN_TWO_DIGIT_ADD_ON: "EAN 2-digit add-on",
    GS1Symbology.EAN_FIVE_DIGIT_ADD_ON: "EAN 5-digit add-on",
}
_ISO_NAMES = {
    ISOSymbology.CODE_39: "Code 39",
    ISOSymbology.CODE_128: "Code 128",
    ISOSymbology.EAN_UPC: "EAN/UPC",
    ISOSymbology.CODABAR: "Codabar",
    ISOSymbology.CODE_93: "Code 93",
    ISOSymbology.ITF: "Interleaved 2 of 5",
    ISOSymbology.PDF417: "PDF417",
    ISOSymbology.QR_CODE: "QR Code",
    ISOSymbology.DATA_MATRIX: "Data Matrix",
    ISOSymbology.AZTEC_CODE: "Aztec",
    ISOSymbology.MAXICODE: "MaxiCode",
}

_DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17"})
# What a lot typically runs into when the scanner drops the GS after it.
_AIS_SWALLOWED_BY_LOT = ("11", "13", "15", "16", "17", "21", "310")
# Bad dates become a problem on that element instead of losing everything after it.
_LENIENT = ParseConfig(gs1_element_strings_verify_date=False)


@dataclass(frozen=True)
class DecodedScan:
    """What one scan says.  ``problems`` empty means it can be trusted as read."""

    raw: str
    symbology: str | None = None
    """Human name of the symbology from the identifier, e.g. ``GS1-128``; None without one."""
    symbology_id: str | None = None
    """The identifier as sent, e.g. ``]C1``."""
    gtin: str | None = None
    """14 digits (shorter GTINs zero-padded), also when the check digit is wrong."""
    gtin_valid: bool = False
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None
    quantity: Decimal | None = None
    """AI (30) variable count or (37) count of trade items, whichever comes first."""
    net_weight_kg: Decimal | None = None
    elements: tuple[tuple[str, str, str], ...] = ()
    """Other GS1 elements as (ai, description, value)."""
    digital_link: bool = False
    plain_code: str | None = None
    """The scanned text without symbology identifier, when it is not GS1 element data."""
    problems: tuple[str, ...] = ()

    @property
    def is_gs1(self) -> bool:
        """True for GS1 element data (also Digital Link), False for GTIN-only and plain codes."""
        return self.plain_code is None

    def summary(self) -> str:
        """One line for a status bar or a log."""
        parts = [self.symbology] if self.symbology else []
        if self.gtin:
            parts.append(f"GTIN {self.gtin}" + ("" if self.gtin_valid else " (bad check digit)"))
        if self.plain_code is not None and not self.gtin:
            parts.append(f"code {self.plain_code!r}")
        parts += [f"{name} {value}" for name, value in self._named_fields() if value is not None]
        parts += [f"({ai}) {value}" for ai, _, value in self.elements]
        if self.digital_link:
            parts.append("Digital Link")
        if self.problems:
            parts.append("PROBLEM: " + "; ".join(self.problems))
        return "  ".join(parts)

    def _named_fields(self) -> list[tuple[str, Any]]:
        return [
            ("lot", self.lot),
            ("expiry", self.expiry),
            ("serial", self.serial),
            ("quantity", self.quantity),
            ("net weight kg", self.net_weight_kg),
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO text, decimals as exact strings."""
        return {
            "raw": self.raw,
            "symbology": self.symbology,
            "symbology_id": self.symbology_id,
            "gtin": self.gtin,
            "gtin_valid": self.gtin_valid,
            "lot": self.lot,
            "expiry": self.expiry.isoformat() if self.expiry else None,
            "serial": self.serial,
            "quantity": _decimal_text(self.quantity),
            "net_weight_kg": _decimal_text(self.net_weight_kg),
            "elements": [{"ai": ai, "description": d, "value": v} for ai, d, v in self.elements],
            "digital_link": self.digital_link,
            "plain_code": self.plain_code,
            "problems": list(self.problems),
        }


def decode_scan(text: str) -> DecodedScan:
    """Decode one scan (with or without symbology identifier); never raises."""
    body = _GS_SPELLINGS.sub(GS, text).strip()
    identifier = _extract_symbology(body)
    if identifier is not None:
        body = body[len(identifier) :]
    head = DecodedScan(
        raw=text,
        symbology=_symbology_name(identifier),
        symbology_id=identifier.value if identifier else None,
    )
    gs1_symbology = identifier.gs1_symbology if identifier else None

    if not body:
        return replace(head, plain_code="", problems=("empty scan",))
    if body.lower().startswith(("http://", "https://")):
        return _decode_link(head, body)
    if gs1_symbology in GS1Symbology.with_gs1_messages():
        return _decode_element_strings(head, body)
    if gs1_symbology in GS1Symbology.with_gtin():
        return _decode_gtin(head, body, upc_e=gs1_symbology is GS1Symbology.EAN_13 and len(body) == 8)
    if identifier is None:
        if GS in body or _GS1_START.match(body):
            return _decode_element_strings(head, body)
        if _HRI_START.match(body):
            return _decode_hri(head, body)
        if body.isdigit() and len(body) in (8, 12, 13, 14):
            return _decode_gtin(head, body, upc_e=False)
    return replace(head, plain_code=body)


def _extract_symbology(body: str) -> SymbologyIdentifier | None:
    if not body.startswith("]"):
        return None
    try:
        return SymbologyIdentifier.extract(body)
    except (ParseError, ValueError, IndexError):
        return None  # a "]" that is not an identifier is part of a plain code


def _symbology_name(identifier: SymbologyIdentifier | None) -> str | None:
    if identifier is None:
        return None
    if identifier.gs1_symbology is not None:
        return _SYMBOLOGY_NAMES[identifier.gs1_symbology]
    return _ISO_NAMES.get(identifier.iso_symbology, identifier.iso_symbology.name.replace("_", " ").title())


def _decode_gtin(head: DecodedScan, digits: str, *, upc_e: bool) -> DecodedScan:
    if upc_e:
        try:
            digits = Upc.parse(digits).as_upc_a()
        except ParseError:
            return replace(head, plain_code=digits, problems=(f"{digits!r} is not a valid UPC-E code",))
    if not digits.isdigit() or len(digits) not in (8, 12, 13, 14):
        return replace(
            head, plain_code=digits, problems=(f"{digits!r} is not a GTIN: expected 8, 12, 13 or 14 digits",)
        )
    gtin, valid, problems = _check_gtin(digits)
    return replace(head, gtin=gtin, gtin_valid=valid, plain_code=digits, problems=problems)


def _check_gtin(digits: str) -> tuple[str, bool, tuple[str, ...]]:
    try:
        Gtin.parse(digits)
    except ParseError:
        expected = gs1_standard_check_digit(digits[:-1])
        return digits.zfill(14), False, (
            f"GTIN {digits} has a wrong check digit (expected {expected}, got {digits[-1]}) - misread or mistyped",
        )
    return digits.zfill(14), True, ()


def _decode_link(head: DecodedScan, url: str) -> DecodedScan:
    try:
        link = GS1DigitalLinkURI.parse(url, config=_LENIENT)
    except ParseError as exc:
        if _GS1_LINK_PATH.search(url):
            return replace(head, digital_link=True, problems=(f"not a valid GS1 Digital Link: {exc}",))
        return replace(head, plain_code=url)
    return _from_elements(replace(head, digital_link=True), list(link.element_strings), unread="")


def _decode_hri(head: DecodedScan, text: str) -> DecodedScan:
    try:
        message = GS1Message.parse_hri(text, config=_LENIENT)
    except ParseError as exc:
        return replace(head, problems=(f"cannot read GS1 data in brackets: {exc}",))
    return _from_elements(head, list(message.element_strings), unread="")


def _decode_element_strings(head: DecodedScan, data: str) -> DecodedScan:
    """Read element strings one by one with biip, keeping those read before an error.

    Same steps as ``GS1Message.parse``, which gives all or nothing; a receiver wants the
    GTIN even when the lot after it is damaged.
    """
    elements: list[GS1ElementString] = []
    rest = data.lstrip(GS)
    while rest:
        try:
            element = GS1ElementString.extract(rest, config=_LENIENT)
        except ParseError:
            break
        elements.append(element)
        rest = rest[len(element) :].lstrip(GS)
    decoded = _from_elements(head, elements, unread=rest)
    swallowed = _swallowed_by_lot(elements, rest) if GS not in data else None
    if swallowed is not None:
        return replace(decoded, problems=(*decoded.problems, swallowed))
    if rest:
        return replace(decoded, problems=(*decoded.problems, _unreadable(rest)))
    return decoded


def _from_elements(head: DecodedScan, elements: list[GS1ElementString], *, unread: str) -> DecodedScan:
    fields: dict[str, Any] = {}
    problems: list[str] = []
    others: list[tuple[str, str, str]] = []
    for element in elements:
        ai = element.ai.ai
        if ai == "01" and "gtin" not in fields:
            fields["gtin"], fields["gtin_valid"], gtin_problems = _check_gtin(element.value)
            problems += gtin_problems
        elif ai == "10" and "lot" not in fields:
            fields["lot"] = element.value
            if not element.value:
                problems.append("lot (10) is empty")
        elif ai == "17" and "expiry" not in fields:
            fields["expiry"] = element.date
            if element.date is None:
                problems.append(_not_a_date(element.ai, element.value))
        elif ai == "21" and "serial" not in fields:
            fields["serial"] = element.value
            if not element.value:
                problems.append("serial (21) is empty")
        elif ai in ("30", "37") and "quantity" not in fields:
            if element.value:
                fields["quantity"] = Decimal(element.value)
            else:
                problems.append(f"({ai}) {element.ai.description.lower()} is empty")
        elif ai.startswith("310") and "net_weight_kg" not in fields:
            fields["net_weight_kg"] = element.decimal
        else:
            if ai in _DATE_AIS and element.date is None:
                problems.append(_not_a_date(element.ai, element.value))
            others.append((ai, element.ai.description, element.value))
    if not elements and not unread:
        problems.append("no GS1 data")
    return replace(head, elements=tuple(others), problems=tuple(problems), **fields)


def _swallowed_by_lot(elements: list[GS1ElementString], unread: str) -> str | None:
    """Say so when the lot seems to contain the elements that should follow it.

    A lot is variable-length, so without a GS after it the parser takes everything up to
    20 characters.  Only scans without any GS are checked: a scanner that sends GS at all
    sends it after the lot too.
    """
    lots = [e for e in elements if e.ai.ai == "10"]
    if not lots:
        return None
    lot = lots[0]
    lot_is_last = elements[-1] is lot
    tail_after = unread if lot_is_last else ""
    present = {e.ai.ai for e in elements if e is not lot}
    for cut in range(1, len(lot.value)):
        tail = lot.value[cut:] + tail_after
        if not tail.startswith(_AIS_SWALLOWED_BY_LOT):
            continue
        try:
            swallowed = GS1Message.parse(tail).element_strings
        except ParseError:
            continue
        if present.isdisjoint(e.ai.ai for e in swallowed):
            found = " ".join(f"({e.ai.ai}) {e.value}" for e in swallowed)
            return (
                f"lot {lot.value!r} seems to contain {found}: the GS separator after the lot is missing"
                f" (the lot is probably {lot.value[:cut]!r}) - set the scanner to send GS/FNC1"
            )
    return None


def _unreadable(rest: str) -> str:
    try:
        ai = GS1ApplicationIdentifier.extract(rest)
    except ParseError:
        return f"no GS1 application identifier at {rest!r}"
    value = rest[len(ai.ai) :]
    if ai.ai in _DATE_AIS:
        return _not_a_date(ai, value[:6])
    return f"cannot read ({ai.ai}) {ai.description} from {value!r} (format {ai.format})"


def _not_a_date(ai: GS1ApplicationIdentifier, value: str) -> str:
    name = "expiry" if ai.ai == "17" else ai.description.removesuffix(" (YYMMDD)").lower()
    return f"{name} ({ai.ai}) {value!r} is not a date (YYMMDD)"


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
