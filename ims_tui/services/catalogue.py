"""Finding products and locations by anything a person might type or scan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ims_tui.db.models import Barcode, Location, Product, SupplierItem
from ims_tui.services.errors import NotFound


@dataclass(frozen=True)
class ProductMatch:
    """A product found from a code, with what the code itself says (a case counts 12)."""

    product: Product
    pack_qty: Decimal
    matched_by: str


def gtin_variants(code: str) -> list[str]:
    """The spellings one GTIN has on labels: GTIN-14 ``00012345678905`` is UPC ``012345678905``..."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return [code]
    padded = code.zfill(14)
    variants = [padded[14 - length :] for length in (14, 13, 12, 8) if padded[: 14 - length].strip("0") == ""]
    return variants or [code]


def find_product(session: Session, code: str) -> ProductMatch | None:
    """SKU, any barcode (EAN/UPC/GTIN in any padding), or a supplier's SKU; None if nothing matches."""
    code = code.strip()
    if not code:
        return None
    product = session.scalars(select(Product).where(Product.sku == code)).one_or_none()
    if product is not None:
        return ProductMatch(product, Decimal(1), "sku")
    barcode = session.scalars(
        select(Barcode).where(Barcode.code.in_(gtin_variants(code))).options(selectinload(Barcode.product))
    ).first()
    if barcode is not None:
        return ProductMatch(barcode.product, barcode.pack_qty, "barcode")
    item = session.scalars(
        select(SupplierItem).where(SupplierItem.supplier_sku == code).options(selectinload(SupplierItem.product))
    ).first()
    if item is not None:
        return ProductMatch(item.product, Decimal(1), "supplier_sku")
    return None


def resolve_product(session: Session, code: str) -> Product:
    match = find_product(session, code)
    if match is None:
        raise NotFound(f"unknown product {code!r}")
    return match.product


def find_location(session: Session, code: str) -> Location | None:
    """A location by its code or its barcode."""
    code = code.strip()
    return session.scalars(select(Location).where((Location.code == code) | (Location.barcode == code))).first()


def resolve_location(session: Session, code: str) -> Location:
    location = find_location(session, code)
    if location is None:
        raise NotFound(f"unknown location {code!r}")
    return location
