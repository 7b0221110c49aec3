"""Labels from the store: what a product, location or lot label shows, and one print job.

Rendering (ZPL, SVG) and the raw-TCP send live in :mod:`ims_tui.devices.labels`; this module
reads the store to fill a :class:`~ims_tui.devices.labels.LabelData`, checks the permission,
renders, sends to a printer or writes a file, and audits every job as ``label.print``.

Failures map to the CLI's exit codes: an unknown product, location or lot, a malformed
``HOST[:PORT]`` or an unwritable file is bad input (2); data the label formats cannot carry
(a GS1 lot with characters GS1 forbids) is refused by a rule (1); a printer that does not take
the job is :class:`PrinterError` (1) - nothing is wrong with the input, so not 2, and it is not
the store, so not 4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from biip import ParseError
from biip.gtin import Gtin
from sqlalchemy import select

from ims_tui.db.models import Barcode, Lot, PurchaseOrder, Supplier
from ims_tui.devices.labels import (
    LabelData,
    LabelError,
    LabelSize,
    location_label,
    lot_label,
    product_label,
    send_zpl,
    to_svg,
    to_zpl,
)
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, find_product
from ims_tui.services.errors import BadInput, ImsError, NotFound, RuleViolation
from ims_tui.services.permissions import Permission, check
from ims_tui.services.outputs import write_output

if TYPE_CHECKING:
    from ims_tui.db.engine import Store

LabelFormat = Literal["zpl", "svg"]
FORMATS: tuple[LabelFormat, ...] = ("zpl", "svg")
DEFAULT_PORT = 9100
MAX_COPIES = 999
"""ZPL's own ``^PQ`` limit is far higher; this catches a mistyped count before a roll is wasted."""


class PrinterError(ImsError):
    """The printer did not take the job (unknown host, refused, no answer).  Exit code 1."""

    exit_code = 1


@dataclass(frozen=True)
class PrinterAddress:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class PrintJob:
    """What was printed: the labels, how many of each, in which format, and where to."""

    labels: tuple[LabelData, ...]
    copies: int
    format: LabelFormat
    destination: str
    """``printer HOST:PORT``, ``file PATH`` or ``stdout``."""
    size: int
    """Bytes sent or written."""

    def what(self) -> str:
        """e.g. ``2 copies of HEX-M6 as ZPL``."""
        labels = ", ".join(_describe(label) for label in self.labels)
        copies = f"{self.copies} copies" if self.copies != 1 else "1 copy"
        return f"{copies} of {labels} as {self.format.upper()}"

    def summary(self) -> str:
        return f"printed {self.what()} to {self.destination}"

    def to_dict(self) -> dict:
        return {
            "labels": [asdict(label) for label in self.labels],
            "copies": self.copies,
            "format": self.format,
            "destination": self.destination,
            "bytes": self.size,
        }


def parse_printer(text: str) -> PrinterAddress:
    """``HOST``, ``HOST:PORT``, ``[IPv6]``, ``[IPv6]:PORT`` or a bare IPv6 address; port 9100 by default."""
    spec = text.strip()
    host, port_text = spec, ""
    if spec.startswith("["):
        closing = spec.find("]")
        rest = spec[closing + 1 :]
        if closing < 0 or (rest and not rest.startswith(":")):
            raise BadInput(f"printer {text!r}: write an IPv6 address as [ADDRESS] or [ADDRESS]:PORT")
        host, port_text = spec[1:closing], rest[1:]
        _ipv6(host, text)
    elif spec.count(":") > 1:
        _ipv6(spec, text)  # a bare IPv6 address: no port possible without brackets
    elif ":" in spec:
        host, port_text = spec.split(":")
    if not host or any(c.isspace() for c in host):
        raise BadInput(f"printer {text!r}: expected HOST or HOST:PORT")
    if port_text == "" and spec.endswith(":"):
        raise BadInput(f"printer {text!r}: the port after ':' is missing")
    if not port_text:
        return PrinterAddress(host)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BadInput(f"printer {text!r}: port must be a number from 1 to 65535")
    return PrinterAddress(host, int(port_text))


def _ipv6(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise BadInput(f"printer {text!r}: {host!r} is not an IPv6 address (write [ADDRESS]:PORT)") from None


# --- what a label shows -------------------------------------------------------------------


def label_for_product(store: Store, actor: Actor, code: str) -> LabelData:
    """Name, SKU as Code 128, and a GS1 DataMatrix of the product's unit GTIN when it has one.

    ``code`` is anything that finds the product (SKU, barcode, supplier SKU, GS1 scan).
    """
    check(store, actor, Permission.LOOKUP, code)
    with store.read() as session:
        match = find_product(session, code)
        if match is None:
            raise NotFound(f"unknown product {code!r}")
        product = match.product
        sku, name, gtin = product.sku, product.name, _unit_gtin(session, product.id)
    return _make(f"product {sku}", lambda: product_label(sku, name, gtin=gtin))


def label_for_location(store: Store, actor: Actor, code: str) -> LabelData:
    """Name and code; the Code 128 carries the location's own barcode when it has one."""
    check(store, actor, Permission.LOOKUP, code)
    with store.read() as session:
        location = find_location(session, code)
        if location is None:
            raise NotFound(f"unknown location {code!r}")
        loc_code, name, barcode = location.code, location.name, location.barcode
    return _make(f"location {loc_code}", lambda: location_label(loc_code, name or None, barcode=barcode))


def label_for_po(store: Store, actor: Actor, number: str) -> LabelData:
    """A purchase order's number as Code 128, for the paperwork: the receiving desk scans it."""
    check(store, actor, Permission.LOOKUP, number)
    with store.read() as session:
        row = session.execute(
            select(PurchaseOrder.number, Supplier.name)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(PurchaseOrder.number == number.strip().upper())
        ).one_or_none()
    if row is None:
        raise NotFound(f"unknown purchase order {number!r}")
    po_number, supplier = row
    return _make(f"purchase order {po_number}", lambda: LabelData(title=f"{po_number} {supplier}", code=po_number, barcode=po_number))


def label_for_lot(store: Store, actor: Actor, product_code: str, lot_code: str) -> LabelData:
    """The product's label with lot (10) and expiry (17): in the DataMatrix when there is a GTIN."""
    check(store, actor, Permission.LOOKUP, f"{product_code} lot {lot_code}")
    with store.read() as session:
        match = find_product(session, product_code)
        if match is None:
            raise NotFound(f"unknown product {product_code!r}")
        product = match.product
        lot = session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == lot_code.strip())).one_or_none()
        if lot is None:
            raise NotFound(f"product {product.sku} has no lot {lot_code!r}")
        sku, name, gtin = product.sku, product.name, _unit_gtin(session, product.id)
        code, expiry = lot.code, lot.expiry
    return _make(f"lot {code} of {sku}", lambda: lot_label(sku, name, gtin=gtin, lot=code, expiry=expiry))


def _unit_gtin(session, product_id: int) -> str | None:
    """The first barcode that is a valid GTIN for one unit (a case GTIN must not mark a unit)."""
    rows = session.execute(
        select(Barcode.code, Barcode.pack_qty).where(Barcode.product_id == product_id).order_by(Barcode.id)
    )
    for code, pack_qty in rows:
        if pack_qty == 1 and code.isdigit() and len(code) in (8, 12, 13, 14):
            try:
                Gtin.parse(code)
            except ParseError:
                continue
            return code
    return None


def _make(what: str, build) -> LabelData:
    try:
        return build()
    except LabelError as exc:
        raise RuleViolation(f"{what} cannot be labelled: {exc}") from None


def _describe(label: LabelData) -> str:
    lot = f" lot {label.lot}" if label.lot is not None else ""
    return f"{label.code}{lot}"


# --- printing -----------------------------------------------------------------------------


def render(labels: Sequence[LabelData], fmt: LabelFormat = "zpl", copies: int = 1, size: LabelSize = LabelSize()) -> str:
    """The document to send or write: ZPL formats one after another, each repeated ``copies`` times
    (repeating the format rather than ``^PQ`` keeps each label a self-contained ``^XA...^XZ``);
    SVG holds exactly one label."""
    if fmt not in FORMATS:
        raise BadInput(f"label format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not labels:
        raise BadInput("no labels to print")
    if isinstance(copies, bool) or not 1 <= copies <= MAX_COPIES:
        raise BadInput(f"copies must be from 1 to {MAX_COPIES}, not {copies}")
    try:
        if fmt == "svg":
            if len(labels) > 1 or copies > 1:
                raise BadInput("an SVG file holds one label: print copies from the office printer's dialog")
            return to_svg(labels[0], size)
        return "".join(to_zpl(label, size) * copies for label in labels)
    except LabelError as exc:
        raise RuleViolation(f"label cannot be made: {exc}") from None


def print_labels(
    store: Store,
    actor: Actor,
    labels: Sequence[LabelData],
    *,
    printer: str | None = None,
    output: Path | TextIO | None = None,
    fmt: LabelFormat = "zpl",
    copies: int = 1,
    size: LabelSize = LabelSize(),
    timeout: float = 5.0,
) -> PrintJob:
    """Render ``labels`` and send them to ``printer`` (``HOST[:PORT]``, raw TCP) or write them to
    ``output`` (a path, or an open text stream such as stdout); exactly one of the two.

    Checks PRINT_LABELS first; audits the job as ``label.print`` - ``ok``, or ``failed`` with the
    reason when the printer or file did not take it.
    """
    if (printer is None) == (output is None):
        raise BadInput("print to a printer or to a file: exactly one of the two")
    target = ", ".join(_describe(label) for label in labels)
    check(store, actor, Permission.PRINT_LABELS, target)
    address = parse_printer(printer) if printer is not None else None
    if address is not None and fmt != "zpl":
        raise BadInput("a label printer's raw port takes ZPL: write SVG to a file instead")
    document = render(labels, fmt, copies, size)
    payload = document.encode("utf-8")
    if address is not None:
        destination = f"printer {address}"
    elif isinstance(output, Path):
        destination = f"file {output}"
    else:
        destination = "stdout"
    job = PrintJob(tuple(labels), copies, fmt, destination, len(payload))
    try:
        if address is not None:
            try:
                send_zpl(address.host, payload, port=address.port, timeout=timeout)
            except LabelError as exc:
                raise PrinterError(str(exc)) from None
        elif isinstance(output, Path):
            _write_file(output, payload)
        else:
            output.write(document)
            output.flush()
    except ImsError as exc:
        _audit(store, actor, target, f"{job.what()} not printed: {exc}", "failed")
        raise
    _audit(store, actor, target, job.summary(), "ok")
    return job


def _write_file(path: Path, payload: bytes) -> None:
    write_output(path, lambda scratch: scratch.write_bytes(payload))


def _audit(store: Store, actor: Actor, target: str, summary: str, outcome: str) -> None:
    def _work(session):
        audit.record(session, actor, "label.print", target, summary, outcome=outcome)

    return store.transact(_work)
