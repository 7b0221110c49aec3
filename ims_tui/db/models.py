"""The store's tables as typed SQLAlchemy 2 models.

Quantities and money are exact scaled integers (:mod:`ims_tui.db.types`).  Stock is never a
column you write to directly: :mod:`ims_tui.services.ledger` appends ``Movement`` rows and
updates ``Balance`` in the same transaction.  Movements, postings and the audit log are
append-only, enforced by database triggers (see the first migration).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ims_tui.db.types import Money, Qty

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SNAPSHOT_RAW = BigInteger().with_variant(Numeric(38, 0), "postgresql")
SNAPSHOT_SHARE = Float().with_variant(Numeric(), "postgresql")

TRACKING = ("none", "lot", "serial")
LOCATION_KINDS = ("internal", "view", "supplier", "customer", "adjustment", "scrap")
ROLES = ("admin", "manager", "receiver", "picker", "auditor")
PO_STATUSES = ("draft", "ordered", "partial", "received", "cancelled")
SO_STATUSES = ("draft", "confirmed", "picking", "partial", "shipped", "closed", "cancelled")
SO_POLICIES = ("as-available", "complete")
LOCATION_USAGES = ("stock", "packing", "quarantine")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class StoreMeta(Base):
    """Key/value facts about the store itself (e.g. ``demo`` = ``1``, valuation method)."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- catalogue -------------------------------------------------------------------------------


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(60))
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    min_shelf_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Lots with fewer days to expiry than this are never allocated to the customer."""


class Warehouse(Base):
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Location(Base):
    """A place stock can be: a bin, an aisle (``view``), or a virtual partner location."""

    __tablename__ = "locations"
    __table_args__ = (CheckConstraint(f"kind IN {LOCATION_KINDS}", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20), default="internal")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    barcode: Mapped[str | None] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    pick_seq: Mapped[int | None] = mapped_column(Integer)
    """Walking order for pickers; when empty, derived from the code (aisle, bay, level)."""
    usage: Mapped[str] = mapped_column(String(20), default="stock", server_default="stock")
    """``stock`` (allocatable to orders), ``packing`` (picked goods wait to ship), ``quarantine``."""

    warehouse: Mapped[Warehouse | None] = relationship()
    parent: Mapped[Location | None] = relationship(remote_side=[id])

    @property
    def holds_stock(self) -> bool:
        """Only internal locations keep balances; virtual ones are sources and sinks."""
        return self.kind == "internal"


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(f"tracking IN {TRACKING}", name="tracking"),
        Index("ix_products_name", "name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(120), default="")
    uom: Mapped[str] = mapped_column(String(20), default="ea")
    unit_price: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    standard_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    average_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    tracking: Mapped[str] = mapped_column(String(10), default="none")
    reorder_point: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    reorder_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    min_shelf_life_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Goods received with fewer days to expiry than this are warned about at the desk."""
    default_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    barcodes: Mapped[list[Barcode]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Barcode.id"
    )
    supplier_items: Mapped[list[SupplierItem]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="SupplierItem.id"
    )
    default_location: Mapped[Location | None] = relationship()


class Barcode(Base):
    """One of a product's barcodes; a case barcode counts ``pack_qty`` units per scan."""

    __tablename__ = "barcodes"
    __table_args__ = (CheckConstraint("pack_qty > 0", name="pack_qty_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    pack_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(1))

    product: Mapped[Product] = relationship(back_populates="barcodes")


class SupplierItem(Base):
    __tablename__ = "supplier_items"
    __table_args__ = (UniqueConstraint("supplier_id", "supplier_sku"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    supplier_sku: Mapped[str] = mapped_column(String(80), index=True)
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    min_order_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(1))
    pack_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(1), server_default="1000")
    """The supplier sells in multiples of this (a case of 12): orders are rounded up to it."""

    supplier: Mapped[Supplier] = relationship()
    product: Mapped[Product] = relationship(back_populates="supplier_items")


class ReorderSetting(Base):
    """When and how much to reorder a product in one warehouse, and whether it is in alert now.

    ``alert_since`` is set while the projected stock (on hand + open PO lines due within the lead
    time - reserved - backordered) is below ``reorder_point`` and cleared when it recovers; it is
    kept in the transaction of every posting, reservation and PO change (:mod:`ims_tui.services.alerts`),
    so one row per product and warehouse is also one alert at most.  The product's own
    ``reorder_point``/``reorder_qty`` are this row's values in the product's home warehouse.
    """

    __tablename__ = "reorder_settings"
    __table_args__ = (
        UniqueConstraint("product_id", "warehouse_id", name="uq_reorder_settings_product_warehouse"),
        CheckConstraint("reorder_point >= 0 AND reorder_qty >= 0 AND max_qty >= 0 AND safety_stock >= 0",
                        name="not_negative"),
        Index("ix_reorder_settings_alert_since", "alert_since"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    reorder_point: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    reorder_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    max_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    """Order up to this much (0: no maximum, order the reorder quantity)."""
    safety_stock: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    """The part of the reorder point held against variable demand (z * sd * sqrt(L))."""
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    """The preferred supplier; its supplier item gives lead time, MOQ and pack multiple."""
    alert_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse] = relationship()
    supplier: Mapped[Supplier | None] = relationship()


class Lot(Base):
    __tablename__ = "lots"
    __table_args__ = (UniqueConstraint("product_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    code: Mapped[str] = mapped_column(String(80))
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = _created()


class SerialNumber(Base):
    """A serial-tracked unit; ``location_id`` is where it is now (NULL once it left stock)."""

    __tablename__ = "serial_numbers"
    __table_args__ = (UniqueConstraint("product_id", "serial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    serial: Mapped[str] = mapped_column(String(120))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))


# --- the ledger -----------------------------------------------------------------------------


class Posting(Base):
    """One atomic change of stock; its idempotency key makes a retried post a no-op."""

    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str] = mapped_column(String(120))
    station: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    content_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of what was posted: the same key with other content is refused, not swallowed."""

    movements: Mapped[list[Movement]] = relationship(back_populates="posting", order_by="Movement.id")


class Movement(Base):
    """An append-only line of the ledger: ``qty`` of a product went from one location to another."""

    __tablename__ = "movements"
    __table_args__ = (
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("from_location_id <> to_location_id", name="distinct_locations"),
        Index("ix_movements_product_created", "product_id", "created_at"),
        Index("ix_movements_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty: Mapped[Decimal] = mapped_column(Qty())
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), index=True)
    serial_id: Mapped[int | None] = mapped_column(ForeignKey("serial_numbers.id"), index=True)
    unit_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str] = mapped_column(String(120))
    station: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()

    posting: Mapped[Posting] = relationship(back_populates="movements")
    product: Mapped[Product] = relationship()
    from_location: Mapped[Location] = relationship(foreign_keys=[from_location_id])
    to_location: Mapped[Location] = relationship(foreign_keys=[to_location_id])
    lot: Mapped[Lot | None] = relationship()
    serial: Mapped[SerialNumber | None] = relationship()


class Balance(Base):
    """On hand and reserved per product x internal location x lot (``lot_key`` 0 = no lot).

    ``lot_key`` exists because a unique constraint treats NULLs as distinct on SQLite.
    """

    __tablename__ = "balances"
    __table_args__ = (
        UniqueConstraint("product_id", "location_id", "lot_key", name="uq_balances_key"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        Index("ix_balances_location", "location_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    lot_key: Mapped[int] = mapped_column(Integer, default=0)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    on_hand: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    reserved: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    received_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When the oldest stock still here arrived (stamped when an empty balance is filled): FIFO."""

    product: Mapped[Product] = relationship()
    location: Mapped[Location] = relationship()
    lot: Mapped[Lot | None] = relationship()


class CostLayer(Base):
    """Quantity received at one cost and not yet consumed (for FIFO/LIFO valuation)."""

    __tablename__ = "cost_layers"
    __table_args__ = (
        CheckConstraint("remaining_qty >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining_qty <= original_qty", name="remaining_within_original"),
        Index("ix_cost_layers_product_open", "product_id", "remaining_qty"),
        Index("ix_cost_layers_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id"))
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    original_qty: Mapped[Decimal] = mapped_column(Qty())
    remaining_qty: Mapped[Decimal] = mapped_column(Qty())
    created_at: Mapped[dt.datetime] = _created()


class ValuationSnapshot(Base):
    """Every product's valuation position before ``cut`` (a UTC midnight), as the ledger held it up
    to movement ``movement_id`` and cost layer ``layer_id`` (``services/reports/snapshots.py``).

    Derived data: an as-of valuation reads the latest complete snapshot at or before its date and
    adds the movements it does not cover, so a backdated posting is never missed."""

    __tablename__ = "valuation_snapshots"
    __table_args__ = (UniqueConstraint("cut", name="uq_valuation_snapshots_cut"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cut: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    movement_id: Mapped[int] = mapped_column(BigInteger)
    layer_id: Mapped[int] = mapped_column(BigInteger)
    locations_digest: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    built_at: Mapped[dt.datetime] = _created()


class ValuationSnapshotProduct(Base):
    """A product's quantity, book, FIFO and LIFO values and receipt totals at a snapshot (scaled integers)."""

    __tablename__ = "valuation_snapshot_products"
    __table_args__ = {"sqlite_with_rowid": False}
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("valuation_snapshots.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    qty: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    book: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    fifo: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    lifo: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    receipt_qty: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    receipt_value: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    average_value: Mapped[float] = mapped_column(SNAPSHOT_SHARE)


class ValuationSnapshotStock(Base):
    """A product's quantity in one warehouse (``warehouse_key`` 0: none) and its share of the values."""

    __tablename__ = "valuation_snapshot_stock"
    __table_args__ = {"sqlite_with_rowid": False}
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("valuation_snapshots.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    qty: Mapped[int] = mapped_column(SNAPSHOT_RAW)
    book_value: Mapped[float] = mapped_column(SNAPSHOT_SHARE)
    fifo_value: Mapped[float] = mapped_column(SNAPSHOT_SHARE)
    lifo_value: Mapped[float] = mapped_column(SNAPSHOT_SHARE)
    average_value: Mapped[float] = mapped_column(SNAPSHOT_SHARE)


# --- orders and counts ----------------------------------------------------------------------


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (CheckConstraint(f"status IN {PO_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    expected_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    ordered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    supplier: Mapped[Supplier] = relationship()
    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="PurchaseOrderLine.line_no"
    )


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("qty_ordered > 0", name="qty_ordered_positive"),
        CheckConstraint("qty_received >= 0", name="qty_received_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    qty_ordered: Mapped[Decimal] = mapped_column(Qty())
    qty_received: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    unit_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    expected_date: Mapped[dt.date | None] = mapped_column(Date)

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class SalesOrder(Base):
    __tablename__ = "sales_orders"
    __table_args__ = (CheckConstraint(f"status IN {SO_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    policy: Mapped[str] = mapped_column(String(20), default="as-available", server_default="as-available")
    hold_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[SalesOrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="SalesOrderLine.line_no"
    )


class SalesOrderLine(Base):
    __tablename__ = "sales_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no"),
        CheckConstraint("qty_ordered > 0", name="qty_ordered_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    qty_ordered: Mapped[Decimal] = mapped_column(Qty())
    qty_reserved: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    qty_shipped: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    unit_price: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    requested_date: Mapped[dt.date | None] = mapped_column(Date)
    qty_waiting: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0), server_default="0")
    """Confirmed but not allocated yet (no stock, or a short pick's backorder)."""
    qty_picked: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0), server_default="0")
    """Picked into the packing location, not shipped yet."""
    qty_returned: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0), server_default="0")

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


COUNT_KINDS = ("locations", "products", "recounts", "scheduled")
COUNT_STATUSES = ("open", "review", "approved", "cancelled")
COUNT_LINE_STATUSES = ("open", "counted", "ok", "recount", "recounted", "posted", "dropped")
TRANSFER_STATUSES = ("draft", "shipped", "partial", "received", "closed", "cancelled")
class Allocation(Base):
    """Stock held for an order line at one balance; open while ``qty`` > 0.

    ``stage`` is ``reserved`` (in a bin, to be picked) or ``picked`` (in the packing location,
    to be shipped; one row per serial for serial items).  ``balances.reserved`` is always the
    sum of the open allocations' ``qty`` at that balance (``ims check`` proves it).
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("qty >= 0", name="qty_not_negative"),
        CheckConstraint("qty <= original_qty", name="qty_within_original"),
        Index("ix_allocations_line", "line_id"),
        Index("ix_allocations_order", "order_id"),
        Index("ix_allocations_balance", "product_id", "location_id", "lot_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    lot_key: Mapped[int] = mapped_column(Integer, default=0)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    serial_id: Mapped[int | None] = mapped_column(ForeignKey("serial_numbers.id"))
    stage: Mapped[str] = mapped_column(String(10), default="reserved")
    qty: Mapped[Decimal] = mapped_column(Qty())
    original_qty: Mapped[Decimal] = mapped_column(Qty())
    created_at: Mapped[dt.datetime] = _created()


class PickList(Base):
    """A walk through the warehouse for one order or a batch (cluster picking)."""

    __tablename__ = "pick_lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    packing_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PickLine(Base):
    __tablename__ = "pick_lines"
    __table_args__ = (UniqueConstraint("pick_id", "line_no"), Index("ix_pick_lines_allocation", "allocation_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    pick_id: Mapped[int] = mapped_column(ForeignKey("pick_lists.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    so_line_id: Mapped[int] = mapped_column(ForeignKey("sales_order_lines.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    qty: Mapped[Decimal] = mapped_column(Qty())
    qty_picked: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0), server_default="0")
    status: Mapped[str] = mapped_column(String(20), default="open")
    """``open``, ``picked``, ``short`` (the rest was not there) or ``released`` (order cancelled)."""


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_order", "order_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"))
    cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default="0")
    value: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default="0")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()


class RecountRequest(Base):
    """A bin whose count is in doubt (a short pick found less than the balance says).

    Open while ``done_at`` is empty; the bin is not allocated from for that product meanwhile.
    """

    __tablename__ = "recount_requests"
    __table_args__ = (Index("ix_recount_requests_open", "product_id", "location_id", "done_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    created_at: Mapped[dt.datetime] = _created()
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StockCount(Base):
    """A cycle-count task: a set of bins to count (by range, zone, products or schedule).

    ``open`` while counters count, ``review`` once submitted (variances known), ``approved``
    when every line is settled and its difference posted.
    """

    __tablename__ = "stock_counts"
    __table_args__ = (
        CheckConstraint(f"kind IN {COUNT_KINDS}", name="kind"),
        CheckConstraint(f"status IN {COUNT_STATUSES}", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    submitted_by: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StockCountBin(Base):
    """A bin of a count task: ``todo``, ``counting`` (scans recorded) or ``done``."""

    __tablename__ = "stock_count_bins"
    __table_args__ = (UniqueConstraint("count_id", "location_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="todo")
    counted_by: Mapped[str | None] = mapped_column(String(120))
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StockCountLine(Base):
    """One product (and lot) in one bin of a count.

    ``expected_qty`` is the balance at ``position`` - the id of the last movement of that balance
    when the line was counted, read under the balance's row lock - so variance = counted -
    expected stays true while the warehouse keeps moving stock.  ``first_*`` keep the count a
    recount replaced.  Serial products keep the serials counted and those expected there.
    """

    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "location_id", "product_id", "lot_key", name="uq_stock_count_lines_key"),
        UniqueConstraint("count_id", "line_no", name="uq_stock_count_lines_line_no"),
        CheckConstraint(f"status IN {COUNT_LINE_STATUSES}", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    lot_key: Mapped[int] = mapped_column(Integer, default=0)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    round: Mapped[int] = mapped_column(Integer, default=1)
    counted_qty: Mapped[Decimal | None] = mapped_column(Qty())
    counted_by: Mapped[str | None] = mapped_column(String(120))
    counted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    expected_qty: Mapped[Decimal | None] = mapped_column(Qty())
    position: Mapped[int | None] = mapped_column(Integer)
    counted_serials: Mapped[list] = mapped_column(JSON, default=list)
    expected_serials: Mapped[list] = mapped_column(JSON, default=list)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money())
    first_qty: Mapped[Decimal | None] = mapped_column(Qty())
    first_expected: Mapped[Decimal | None] = mapped_column(Qty())
    first_by: Mapped[str | None] = mapped_column(String(120))
    approved_by: Mapped[str | None] = mapped_column(String(120))
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"))


class StockTransfer(Base):
    """Goods between two warehouses through a transit location: shipped, then received by scans."""

    __tablename__ = "stock_transfers"
    __table_args__ = (CheckConstraint(f"status IN {TRANSFER_STATUSES}", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    transit_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    shipped_by: Mapped[str | None] = mapped_column(String(120))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StockTransferLine(Base):
    """A product of a transfer; ``shipped``/``received`` hold the lots and serials that travelled."""

    __tablename__ = "stock_transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "line_no"),
        CheckConstraint("qty > 0", name="qty_positive"),
        CheckConstraint("qty_received <= qty_shipped", name="received_within_shipped"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("stock_transfers.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty: Mapped[Decimal] = mapped_column(Qty())
    qty_shipped: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    qty_received: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    shipped: Mapped[list] = mapped_column(JSON, default=list)
    received: Mapped[list] = mapped_column(JSON, default=list)


class TaskDraft(Base):
    """Work in progress on a station (a receipt being scanned), saved after every step."""

    __tablename__ = "task_drafts"
    __table_args__ = (Index("ix_task_drafts_owner", "username", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    username: Mapped[str] = mapped_column(String(120))
    station: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str] = mapped_column(String(120), default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


# --- people ---------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    badge_code: Mapped[str | None] = mapped_column(String(120), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = _created()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSshKey(Base):
    """A public key that signs its user in to ``ims serve ssh`` (``ims user key add``)."""

    __tablename__ = "user_ssh_keys"
    __table_args__ = (Index("ix_user_ssh_keys_user_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(100), unique=True)
    key_type: Mapped[str] = mapped_column(String(60))
    public_key: Mapped[str] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime] = _created()


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    default_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ChangeEvent(Base):
    """One topic a committed mutation changed (SQLite's change feed reads these; PostgreSQL
    announces them with ``pg_notify`` instead).  Old rows are pruned by the writers."""

    __tablename__ = "change_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(30))
    ident: Mapped[str] = mapped_column(String(120), default="", server_default="")


class AuditEntry(Base):
    """Append-only: who did what to what, from where, with a short before/after summary."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_username", "username"),
        Index("ix_audit_log_action", "action"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())
    username: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20), default="")
    station: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")
    product_id: Mapped[int | None] = mapped_column(Integer, index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(20), default="ok")


# --- tamper evidence ------------------------------------------------------------------------


class ChainLink(Base):
    """One row of the hash chain over postings, movements and the audit log (:mod:`ims_tui.db.chain`).

    Append-only like the rows it covers; ``hash`` covers ``row_hash`` and the previous link's hash
    in the same stripe.
    """

    __tablename__ = "chain_links"
    __table_args__ = (
        UniqueConstraint("stripe", "seq", name="uq_chain_links_stripe_seq"),
        UniqueConstraint("tbl", "row_id", name="uq_chain_links_row"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    stripe: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    tbl: Mapped[str] = mapped_column(String(20))
    row_id: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """The end of one stripe of the chain: its last sequence number and hash."""

    __tablename__ = "chain_heads"
    stripe: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
