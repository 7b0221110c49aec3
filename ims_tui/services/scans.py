"""What a scan means in this store: a product (with lot, expiry, serial, quantity), a location,
a purchase order or a badge.  Every screen resolves scans through here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Barcode, Product, PurchaseOrder, User
from ims_tui.devices.decode import DecodedScan, decode_scan
from ims_tui.services.catalogue import find_location, find_product, gtin_variants


@dataclass(frozen=True)
class ScanResolution:
    raw: str
    kind: str  # 'product' | 'location' | 'purchase_order' | 'badge' | 'unknown'
    sku: str | None = None
    product_name: str | None = None
    pack_qty: Decimal = Decimal(1)
    lot: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None
    quantity: Decimal | None = None
    location_code: str | None = None
    po_number: str | None = None
    problems: tuple[str, ...] = ()
    message: str = ""

    @property
    def known(self) -> bool:
        return self.kind != "unknown"


def printable(text: str) -> str:
    """The scan as a person can read it: the GS1 separator shown as ``<GS>``, controls dropped."""
    return "".join("<GS>" if ch == "\x1d" else ch for ch in text if ch == "\x1d" or ch.isprintable())


def resolve_scan(store: Store, text: str) -> ScanResolution:
    with store.read() as session:
        return resolve_in(session, text)


def resolve_in(session: Session, text: str) -> ScanResolution:
    raw = text.strip("\r\n\t ")
    shown = printable(raw)
    if not raw:
        return ScanResolution(raw, "unknown", message="empty scan")
    decoded = decode_scan(raw)
    if decoded.gtin:
        return _from_gtin(session, raw, shown, decoded)
    code = decoded.plain_code or raw
    match = find_product(session, code)
    if match is not None:
        return ScanResolution(
            raw, "product", sku=match.product.sku, product_name=match.product.name, pack_qty=match.pack_qty,
            message=f"{match.product.sku} {match.product.name}",
        )
    location = find_location(session, code)
    if location is not None:
        return ScanResolution(raw, "location", location_code=location.code, message=f"location {location.code}")
    order = session.scalar(select(PurchaseOrder.number).where(PurchaseOrder.number == code))
    if order is not None:
        return ScanResolution(raw, "purchase_order", po_number=order, message=f"purchase order {order}")
    if session.scalar(select(User.id).where(User.badge_code == code)) is not None:
        return ScanResolution(raw, "badge", message="badge")
    problems = decoded.problems
    return ScanResolution(raw, "unknown", problems=problems, message=f"unknown code: {shown}" + (f" ({problems[0]})" if problems else ""))


def resolve_product_in(session: Session, text: str) -> ScanResolution:
    """A scan that must name a product (with what the label says); else :class:`NotFound`."""
    from ims_tui.services.errors import BadInput, NotFound

    scan = resolve_in(session, text)
    if scan.kind != "product":
        raise NotFound(scan.message if scan.kind == "unknown" else f"{printable(text.strip())!r} is not a product")
    if scan.problems:
        raise BadInput(f"{printable(scan.raw)}: {scan.problems[0]}")
    return scan


def _from_gtin(session: Session, raw: str, shown: str, decoded: DecodedScan) -> ScanResolution:
    if not decoded.gtin_valid:
        reason = decoded.problems[0] if decoded.problems else "bad check digit"
        return ScanResolution(raw, "unknown", problems=decoded.problems, message=f"unknown code: {shown} ({reason})")
    barcode = session.execute(
        select(Barcode.pack_qty, Product.sku, Product.name)
        .join(Product, Product.id == Barcode.product_id)
        .where(Barcode.code.in_(gtin_variants(decoded.gtin)))
    ).first()
    if barcode is None:
        return ScanResolution(
            raw, "unknown", problems=decoded.problems, message=f"unknown code: {shown} (no product has GTIN {decoded.gtin})"
        )
    pack_qty, sku, name = barcode
    return ScanResolution(
        raw, "product", sku=sku, product_name=name, pack_qty=pack_qty, lot=decoded.lot, expiry=decoded.expiry,
        serial=decoded.serial, quantity=decoded.quantity, problems=decoded.problems, message=f"{sku} {name}",
    )
