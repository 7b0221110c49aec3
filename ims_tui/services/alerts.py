"""Reorder alerts kept in the transaction of every change that moves projected stock.

Projected stock of a product in a warehouse = on hand - reserved there, and in the product's
*home* warehouse (where its default location is, else the first warehouse) also + the open PO
lines due within the lead time - the quantity confirmed sales orders still wait for (purchase
and sales orders name no warehouse, so they count where the product lives).  A reorder setting
(:class:`~ims_tui.db.models.ReorderSetting`) is *in alert* while projected < reorder point.

:func:`refresh` is the hook the ledger, the reservations and purchasing call with the products
they touched, at the end of their work in the same transaction: it locks those products'
settings rows (so two stations changing one product agree on the outcome), reads their
projected stock in one statement and flips ``alert_since`` only where the state changed,
announcing ``alerts``.  A product without reorder settings costs one indexed read.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import (
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session, aliased

from ims_tui.db.direct import one_of
from ims_tui.db.models import (
    Balance,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderSetting,
    SalesOrder,
    SalesOrderLine,
    Supplier,
    SupplierItem,
    Warehouse,
    utcnow,
)
from ims_tui.db.types import Qty
from ims_tui.services import changes
from ims_tui.services.errors import RuleViolation

OPEN_PO_STATUSES = ("draft", "ordered", "partial")
"""POs whose remaining quantity is on its way (a draft is one the store means to send)."""
OPEN_SO_STATUSES = ("confirmed", "picking", "partial")
"""Sales orders whose waiting quantity is owed to customers (backordered)."""

_ZERO = literal(0)


def home_warehouse():  # type: ignore[no-untyped-def]
    """SQL: the home warehouse of the ``products`` row in scope (default location's, else the first)."""
    return func.coalesce(
        select(Location.warehouse_id).where(Location.id == Product.default_location_id).scalar_subquery(),
        select(func.min(Warehouse.id)).scalar_subquery(),
    )


def days_until(dialect: str, column):  # type: ignore[no-untyped-def]
    """SQL: whole days from the ``today`` parameter to the date ``column`` (negative when past)."""
    if dialect == "postgresql":
        return column - bindparam("today", type_=Date)
    return func.julianday(column) - func.julianday(bindparam("today", type_=String))


def project(session: Session, today: dt.date, product_ids: Iterable[int] | None = None, *,
            below_only: bool = False) -> list:
    """The projection rows (:func:`projection`) of every reorder setting, or of ``product_ids``';
    ``below_only``: only home-warehouse settings whose projected stock is below their point."""
    connection = session.connection()
    dialect = connection.dialect.name
    params: dict[str, object] = {"today": today if dialect == "postgresql" else today.isoformat()}
    if product_ids is not None:
        params["ids"] = sorted(set(product_ids))
        if not params["ids"]:
            return []
    return connection.execute(projection(dialect, product_ids is not None, below_only), params).all()


@functools.cache
def projection(dialect: str, filtered: bool, below_only: bool = False) -> Select:
    """One row per reorder setting (those of the ``ids`` parameter when ``filtered``; only the
    home warehouse's below their point when ``below_only``) with everything replenishment needs:
    the setting, the product, its supplier item's terms, the stock figures; ``today`` is a
    parameter.  Built once per dialect: building it cost more than running it.

    Columns: id, product_id, warehouse_id, home, sku, name, uom, reorder_point, reorder_qty,
    max_qty, safety_stock, supplier_id, lead_time_days, min_order_qty, pack_qty, unit_cost,
    on_hand, reserved, backordered, incoming, on_order, projected, alert_since; ``below_only``:
    id, product_id, warehouse_id, sku, name, uom, reorder_point, reorder_qty, max_qty,
    supplier_id, lead_time_days, min_order_qty, pack_qty, unit_cost, on_order, projected,
    alert_since.
    """

    def only(column):  # type: ignore[no-untyped-def]
        return column.in_(bindparam("ids", expanding=True)) if filtered else literal(True)

    stock = (
        select(Balance.product_id, Location.warehouse_id,
               func.sum(Balance.on_hand).label("on_hand"), func.sum(Balance.reserved).label("reserved"))
        .join(Location, Location.id == Balance.location_id)
        .where(Location.kind == "internal", only(Balance.product_id))
        .group_by(Balance.product_id, Location.warehouse_id)
        .subquery("stock")
    )
    waiting = (
        select(SalesOrderLine.product_id, func.sum(SalesOrderLine.qty_waiting).label("backordered"))
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(SalesOrder.status.in_(OPEN_SO_STATUSES), SalesOrderLine.qty_waiting > 0, only(SalesOrderLine.product_id))
        .group_by(SalesOrderLine.product_id)
        .subquery("waiting")
    )
    items = (
        select(SupplierItem.product_id, SupplierItem.supplier_id,
               func.max(SupplierItem.lead_time_days).label("lead_time_days"),
               func.max(SupplierItem.min_order_qty).label("min_order_qty"),
               func.max(SupplierItem.pack_qty).label("pack_qty"),
               func.max(SupplierItem.cost).label("cost"))
        .where(only(SupplierItem.product_id))
        .group_by(SupplierItem.product_id, SupplierItem.supplier_id)
        .subquery("items")
    )
    home_location = aliased(Location)
    first_warehouse = select(func.min(Warehouse.id)).scalar_subquery()
    settings = (  # a CTE: the PO lines below join it again, and it is worked out once
        select(
            ReorderSetting.id, ReorderSetting.product_id, ReorderSetting.warehouse_id,
            (ReorderSetting.warehouse_id == func.coalesce(home_location.warehouse_id, first_warehouse)).label("home"),
            Product.sku, Product.name, Product.uom,
            ReorderSetting.reorder_point, ReorderSetting.reorder_qty, ReorderSetting.max_qty,
            ReorderSetting.safety_stock, ReorderSetting.supplier_id,
            func.coalesce(items.c.lead_time_days, Supplier.lead_time_days, 0).label("lead_time_days"),
            func.coalesce(items.c.min_order_qty, 0).label("min_order_qty"),
            func.coalesce(items.c.pack_qty, 0).label("pack_qty"),
            func.coalesce(items.c.cost, Product.standard_cost).label("unit_cost"),
            ReorderSetting.alert_since,
        )
        .join(Product, Product.id == ReorderSetting.product_id)
        .outerjoin(home_location, home_location.id == Product.default_location_id)
        .outerjoin(Supplier, Supplier.id == ReorderSetting.supplier_id)
        .outerjoin(items, and_(items.c.product_id == ReorderSetting.product_id,
                               items.c.supplier_id == ReorderSetting.supplier_id))
        .where(only(ReorderSetting.product_id))
        .cte("settings")
    )
    remaining = PurchaseOrderLine.qty_ordered - PurchaseOrderLine.qty_received
    due = func.coalesce(PurchaseOrderLine.expected_date, PurchaseOrder.expected_date)
    within = case((due.is_(None), remaining),
                  (days_until(dialect, due) <= settings.c.lead_time_days, remaining), else_=_ZERO)
    incoming = (
        select(settings.c.id.label("setting_id"),
               func.sum(remaining).label("on_order"), func.sum(within).label("incoming"))
        .select_from(settings)
        .join(PurchaseOrderLine, PurchaseOrderLine.product_id == settings.c.product_id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(settings.c.home, PurchaseOrder.status.in_(OPEN_PO_STATUSES), remaining > 0)
        .group_by(settings.c.id)
        .subquery("incoming")
    )

    def qty(column):  # type: ignore[no-untyped-def]
        return type_coerce(func.coalesce(column, _ZERO), Qty())

    on_hand, reserved = qty(stock.c.on_hand), qty(stock.c.reserved)
    backordered = qty(case((settings.c.home, waiting.c.backordered), else_=_ZERO))
    coming, on_order = qty(incoming.c.incoming), qty(incoming.c.on_order)
    projected = type_coerce(on_hand - reserved + coming - backordered, Qty())
    statement = (
        select(
            settings.c.id, settings.c.product_id, settings.c.warehouse_id, settings.c.home,
            settings.c.sku, settings.c.name, settings.c.uom,
            type_coerce(settings.c.reorder_point, Qty()).label("reorder_point"),
            type_coerce(settings.c.reorder_qty, Qty()).label("reorder_qty"),
            type_coerce(settings.c.max_qty, Qty()).label("max_qty"),
            type_coerce(settings.c.safety_stock, Qty()).label("safety_stock"),
            settings.c.supplier_id, settings.c.lead_time_days,
            type_coerce(settings.c.min_order_qty, Qty()).label("min_order_qty"),
            type_coerce(settings.c.pack_qty, Qty()).label("pack_qty"),
            settings.c.unit_cost,
            on_hand.label("on_hand"), reserved.label("reserved"), backordered.label("backordered"),
            coming.label("incoming"), on_order.label("on_order"), projected.label("projected"),
            settings.c.alert_since,
        )
        .select_from(settings)
        .outerjoin(stock, and_(stock.c.product_id == settings.c.product_id, stock.c.warehouse_id == settings.c.warehouse_id))
        .outerjoin(waiting, waiting.c.product_id == settings.c.product_id)
        .outerjoin(incoming, incoming.c.setting_id == settings.c.id)
    )
    if below_only:  # what a suggestion needs, in this order (read by position: a list of 100,000 is read fast)
        statement = statement.with_only_columns(
            settings.c.id, settings.c.product_id, settings.c.warehouse_id, settings.c.sku, settings.c.name,
            settings.c.uom, *(type_coerce(settings.c[name], Qty()).label(name) for name in (
                "reorder_point", "reorder_qty", "max_qty")),
            settings.c.supplier_id, settings.c.lead_time_days,
            *(type_coerce(settings.c[name], Qty()).label(name) for name in ("min_order_qty", "pack_qty")),
            settings.c.unit_cost, on_order.label("on_order"), projected.label("projected"), settings.c.alert_since,
            maintain_column_froms=True,
        ).where(settings.c.home, settings.c.reorder_point > 0, projected < settings.c.reorder_point)
    return statement


def below(projected: Decimal, reorder_point: Decimal) -> bool:
    """The alert condition: a reorder point is set and projected stock is under it."""
    return reorder_point > 0 and projected < reorder_point


_LOCK = (select(ReorderSetting.id).where(ReorderSetting.product_id.in_(bindparam("ids", expanding=True)))
         .order_by(ReorderSetting.id))
_LOCK_FOR_UPDATE = _LOCK.with_for_update()
_RAISE = update(ReorderSetting).where(ReorderSetting.id.in_(bindparam("ids", expanding=True)),
                                      ReorderSetting.alert_since.is_(None))
_CLEAR = update(ReorderSetting).where(ReorderSetting.id.in_(bindparam("ids", expanding=True)),
                                      ReorderSetting.alert_since.is_not(None))


def refresh(session: Session, product_ids: Iterable[int], today: dt.date | None = None) -> int:
    """Raise or clear the alerts of ``product_ids`` from their projected stock now, in the
    caller's transaction; returns how many alerts changed (and announces ``alerts`` if any)."""
    ids = sorted(set(product_ids))
    if not ids:
        return 0
    connection = session.connection()
    lock = _LOCK_FOR_UPDATE if connection.dialect.name == "postgresql" else _LOCK
    if not connection.execute(lock, {"ids": ids}).first():
        return 0
    return _apply(session, project(session, today or dt.date.today(), ids))


def supplier_changed(session: Session, supplier_id: int) -> int:
    """A supplier's lead time changed: refresh the alerts of the products it is preferred for."""
    product_ids = session.scalars(select(ReorderSetting.product_id).where(ReorderSetting.supplier_id == supplier_id)).all()
    return refresh(session, product_ids)


def refresh_all(session: Session, today: dt.date | None = None) -> int:
    """Recompute every alert (after an upgrade, or as days pass and PO lines come within their
    lead time); returns how many changed."""
    return _apply(session, project(session, today or dt.date.today()))


def _apply(session: Session, rows: list) -> int:
    raise_ids = [row.id for row in rows if row.alert_since is None and below(row.projected, row.reorder_point)]
    clear_ids = [row.id for row in rows if row.alert_since is not None and not below(row.projected, row.reorder_point)]
    connection = session.connection()
    changed = 0
    if raise_ids:
        changed += connection.execute(_RAISE.values(alert_since=utcnow()), {"ids": raise_ids}).rowcount
    if clear_ids:
        changed += connection.execute(_CLEAR.values(alert_since=None), {"ids": clear_ids}).rowcount
    if changed:
        changes.emit(session, "alerts")
    return changed


def mismatches(session: Session, today: dt.date | None = None) -> list[tuple[int, int, str]]:
    """Settings whose alert state the stock contradicts: (product, warehouse, what is wrong).

    A product below its point needs an open alert.  An open alert needs the product below its
    point at least without the open POs: PO lines only come *within* their lead time as days
    pass, so an alert raised before they did is stale (``refresh_all`` clears it), not wrong.
    """
    rows = project(session, today or dt.date.today())
    problems = []
    for row in rows:
        if row.alert_since is None and below(row.projected, row.reorder_point):
            problems.append((row.product_id, row.warehouse_id, f"projected {_text(row.projected)} is below the reorder "
                             f"point {_text(row.reorder_point)} but no alert is open"))
        elif row.alert_since is not None and not below(row.projected - row.incoming, row.reorder_point):
            problems.append((row.product_id, row.warehouse_id, f"an alert is open but projected "
                             f"{_text(row.projected)} is not below the reorder point {_text(row.reorder_point)}"))
    return problems


_SETTING_FIELDS = ("reorder_point", "reorder_qty", "max_qty", "safety_stock")


def write_settings(session: Session, product: Product, warehouse_id: int, values: dict[str, Decimal],
                   supplier_id: int | None | bool = False) -> str:
    """Change (or create) the product's settings in a warehouse inside the caller's transaction;
    ``supplier_id`` False keeps the preferred supplier.  Checks the settings hang together, keeps
    the product's own reorder point and quantity equal to its home warehouse's, refreshes the
    alert; returns 'field: old -> new' for the audit ('' when nothing changed)."""
    row = session.scalars(
        select(ReorderSetting).where(ReorderSetting.product_id == product.id, ReorderSetting.warehouse_id == warehouse_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        row = ReorderSetting(product_id=product.id, warehouse_id=warehouse_id, reorder_point=Decimal(0),
                             reorder_qty=Decimal(0), max_qty=Decimal(0), safety_stock=Decimal(0))
        if supplier_id is False:  # a new setting orders from the product's first supplier
            supplier_id = session.scalar(select(SupplierItem.supplier_id).where(SupplierItem.product_id == product.id)
                                         .order_by(SupplierItem.id).limit(1))
        session.add(row)
    merged = {name: values.get(name, getattr(row, name)) for name in _SETTING_FIELDS}
    if merged["max_qty"] and merged["max_qty"] < merged["reorder_point"]:
        raise RuleViolation(f"the maximum ({_text(merged['max_qty'])}) of {product.sku} is below its reorder point "
                            f"({_text(merged['reorder_point'])})")
    if merged["safety_stock"] > merged["reorder_point"]:
        raise RuleViolation(f"the safety stock ({_text(merged['safety_stock'])}) of {product.sku} is part of its "
                            f"reorder point ({_text(merged['reorder_point'])}): it cannot be more")
    changed = []
    for name in _SETTING_FIELDS:
        if getattr(row, name) != merged[name]:
            changed.append(f"{name}: {_text(getattr(row, name))} -> {_text(merged[name])}")
            setattr(row, name, merged[name])
    if supplier_id is not False and row.supplier_id != supplier_id:
        changed.append(f"supplier: {row.supplier_id} -> {supplier_id}")
        row.supplier_id = supplier_id
    session.flush()
    home = session.scalar(select(home_warehouse()).select_from(Product).where(Product.id == product.id))
    if warehouse_id == home and (product.reorder_point, product.reorder_qty) != (row.reorder_point, row.reorder_qty):
        product.reorder_point, product.reorder_qty = row.reorder_point, row.reorder_qty
        session.flush()
    if changed:
        changes.emit(session, "products", product.id)
        refresh(session, [product.id])
    return "; ".join(changed)


def follow_product(session: Session, product: Product) -> None:
    """The product's own reorder point or quantity changed (product form, import): carry it to
    its home warehouse's settings, creating them the first time."""
    home = session.scalar(select(home_warehouse()).select_from(Product).where(Product.id == product.id))
    if home is None:
        return
    exists = session.scalar(select(ReorderSetting.id).where(ReorderSetting.product_id == product.id,
                                                            ReorderSetting.warehouse_id == home))
    if exists is None and not (product.reorder_point or product.reorder_qty):
        return
    values = {"reorder_point": product.reorder_point, "reorder_qty": product.reorder_qty}
    row = session.get(ReorderSetting, exists) if exists else None
    if row is not None and row.safety_stock > product.reorder_point:
        values["safety_stock"] = product.reorder_point  # a lower point takes the safety stock down with it
    if row is not None and row.max_qty and row.max_qty < product.reorder_point:
        values["max_qty"] = Decimal(0)
    write_settings(session, product, home, values)


def serialize_orders(session: Session) -> None:
    """Take the store-wide lock that makes two 'create the suggested orders' runs one after the
    other (SQLite's write transactions already are)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('ims.replenish.order'))"))


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def sync_imported(session: Session, entries: Iterable[tuple[int, Decimal, Decimal, Decimal | None, Decimal | None]]) -> None:
    """After a product import: each product's home-warehouse settings take its reorder point and
    quantity (as just written), and the maximum and safety stock the file gave ((product id,
    point, quantity, max, safety), None where the file left them alone); set-based, then the
    alerts follow."""
    wanted = {product_id: values for product_id, *values in entries}
    if not wanted:
        return
    ids = sorted(wanted)
    connection = session.connection()  # Core rows: a batch reads a thousand of each
    dialect = connection.dialect.name
    first_supplier = (select(func.min(SupplierItem.supplier_id)).where(SupplierItem.product_id == Product.id)
                      .scalar_subquery())
    products = connection.execute(
        select(Product.id, home_warehouse(), first_supplier).where(one_of(dialect, Product.id, ids))
    ).all()
    existing = {(product_id, warehouse_id): id_ for id_, product_id, warehouse_id in connection.execute(
        select(ReorderSetting.id, ReorderSetting.product_id, ReorderSetting.warehouse_id)
        .where(one_of(dialect, ReorderSetting.product_id, ids)))}
    with_settings = {product_id for product_id, _ in existing}  # in any warehouse: their alerts follow
    inserts, updates = [], []
    for product_id, home, supplier_id in products:
        if home is None:
            continue
        point, quantity, maximum, safety = wanted[product_id]
        values = {"reorder_point": point, "reorder_qty": quantity}
        if maximum is not None:
            values["max_qty"] = maximum
        if safety is not None:
            values["safety_stock"] = safety
        setting_id = existing.get((product_id, home))
        if setting_id is not None:
            updates.append({"s_id": setting_id, **{f"s_{name}": value for name, value in values.items()}})
        elif any(values.values()):
            inserts.append({"product_id": product_id, "warehouse_id": home, "max_qty": Decimal(0),
                            "safety_stock": Decimal(0), **values, "supplier_id": supplier_id,
                            "updated_at": utcnow()})
            with_settings.add(product_id)
    table = ReorderSetting.__table__
    if inserts:
        session.execute(table.insert(), inserts)
    by_shape: dict[tuple[str, ...], list[dict]] = {}
    for row in updates:
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    for shape, rows in by_shape.items():
        columns = [key.removeprefix("s_") for key in shape if key != "s_id"]
        session.execute(update(table).where(table.c.id == bindparam("s_id"))
                        .values({name: bindparam(f"s_{name}", type_=table.c[name].type) for name in columns}), rows)
    refresh(session, with_settings)  # a product without settings has no alert to raise or clear
