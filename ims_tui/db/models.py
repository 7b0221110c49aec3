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
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
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

TRACKING = ("none", "lot", "serial")
LOCATION_KINDS = ("internal", "view", "supplier", "customer", "adjustment", "scrap")
ROLES = ("admin", "manager", "receiver", "picker", "auditor")
PO_STATUSES = ("draft", "ordered", "partial", "received", "cancelled")
SO_STATUSES = ("draft", "confirmed", "picking", "partial", "shipped", "cancelled")


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

    supplier: Mapped[Supplier] = relationship()
    product: Mapped[Product] = relationship(back_populates="supplier_items")


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
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    movement_id: Mapped[int] = mapped_column(ForeignKey("movements.id"))
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    original_qty: Mapped[Decimal] = mapped_column(Qty())
    remaining_qty: Mapped[Decimal] = mapped_column(Qty())
    created_at: Mapped[dt.datetime] = _created()


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

    order: Mapped[SalesOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class StockCount(Base):
    __tablename__ = "stock_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = _created()
    approved_by: Mapped[str | None] = mapped_column(String(120))


class StockCountLine(Base):
    __tablename__ = "stock_count_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    expected_qty: Mapped[Decimal] = mapped_column(Qty(), default=Decimal(0))
    counted_qty: Mapped[Decimal | None] = mapped_column(Qty())


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


class Station(Base):
    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    default_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


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
