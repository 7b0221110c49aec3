"""Editing the catalogue from a station: products, barcodes and supplier items.

Thin wrappers over :mod:`ims_tui.services.catalogue` that check ``MANAGE_PRODUCTS`` first,
take form text (strings) and turn it into checked values, run in one short transaction, and
announce the change so other stations' open product screens re-read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select

from ims_tui.db.engine import Store
from ims_tui.db.models import TRACKING, Product, Supplier
from ims_tui.db.types import MONEY_SCALE, QTY_SCALE
from ims_tui import values
from ims_tui.services import catalogue
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound
from ims_tui.services.permissions import Permission, allows, check

MONEY_FIELDS = ("unit_price", "standard_cost")
QTY_FIELDS = ("reorder_point", "reorder_qty")
TEXT_FIELDS = ("name", "description", "category", "uom", "default_location")
EDITABLE_FIELDS = ("name", "description", "category", "uom", "unit_price", "standard_cost", "tracking",
                   "reorder_point", "reorder_qty", "default_location", "active")


@dataclass(frozen=True)
class SupplierChoice:
    code: str
    name: str


def can_manage(actor: Actor | None) -> bool:
    """Whether screens should offer editing (the service checks again on every change)."""
    return actor is not None and allows(actor.role, Permission.MANAGE_PRODUCTS)


def parse_number(label: str, text: str | Decimal | int, places: int) -> Decimal:
    """A non-negative number with at most ``places`` decimals, in range, or a one-line BadInput."""
    value = values.parse_number(str(text).strip() or "0", what=label, scale=places)
    if value < 0:
        raise BadInput(f"{label} must be zero or more, not {text}")
    return value


def clean_fields(fields: dict[str, object]) -> dict[str, object]:
    """Form values (strings) to what :func:`catalogue.save_product` takes; unknown names refused."""
    cleaned: dict[str, object] = {}
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise BadInput(f"unknown product field {name!r}")
        if name in MONEY_FIELDS:
            cleaned[name] = parse_number(name.replace("_", " "), value, MONEY_SCALE)
        elif name in QTY_FIELDS:
            cleaned[name] = parse_number(name.replace("_", " "), value, QTY_SCALE)
        elif name == "tracking":
            if value not in TRACKING:
                raise BadInput(f"tracking must be one of {', '.join(TRACKING)}")
            cleaned[name] = value
        elif name == "active":
            cleaned[name] = bool(value)
        else:
            text = str(value or "").strip()
            if name == "uom" and not text:
                raise BadInput("unit of measure cannot be empty")
            cleaned[name] = text or (None if name == "default_location" else "")
    return cleaned


def create_product(store: Store, actor: Actor, sku: str, fields: dict[str, object]) -> str:
    """A new product; returns its SKU.  Refuses an existing SKU."""
    check(store, actor, Permission.MANAGE_PRODUCTS, sku)
    cleaned = clean_fields(fields)

    def work(session):
        product = catalogue.save_product(session, actor, sku, cleaned, create=True)
        session.flush()
        return product.sku

    return store.transact(work)


def update_product(store: Store, actor: Actor, sku: str, fields: dict[str, object]) -> None:
    check(store, actor, Permission.MANAGE_PRODUCTS, sku)
    cleaned = clean_fields(fields)

    def work(session):
        catalogue.save_product(session, actor, sku, cleaned, create=False)
        session.flush()

    store.transact(work)


def _product(session, sku: str) -> Product:
    product = session.scalars(select(Product).where(Product.sku == sku)).one_or_none()
    if product is None:
        raise NotFound(f"unknown product {sku!r}")
    return product


def add_barcode(store: Store, actor: Actor, sku: str, code: str, pack_qty: str | Decimal = "1") -> str:
    """Give the product a barcode (check digit verified); returns the barcode as stored."""
    check(store, actor, Permission.MANAGE_PRODUCTS, sku)
    code = catalogue.validate_barcode(code)
    pack = parse_number("pack quantity", pack_qty, QTY_SCALE)

    def work(session):
        product = _product(session, sku)
        catalogue.set_barcode(session, actor, product, code, pack)

    store.transact(work)
    return code


def remove_barcode(store: Store, actor: Actor, sku: str, code: str) -> None:
    check(store, actor, Permission.MANAGE_PRODUCTS, sku)

    def work(session):
        product = _product(session, sku)
        catalogue.remove_barcode(session, actor, product, code)

    store.transact(work)


def list_suppliers(store: Store, actor: Actor) -> list[SupplierChoice]:
    check(store, actor, Permission.LOOKUP, "suppliers")
    with store.read() as session:
        rows = session.execute(select(Supplier.code, Supplier.name).where(Supplier.active).order_by(Supplier.name)).all()
    return [SupplierChoice(code, name) for code, name in rows]


def set_supplier_item(
    store: Store, actor: Actor, sku: str, supplier: str, supplier_sku: str,
    cost: str | Decimal = "", lead_time_days: str | int = "", min_order_qty: str | Decimal = "",
    pack_qty: str | Decimal = "",
) -> None:
    """Record how ``supplier`` (its code or name) sells the product: cost, lead time, minimum
    order and the pack multiple orders are rounded up to (empty values keep what they were)."""
    check(store, actor, Permission.MANAGE_PRODUCTS, sku)
    supplier = supplier.strip()
    if not supplier:
        raise BadInput("name the supplier")
    if not supplier_sku.strip():
        raise BadInput("give the supplier's SKU")
    cost_value = parse_number("cost", cost, MONEY_SCALE) if str(cost).strip() else None
    moq = parse_number("minimum order", min_order_qty, QTY_SCALE) if str(min_order_qty).strip() else None
    pack = parse_number("pack multiple", pack_qty, QTY_SCALE) if str(pack_qty).strip() else None
    lead = None
    if str(lead_time_days).strip():
        lead_number = parse_number("lead time", lead_time_days, 0)
        lead = int(lead_number)

    def work(session):
        product = _product(session, sku)
        found = session.scalars(select(Supplier).where(or_(Supplier.code == supplier, Supplier.name == supplier))).first()
        if found is None:
            raise NotFound(f"unknown supplier {supplier!r}")
        catalogue.set_supplier_item(session, actor, product, found, supplier_sku, cost_value, lead, moq, pack)

    store.transact(work)
