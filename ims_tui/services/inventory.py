"""Read models of stock: what a product is, where it is, what is coming and what just moved.

Everything returned is plain data (dataclasses of str/Decimal/date), so the screens and the
CLI render it without touching the ORM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Location,
    Lot,
    Movement,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    SerialNumber,
    SupplierItem,
)
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_product
from ims_tui.services.errors import NotFound
from ims_tui.services.permissions import Permission, check

OPEN_PO_STATUSES = ("ordered", "partial")
EXPIRING_DAYS = 30
"""A lot expiring within this many days is marked (as the ``expiring`` report's default)."""


@dataclass(frozen=True)
class StockRow:
    location: str
    lot: str | None
    expiry: dt.date | None
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    def expiry_status(self, today: dt.date | None = None, days: int = EXPIRING_DAYS) -> str:
        """``expired``, ``expires today``, ``expires in N d`` (within ``days``) or ``""``."""
        if self.expiry is None:
            return ""
        left = (self.expiry - (today or dt.date.today())).days
        if left < 0:
            return "expired"
        if left == 0:
            return "expires today"
        return f"expires in {left} d" if left <= days else ""


@dataclass(frozen=True)
class MovementRow:
    at: dt.datetime
    qty: Decimal
    source: str
    destination: str
    lot: str | None
    serial: str | None
    username: str
    station: str
    reason: str
    reference: str


@dataclass(frozen=True)
class ProductDetail:
    id: int
    sku: str
    name: str
    description: str
    category: str
    uom: str
    unit_price: Decimal
    standard_cost: Decimal
    average_cost: Decimal
    tracking: str
    reorder_point: Decimal
    reorder_qty: Decimal
    default_location: str | None
    active: bool
    barcodes: list[tuple[str, Decimal]]
    supplier_items: list[dict]
    stock: list[StockRow]
    incoming: Decimal
    serials_in_stock: int
    movements: list[MovementRow] = field(default_factory=list)

    @property
    def on_hand(self) -> Decimal:
        return sum((row.on_hand for row in self.stock), Decimal(0))

    @property
    def reserved(self) -> Decimal:
        return sum((row.reserved for row in self.stock), Decimal(0))

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    @property
    def below_reorder_point(self) -> bool:
        return self.reorder_point > 0 and self.available + self.incoming <= self.reorder_point

    def stock_dict(self) -> dict:
        return {
            "sku": self.sku,
            "name": self.name,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "incoming": self.incoming,
            "locations": [asdict(row) | {"available": row.available} for row in self.stock],
        }

    def to_dict(self) -> dict:
        data = asdict(self)
        data["barcodes"] = [{"code": code, "pack_qty": pack} for code, pack in self.barcodes]
        data["stock"] = self.stock_dict()
        return data

    def render_stock(self) -> str:
        lines = [
            f"{self.sku}  {self.name}",
            f"on hand {qty(self.on_hand)} {self.uom}, reserved {qty(self.reserved)}, available {qty(self.available)}, incoming {qty(self.incoming)}",
        ]
        if not self.stock:
            lines.append("no stock")
        for row in self.stock:
            lot = f"  lot {row.lot}" if row.lot else ""
            expiry = f" exp {row.expiry.isoformat()}" if row.expiry else ""
            lines.append(f"  {row.location:<16} {qty(row.on_hand):>10}{lot}{expiry}" + (f"  reserved {qty(row.reserved)}" if row.reserved else ""))
        return "\n".join(lines)

    def render(self) -> str:
        lines = [
            f"{self.sku}  {self.name}" + ("" if self.active else "  (inactive)"),
            f"category {self.category or '-'}, unit {self.uom}, tracking {self.tracking}",
            f"price {money(self.unit_price)}, standard cost {money(self.standard_cost)}, average cost {money(self.average_cost)}",
            f"reorder at {qty(self.reorder_point)}, order {qty(self.reorder_qty)}; default location {self.default_location or '-'}",
            "barcodes: " + (", ".join(f"{c}" + (f" (x{qty(p)})" if p != 1 else "") for c, p in self.barcodes) or "-"),
        ]
        for item in self.supplier_items:
            lines.append(f"supplier {item['supplier']}: {item['supplier_sku']} at {money(item['cost'])}")
        lines.append(self.render_stock().split("\n", 1)[1])
        return "\n".join(lines)


def qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def product_detail(store: Store, actor: Actor, code: str, *, movements: int = 10) -> ProductDetail:
    check(store, actor, Permission.LOOKUP, code)
    with store.read() as session:
        match = find_product(session, code)
        if match is None:
            raise NotFound(f"unknown product {code!r}")
        return load_detail(session, match.product.id, movements=movements)


def load_detail(session: Session, product_id: int, *, movements: int = 10) -> ProductDetail:
    product = session.scalars(
        select(Product)
        .where(Product.id == product_id)
        .options(
            selectinload(Product.barcodes),
            selectinload(Product.supplier_items).selectinload(SupplierItem.supplier),
            selectinload(Product.default_location),
        )
    ).one()
    stock_rows = [
        StockRow(location, lot, expiry, on_hand, reserved)
        for location, lot, expiry, on_hand, reserved in session.execute(
            select(Location.code, Lot.code, Lot.expiry, Balance.on_hand, Balance.reserved)
            .join(Location, Location.id == Balance.location_id)
            .outerjoin(Lot, Lot.id == Balance.lot_id)
            .where(Balance.product_id == product_id, (Balance.on_hand > 0) | (Balance.reserved > 0))
            .order_by(Location.code, Lot.expiry, Lot.code)
        )
    ]
    incoming = session.scalar(
        select(func.sum(PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(
            PurchaseOrderLine.product_id == product_id,
            PurchaseOrder.status.in_(OPEN_PO_STATUSES),
            PurchaseOrderLine.qty_received < PurchaseOrderLine.qty_ordered,
        )
    )
    serials = session.scalar(
        select(func.count()).select_from(SerialNumber).where(
            SerialNumber.product_id == product_id, SerialNumber.location_id.is_not(None)
        )
    )
    return ProductDetail(
        id=product.id,
        sku=product.sku,
        name=product.name,
        description=product.description,
        category=product.category,
        uom=product.uom,
        unit_price=product.unit_price,
        standard_cost=product.standard_cost,
        average_cost=product.average_cost,
        tracking=product.tracking,
        reorder_point=product.reorder_point,
        reorder_qty=product.reorder_qty,
        default_location=product.default_location.code if product.default_location else None,
        active=product.active,
        barcodes=[(b.code, b.pack_qty) for b in product.barcodes],
        supplier_items=[
            {
                "supplier": item.supplier.name,
                "supplier_sku": item.supplier_sku,
                "cost": item.cost,
                "lead_time_days": item.lead_time_days,
                "min_order_qty": item.min_order_qty,
                "pack_qty": item.pack_qty,
            }
            for item in product.supplier_items
        ],
        stock=stock_rows,
        incoming=incoming or Decimal(0),
        serials_in_stock=serials or 0,
        movements=recent_movements(session, product_id=product_id, limit=movements),
    )


def recent_movements(
    session: Session, *, product_id: int | None = None, location_id: int | None = None, limit: int = 10
) -> list[MovementRow]:
    source, destination = aliased(Location), aliased(Location)
    query = (
        select(
            Movement.created_at, Movement.qty, source.code, destination.code, Lot.code, SerialNumber.serial,
            Movement.username, Movement.station, Movement.reason, Movement.reference,
        )
        .join(source, source.id == Movement.from_location_id)
        .join(destination, destination.id == Movement.to_location_id)
        .outerjoin(Lot, Lot.id == Movement.lot_id)
        .outerjoin(SerialNumber, SerialNumber.id == Movement.serial_id)
        .order_by(Movement.created_at.desc(), Movement.id.desc())
        .limit(limit)
    )
    if product_id is not None:
        query = query.where(Movement.product_id == product_id)
    if location_id is not None:
        query = query.where((Movement.from_location_id == location_id) | (Movement.to_location_id == location_id))
    return [MovementRow(*row) for row in session.execute(query)]
