"""Finding products and locations by anything a person might type or scan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ims_tui.db.models import LOCATION_KINDS, TRACKING, Balance, Barcode, Location, Product, Supplier, SupplierItem, Warehouse
from ims_tui.services import alerts, audit
from ims_tui.services.changes import emit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.text import check_text
from ims_tui import values
from ims_tui.values import MONEY_SCALE


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
    significant = len(padded.lstrip("0"))  # a spelling keeps every digit after the leading zeros
    if significant > 13:
        return [padded]
    if significant > 12:
        return [padded, padded[1:]]
    if significant > 8:
        return [padded, padded[1:], padded[2:]]
    return [padded, padded[1:], padded[2:], padded[6:]]


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit of ASCII digits ``body`` (biip's ``gs1_standard_check_digit``, several
    times faster: an import checks one for each of 100,000 barcodes)."""
    weighted = 3 * sum(map(int, body[-1::-2])) + sum(map(int, body[-2::-2]))
    return -weighted % 10


def find_product(session: Session, code: str) -> ProductMatch | None:
    """SKU, any barcode (EAN/UPC/GTIN in any padding), a supplier's SKU, or a whole GS1 scan
    (element string or Digital Link) carrying the GTIN; None if nothing matches."""
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
    from ims_tui.devices.decode import decode_scan  # biip costs ~90 ms to import: only when needed

    decoded = decode_scan(code)
    if decoded.gtin and decoded.gtin_valid and decoded.gtin != code:
        return find_product(session, decoded.gtin)
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


def resolve_bin(session: Session, code: str, *, what: str = "the bin") -> Location:
    """A bin that holds stock: an area, a virtual or an inactive location is refused, in one line."""
    location = resolve_location(session, code)
    if location.kind == "view":
        raise RuleViolation(f"{location.code} is an area, not a bin: scan {what}")
    if not location.holds_stock:
        raise RuleViolation(f"{location.code} is a {location.kind} location, not a bin: scan a bin")
    if not location.active:
        raise RuleViolation(f"{location.code} is inactive: scan another bin")
    return location


# --- changing the catalogue -------------------------------------------------------------------

PRODUCT_FIELDS = (
    "name", "description", "category", "uom", "unit_price", "standard_cost", "tracking",
    "reorder_point", "reorder_qty", "default_location", "active", "min_shelf_life_days",
)


def validate_barcode(code: str) -> str:
    """A barcode as stored: stripped; an all-digit GTIN length must carry a valid check digit."""
    code = code.strip()
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14) and gs1_check_digit(code[:-1]) == int(code[-1]):
        return code  # a valid GTIN, plain text shorter than any limit: all Gtin.parse checks, and it is slow
    code = check_text("barcode", code)
    if not code:
        raise BadInput("a barcode cannot be empty")
    if code.isdigit() and len(code) in (8, 12, 13, 14):  # a wrong check digit (or other digits): Gtin.parse says what
        try:
            from biip import ParseError
            from biip.gtin import Gtin

            Gtin.parse(code)
        except ParseError as exc:
            raise BadInput(f"barcode {code}: {exc}") from None
    return code


def _days(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise BadInput(f"minimum shelf life is a whole number of days, not {value!r}")
    return int(text)


def _product_changes(session: Session, product: Product, fields: dict[str, Any]) -> list[str]:
    """Apply validated field changes to ``product``; returns 'field: old -> new' lines for the audit."""
    changes = []
    for name, value in fields.items():
        if name not in PRODUCT_FIELDS:
            raise BadInput(f"unknown product field {name!r}")
        if name == "default_location":
            location = resolve_location(session, value) if value else None
            old = product.default_location.code if product.default_location else None
            if (location.code if location else None) != old:
                product.default_location = location
                changes.append(f"default_location: {old} -> {location.code if location else None}")
            continue
        if name == "tracking" and value not in TRACKING:
            raise BadInput(f"tracking must be one of {', '.join(TRACKING)}, not {value!r}")
        if name in ("unit_price", "standard_cost", "reorder_point", "reorder_qty"):
            value = _non_negative(name, value)
        if name == "min_shelf_life_days":
            value = _days(value)
        if name == "name" and not str(value).strip():
            raise BadInput("a product needs a name")
        if name in _PRODUCT_TEXT and isinstance(value, str):
            check_text(name, value)
        old_value = getattr(product, name)
        if old_value != value:
            if name == "tracking" and product.id is not None and _has_stock(session, product.id):
                raise RuleViolation(f"cannot change tracking of {product.sku} while it has stock")
            setattr(product, name, value)
            changes.append(f"{name}: {old_value} -> {value}")
    return changes


_PRODUCT_TEXT = ("name", "description", "category", "uom")


def _non_negative(name: str, value: Any) -> Decimal:
    number = values.parse_number(str(value), what=name, scale=MONEY_SCALE)
    if number < 0:
        raise BadInput(f"{name} cannot be negative or infinite ({value})")
    return number


def _has_stock(session: Session, product_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(Balance).where(Balance.product_id == product_id, Balance.on_hand > 0)) > 0


def save_product(session: Session, actor: Actor, sku: str, fields: dict[str, Any], *, create: bool | None = None) -> Product:
    """Create or update a product by SKU inside the caller's transaction (audited).

    ``create=True`` refuses an existing SKU, ``False`` a missing one, ``None`` upserts.
    """
    sku = check_text("sku", sku.strip())
    if not sku:
        raise BadInput("a product needs a SKU")
    product = session.scalars(select(Product).where(Product.sku == sku)).one_or_none()
    if product is None and create is False:
        raise NotFound(f"unknown product {sku!r}")
    if product is not None and create is True:
        raise RuleViolation(f"product {sku} already exists")
    if product is None:
        if not str(fields.get("name", "")).strip():
            raise BadInput(f"product {sku} needs a name")
        product = Product(sku=sku, name="", description="", category="", uom="ea", tracking="none",
                          unit_price=Decimal(0), standard_cost=Decimal(0), average_cost=Decimal(0),
                          reorder_point=Decimal(0), reorder_qty=Decimal(0), active=True)
        session.add(product)
        changes = _product_changes(session, product, fields)
        session.flush()
        audit.record(session, actor, "product.create", sku, "; ".join(changes), product_id=product.id)
        emit(session, "products", product.id)
    else:
        changes = _product_changes(session, product, fields)
        if changes:
            audit.record(session, actor, "product.update", sku, "; ".join(changes), product_id=product.id)
            emit(session, "products", product.id)
    if any(change.startswith(("reorder_point:", "reorder_qty:", "default_location:")) for change in changes):
        session.flush()
        alerts.follow_product(session, product)  # its home warehouse's reorder settings
    return product


def set_barcode(session: Session, actor: Actor, product: Product, code: str, pack_qty: Decimal = Decimal(1)) -> None:
    """Give ``product`` a barcode (a case barcode counts ``pack_qty``); refuses one owned by another product."""
    code = validate_barcode(code)
    pack_qty = _non_negative("pack quantity", pack_qty)
    if pack_qty == 0:
        raise BadInput("pack quantity must be at least 1")
    existing = session.scalars(select(Barcode).where(Barcode.code == code)).one_or_none()
    if existing is not None and existing.product_id != product.id:
        owner = session.get(Product, existing.product_id)
        raise RuleViolation(f"barcode {code} already belongs to {owner.sku}")
    if existing is None:
        session.add(Barcode(product_id=product.id, code=code, pack_qty=pack_qty))
        audit.record(session, actor, "barcode.add", product.sku, f"{code} x{pack_qty}", product_id=product.id)
        emit(session, "products", product.id)
    elif existing.pack_qty != pack_qty:
        audit.record(session, actor, "barcode.update", product.sku, f"{code} x{existing.pack_qty} -> x{pack_qty}", product_id=product.id)
        emit(session, "products", product.id)
        existing.pack_qty = pack_qty


def remove_barcode(session: Session, actor: Actor, product: Product, code: str) -> None:
    barcode = session.scalars(select(Barcode).where(Barcode.code == code, Barcode.product_id == product.id)).one_or_none()
    if barcode is None:
        raise NotFound(f"{product.sku} has no barcode {code}")
    session.delete(barcode)
    audit.record(session, actor, "barcode.remove", product.sku, code, product_id=product.id)
    emit(session, "products", product.id)


def save_supplier(session: Session, actor: Actor, name: str, fields: dict[str, Any]) -> Supplier:
    """Create or update a supplier by name (code defaults to a slug of the name)."""
    name = check_text("supplier", name.strip())
    if not name:
        raise BadInput("a supplier needs a name")
    for key, field in (("code", "supplier code"), ("email", "email"), ("phone", "phone")):
        if isinstance(fields.get(key), str):
            check_text(field, fields[key])
    supplier = session.scalars(select(Supplier).where(Supplier.name == name)).one_or_none()
    created = supplier is None
    if created:
        code = str(fields.get("code") or "".join(ch for ch in name.upper() if ch.isalnum())[:12])
        supplier = Supplier(name=name, code=code, lead_time_days=7, active=True)
        session.add(supplier)
    lead_time = supplier.lead_time_days
    for key in ("code", "email", "phone", "lead_time_days"):
        if key in fields and fields[key] not in (None, ""):
            value = fields[key]
            if key == "lead_time_days":
                value = int(_non_negative(key, value))
            setattr(supplier, key, value)
    session.flush()
    audit.record(session, actor, "supplier.create" if created else "supplier.update", name)
    if not created and supplier.lead_time_days != lead_time:
        alerts.supplier_changed(session, supplier.id)  # PO lines come within (or leave) the lead time
    return supplier


def set_supplier_item(
    session: Session, actor: Actor, product: Product, supplier: Supplier, supplier_sku: str,
    cost: Decimal | None = None, lead_time_days: int | None = None, min_order_qty: Decimal | None = None,
    pack_qty: Decimal | None = None,
) -> SupplierItem:
    item = session.scalars(
        select(SupplierItem).where(SupplierItem.supplier_id == supplier.id, SupplierItem.product_id == product.id)
    ).first()
    if item is None:
        item = SupplierItem(supplier_id=supplier.id, product_id=product.id, supplier_sku=supplier_sku.strip(),
                            cost=Decimal(0), min_order_qty=Decimal(1), pack_qty=Decimal(1))
        session.add(item)
    item.supplier_sku = check_text("supplier SKU", supplier_sku.strip()) or product.sku
    if cost is not None:
        item.cost = _non_negative("cost", cost)
    if lead_time_days is not None:
        item.lead_time_days = int(lead_time_days)
    if min_order_qty is not None:
        item.min_order_qty = _non_negative("minimum order", min_order_qty)
    if pack_qty is not None:
        item.pack_qty = _non_negative("pack multiple", pack_qty)
        if item.pack_qty == 0:
            raise BadInput("a pack multiple is at least 1")
    audit.record(session, actor, "supplier_item.set", product.sku, f"{supplier.name}: {item.supplier_sku}", product_id=product.id)
    emit(session, "products", product.id)
    session.flush()
    alerts.refresh(session, [product.id])  # its lead time decides which PO lines count
    return item


def save_location(
    session: Session, actor: Actor, code: str, *, name: str = "", parent: str | None = None,
    warehouse: str | None = None, barcode: str | None = None, kind: str = "internal",
) -> Location:
    """Create or update a location by code; a named warehouse is created if it does not exist."""
    code = check_text("location", code.strip())
    if not code:
        raise BadInput("a location needs a code")
    check_text("location name", name)
    check_text("barcode", (barcode or "").strip())
    check_text("warehouse", warehouse or "")
    if kind not in LOCATION_KINDS:
        raise BadInput(f"location kind must be one of {', '.join(LOCATION_KINDS)}")
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    created = location is None
    if created:
        location = Location(code=code, name=name or code, kind=kind, active=True)
        session.add(location)
    elif name:
        location.name = name
    if parent:
        parent_location = resolve_location(session, parent)
        if parent_location.id is not None and parent_location.id == location.id:
            raise BadInput(f"location {code} cannot be its own parent")
        location.parent = parent_location
    if warehouse:
        found = session.scalars(select(Warehouse).where(Warehouse.code == warehouse)).one_or_none()
        location.warehouse = found or Warehouse(code=warehouse, name=warehouse)
    if barcode:
        location.barcode = barcode.strip()
    session.flush()
    audit.record(session, actor, "location.create" if created else "location.update", code)
    return location
