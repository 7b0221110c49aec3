"""Replenishment: reorder settings, live alerts, suggested purchase orders, reorder points from demand.

*Projected stock* (:mod:`ims_tui.services.alerts`) = on hand + open PO lines due within the lead
time - reserved - backordered.  A reorder setting is in alert while projected < reorder point;
the alert is kept in the transaction of every change that moves projected stock.

*Suggested quantity* for a setting in alert = max(reorder quantity, maximum - projected, reorder
point - projected) - the last term so one order always lifts projected stock back to the point -
at least the supplier item's minimum order quantity, rounded up to its pack multiple (and to
whole units for products counted in whole units).  Suggestions are grouped by the preferred
supplier; the *order-by* date is when stock runs out at the recent rate of demand, less the lead
time.  :func:`create_orders` writes one draft PO per supplier through
:mod:`ims_tui.services.purchasing`; its lines are due within the lead time, so they count in
projected stock at once and a second run finds nothing left to order.

*Reorder points from demand*: ROP = d * L + z * sd * sqrt(L) from daily shipments and issues
over a window (setting ``replenish_window_days``), skipping days the product ended out of stock,
z from the service level (setting ``replenish_service_level``).

Purchase and sales orders name no warehouse: they count in the product's home warehouse (the
warehouse of its default location, else the first one), and only the home warehouse's alerts are
ordered from suppliers; another warehouse's alert is filled by a transfer.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Location,
    Movement,
    Product,
    PurchaseOrder,
    ReorderSetting,
    Supplier,
    Warehouse,
)
from ims_tui.services import alerts, audit, purchasing, settings
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import resolve_product
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.permissions import Permission, check
from ims_tui.values import WHOLE_UNITS, format_quantity, parse_quantity

qty_text = format_quantity

# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReorderSettingsView:
    """A product's reorder settings in one warehouse, with its supplier item's terms."""

    sku: str
    name: str
    uom: str
    warehouse: str
    home: bool
    reorder_point: Decimal
    reorder_qty: Decimal
    max_qty: Decimal
    safety_stock: Decimal
    supplier: str | None
    lead_time_days: int
    min_order_qty: Decimal
    pack_qty: Decimal
    in_alert: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        supplier = self.supplier or "no preferred supplier"
        maximum = f", max {qty_text(self.max_qty)}" if self.max_qty else ""
        return (f"{self.sku} in {self.warehouse}{' (home)' if self.home else ''}: reorder at {qty_text(self.reorder_point)}"
                f" (safety {qty_text(self.safety_stock)}), order {qty_text(self.reorder_qty)}{maximum}; {supplier}, "
                f"lead {self.lead_time_days} d, MOQ {qty_text(self.min_order_qty)}, pack {qty_text(self.pack_qty)}"
                + ("  ALERT" if self.in_alert else ""))


@dataclass(frozen=True)
class AlertView:
    """An open alert: a product whose projected stock in a warehouse is below its reorder point."""

    sku: str
    name: str
    uom: str
    warehouse: str
    projected: Decimal
    reorder_point: Decimal
    on_hand: Decimal
    reserved: Decimal
    backordered: Decimal
    incoming: Decimal
    """Open PO quantity due within the lead time (counted in projected stock)."""
    on_order: Decimal
    """All open PO quantity, whenever it is due."""
    suggested_qty: Decimal
    """0 outside the home warehouse (a transfer fills it, not a PO)."""
    supplier: str | None
    order_by: dt.date | None
    since: dt.datetime | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SuggestionLine:
    """One suggested PO line, with every input of its quantity and date."""

    sku: str
    name: str
    uom: str
    warehouse: str
    supplier: str | None
    projected: Decimal
    reorder_point: Decimal
    reorder_qty: Decimal
    max_qty: Decimal
    min_order_qty: Decimal
    pack_qty: Decimal
    lead_time_days: int
    on_order: Decimal
    daily_demand: Decimal
    run_out: dt.date | None
    """When projected stock is gone at the daily demand (None without recent demand)."""
    order_by: dt.date
    qty: Decimal
    unit_cost: Decimal

    @property
    def value(self) -> Decimal:
        return self.qty * self.unit_cost

    def to_dict(self) -> dict:
        return asdict(self) | {"value": self.value}


@dataclass(frozen=True)
class SupplierSuggestion:
    """The suggested lines of one supplier (``supplier`` None: products without a preferred supplier)."""

    supplier: str | None
    lines: tuple[SuggestionLine, ...]

    @property
    def value(self) -> Decimal:
        return sum((line.value for line in self.lines), Decimal(0))

    @property
    def order_by(self) -> dt.date | None:
        return min((line.order_by for line in self.lines), default=None)

    def to_dict(self) -> dict:
        return {"supplier": self.supplier, "order_by": self.order_by, "value": self.value,
                "lines": [line.to_dict() for line in self.lines]}


@dataclass(frozen=True)
class CreatedOrder:
    """A draft PO :func:`create_orders` wrote: its number, supplier and (sku, qty) lines."""

    number: str
    supplier: str
    lines: tuple[tuple[str, Decimal], ...]

    def to_dict(self) -> dict:
        return {"number": self.number, "supplier": self.supplier,
                "lines": [{"sku": sku, "qty": qty} for sku, qty in self.lines]}


@dataclass(frozen=True)
class ReorderPointSuggestion:
    """A reorder point from demand, with its inputs."""

    sku: str
    name: str
    warehouse: str
    days: int
    """Days of the window the product was in stock (the ones d and sd are taken over)."""
    stockout_days: int
    daily_demand: Decimal
    deviation: Decimal
    lead_time_days: int
    service_level: Decimal
    z: Decimal
    safety_stock: Decimal
    current: Decimal
    suggested: Decimal

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BacktestLine:
    """One product replayed over the past year with its current and its suggested reorder point."""

    sku: str
    warehouse: str
    current: Decimal
    suggested: Decimal
    stockout_days_current: int
    stockout_days_suggested: int
    average_stock_current: Decimal
    average_stock_suggested: Decimal

    @property
    def stockout_days_avoided(self) -> int:
        return self.stockout_days_current - self.stockout_days_suggested

    @property
    def average_stock_added(self) -> Decimal:
        return self.average_stock_suggested - self.average_stock_current

    def to_dict(self) -> dict:
        return asdict(self) | {"stockout_days_avoided": self.stockout_days_avoided,
                               "average_stock_added": self.average_stock_added}


@dataclass(frozen=True)
class Backtest:
    days: int
    lines: tuple[BacktestLine, ...] = field(default=())

    @property
    def stockout_days_avoided(self) -> int:
        return sum(line.stockout_days_avoided for line in self.lines)

    @property
    def average_stock_added(self) -> Decimal:
        return sum((line.average_stock_added for line in self.lines), Decimal(0))

    def to_dict(self) -> dict:
        return {"days": self.days, "stockout_days_avoided": self.stockout_days_avoided,
                "average_stock_added": self.average_stock_added, "lines": [line.to_dict() for line in self.lines]}


# --- arithmetic -------------------------------------------------------------------------------


def order_quantity(
    projected: Decimal,
    reorder_point: Decimal,
    reorder_qty: Decimal,
    max_qty: Decimal,
    min_order_qty: Decimal = Decimal(0),
    pack_qty: Decimal = Decimal(0),
    *,
    whole_units: bool = True,
) -> Decimal:
    """max(reorder qty, maximum - projected, reorder point - projected), at least the MOQ,
    rounded up to the pack multiple (and to a whole unit)."""
    qty = max(reorder_qty, max_qty - projected if max_qty else Decimal(0), reorder_point - projected, min_order_qty)
    if whole_units:
        qty = qty.to_integral_value(ROUND_CEILING)
    if pack_qty > 0:
        qty = (qty / pack_qty).to_integral_value(ROUND_CEILING) * pack_qty
    return max(qty, Decimal(0))


def order_by_date(projected: Decimal, daily_demand: Decimal, lead_time_days: int, today: dt.date) -> tuple[dt.date | None, dt.date]:
    """(run-out date, order-by date): stock lasts projected / d days; order the lead time before.
    Without recent demand there is no run-out date and the order is due today."""
    if daily_demand <= 0:
        return None, today
    days_left = max(int(projected / daily_demand), 0)
    run_out = today + dt.timedelta(days=days_left)
    return run_out, run_out - dt.timedelta(days=lead_time_days)


def reorder_point_from_demand(daily: Sequence[Decimal], lead_time_days: int, z: float) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(d, sd, safety stock, ROP) from in-stock days' demand: ROP = d*L + z*sd*sqrt(L)."""
    if not daily:
        return Decimal(0), Decimal(0), Decimal(0), Decimal(0)
    values = [float(x) for x in daily]
    mean = statistics.fmean(values)
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    safety = z * deviation * math.sqrt(lead_time_days)
    rop = mean * lead_time_days + safety
    return (Decimal(str(round(mean, 3))), Decimal(str(round(deviation, 3))),
            Decimal(str(math.ceil(safety))), Decimal(str(math.ceil(rop))))


def z_for(service_level: Decimal) -> float:
    return statistics.NormalDist().inv_cdf(float(service_level) / 100)


# --- reading ----------------------------------------------------------------------------------


def _settings_views(session: Session, product: Product, today: dt.date) -> list[ReorderSettingsView]:
    rows = alerts.project(session, today, [product.id])
    names = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    suppliers = dict(session.execute(select(Supplier.id, Supplier.name)).all())
    return [
        ReorderSettingsView(
            product.sku, product.name, product.uom, names[row.warehouse_id], bool(row.home), row.reorder_point,
            row.reorder_qty, row.max_qty, row.safety_stock, suppliers.get(row.supplier_id), int(row.lead_time_days or 0),
            row.min_order_qty, row.pack_qty, row.alert_since is not None,
        )
        for row in sorted(rows, key=lambda r: (not r.home, names[r.warehouse_id]))
    ]


def get_reorder_settings(store: Store, actor: Actor, code: str) -> list[ReorderSettingsView]:
    """A product's reorder settings in every warehouse it has them (home warehouse first)."""
    check(store, actor, Permission.LOOKUP, code)
    with store.read() as session:
        return _settings_views(session, resolve_product(session, code), dt.date.today())


def count_open_alerts(store: Store, actor: Actor) -> int:
    """How many reorder alerts are open (the badge)."""
    check(store, actor, Permission.REPLENISH, "alerts")
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(ReorderSetting).where(ReorderSetting.alert_since.is_not(None)))


def _window(session: Session) -> int:
    return int(settings.get(session, "replenish_window_days"))


def daily_demand(session: Session, keys: Iterable[tuple[int, int]], today: dt.date, window_days: int) -> dict[tuple[int, int], Decimal]:
    """Average daily demand (shipments and issues: stock leaving to a customer) per (product,
    warehouse) over the last ``window_days`` days."""
    keys = set(keys)
    if not keys:
        return {}
    source, destination = aliased(Location), aliased(Location)
    since = dt.datetime.combine(today - dt.timedelta(days=window_days), dt.time(), tzinfo=dt.timezone.utc)
    query = (
        select(Movement.product_id, source.warehouse_id, func.sum(Movement.qty))
        .join(source, source.id == Movement.from_location_id)
        .join(destination, destination.id == Movement.to_location_id)
        .where(destination.kind == "customer", source.kind == "internal", Movement.created_at >= since)
        .group_by(Movement.product_id, source.warehouse_id)
    )
    products = {product for product, _ in keys}
    if len(products) <= 1000:
        query = query.where(Movement.product_id.in_(sorted(products)))
    return {(p, w): (total / window_days).quantize(Decimal("0.001"))
            for p, w, total in session.execute(query) if (p, w) in keys}


def _line(row, warehouse: str, supplier: str | None, demand: Decimal, today: dt.date,
          qty: Decimal | None = None) -> SuggestionLine:  # type: ignore[no-untyped-def]
    sku, name, uom = row.sku, row.name, row.uom
    lead = int(row.lead_time_days or 0)
    if qty is None:
        qty = order_quantity(row.projected, row.reorder_point, row.reorder_qty, row.max_qty, row.min_order_qty,
                             row.pack_qty, whole_units=uom in WHOLE_UNITS)
    run_out, order_by = order_by_date(row.projected, demand, lead, today)
    return SuggestionLine(sku, name, uom, warehouse, supplier, row.projected, row.reorder_point, row.reorder_qty,
                          row.max_qty, row.min_order_qty, row.pack_qty, lead, row.on_order, demand, run_out, order_by,
                          qty, row.unit_cost or Decimal(0))


def list_alerts(
    store: Store,
    actor: Actor,
    *,
    offset: int = 0,
    limit: int = 50,
    search: str = "",
    warehouse: str | None = None,
) -> list[AlertView]:
    """One page of open alerts, oldest first (SKU within the same moment), with the suggestion."""
    check(store, actor, Permission.REPLENISH, "alerts")
    today = dt.date.today()
    with store.read() as session:
        rows = _page(session, today, offset=offset, limit=limit, search=search, warehouse=warehouse, open_only=True)
        return [_alert(row, wh, supplier, demand, today) for row, wh, supplier, demand in rows]


def _alert(row, warehouse: str, supplier: str | None, demand: Decimal, today: dt.date) -> AlertView:  # type: ignore[no-untyped-def]
    line = _line(row, warehouse, supplier, demand, today)
    return AlertView(row.sku, row.name, row.uom, warehouse, row.projected, row.reorder_point, row.on_hand,
                     row.reserved, row.backordered, row.incoming, row.on_order, line.qty if row.home else Decimal(0),
                     supplier, line.order_by, row.alert_since)


def _page(session: Session, today: dt.date, *, offset: int, limit: int, search: str, warehouse: str | None,
          open_only: bool) -> list[tuple]:
    """Projection rows of one page of settings (open alerts only, or all), with their warehouse
    code, supplier name and daily demand."""
    query = (
        select(ReorderSetting.id, ReorderSetting.product_id)
        .join(Product, Product.id == ReorderSetting.product_id)
        .join(Warehouse, Warehouse.id == ReorderSetting.warehouse_id)
        .order_by(ReorderSetting.alert_since, Product.sku, Warehouse.code)
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    )
    if open_only:
        query = query.where(ReorderSetting.alert_since.is_not(None))
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(or_(func.lower(Product.sku).like(pattern), func.lower(Product.name).like(pattern)))
    if warehouse:
        query = query.where(Warehouse.code == warehouse.strip())
    page = session.execute(query).all()
    if not page:
        return []
    wanted = {setting_id for setting_id, _ in page}
    products = {product_id for _, product_id in page}
    rows = {row.id: row for row in alerts.project(session, today, products) if row.id in wanted}
    return _decorate(session, [rows[setting_id] for setting_id, _ in page if setting_id in rows], today)


def _decorate(session: Session, rows: list, today: dt.date) -> list[tuple]:
    """Each projection row with its warehouse code, supplier name and daily demand."""
    warehouses = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    suppliers = dict(session.execute(select(Supplier.id, Supplier.name)).all())
    demand = daily_demand(session, {(r.product_id, r.warehouse_id) for r in rows}, today, _window(session))
    return [(row, warehouses[row.warehouse_id], suppliers.get(row.supplier_id),
             demand.get((row.product_id, row.warehouse_id), Decimal(0))) for row in rows]


def _suggestion_rows(session: Session, today: dt.date, *, only_alerts: bool) -> list[tuple]:
    rows = [row for row in alerts.project(session, today, below_only=True)
            if row.alert_since is not None or not only_alerts]
    return _decorate(session, rows, today)


def _group(lines: Iterable[SuggestionLine]) -> list[SupplierSuggestion]:
    by_supplier: dict[str | None, list[SuggestionLine]] = defaultdict(list)
    for line in lines:
        by_supplier[line.supplier].append(line)
    groups = [SupplierSuggestion(name, tuple(sorted(group, key=lambda ln: (ln.order_by, ln.sku))))
              for name, group in by_supplier.items()]
    return sorted(groups, key=lambda g: (g.supplier is None, g.order_by, g.supplier or ""))


def suggest(store: Store, actor: Actor, *, only_alerts: bool = True) -> list[SupplierSuggestion]:
    """Suggested PO lines grouped by preferred supplier (earliest order-by first); ``only_alerts``
    False takes every product below its point now, open alert or not (e.g. PO lines that came
    within their lead time since the last change)."""
    check(store, actor, Permission.REPLENISH, "suggestions")
    today = dt.date.today()
    with store.read() as session:
        rows = _suggestion_rows(session, today, only_alerts=only_alerts)
    return _group(_line(row, wh, supplier, demand, today) for row, wh, supplier, demand in rows)


# --- changing ---------------------------------------------------------------------------------


def _find_warehouse(session: Session, code: str | None, product: Product) -> Warehouse:
    if code is None or not code.strip():
        home = session.scalar(select(alerts.home_warehouse()).select_from(Product).where(Product.id == product.id))
        if home is None:
            raise RuleViolation("the store has no warehouse yet: add a location in one first")
        return session.get(Warehouse, home)
    warehouse = session.scalars(select(Warehouse).where(func.upper(Warehouse.code) == code.strip().upper())).one_or_none()
    if warehouse is None:
        raise NotFound(f"unknown warehouse {code.strip()!r}")
    return warehouse


_SETTING_NAMES = {"reorder_point": "reorder point", "reorder_qty": "reorder quantity", "max_qty": "maximum",
                  "safety_stock": "safety stock"}


def _setting_qty(what: str, value: object) -> Decimal:
    number = parse_quantity(value, what=what)
    if number < 0:
        raise BadInput(f"{what} cannot be negative ({value})")
    return number


def set_reorder_settings(
    store: Store,
    actor: Actor,
    code: str,
    *,
    warehouse: str | None = None,
    reorder_point: object = None,
    reorder_qty: object = None,
    max_qty: object = None,
    safety_stock: object = None,
    supplier: str | None = None,
) -> ReorderSettingsView:
    """Set a product's reorder settings in a warehouse (default: its home warehouse); values left
    None keep what they were; ``supplier=""`` clears the preferred supplier.  Audited; the alert
    follows at once."""
    check(store, actor, Permission.MANAGE_PRODUCTS, code)
    given = {name: _setting_qty(_SETTING_NAMES[name], value) for name, value in
             (("reorder_point", reorder_point), ("reorder_qty", reorder_qty), ("max_qty", max_qty),
              ("safety_stock", safety_stock)) if value is not None and str(value).strip() != ""}

    def work(session: Session) -> ReorderSettingsView:
        product = resolve_product(session, code)
        place = _find_warehouse(session, warehouse, product)
        vendor_id: int | None | bool = False
        if supplier is not None:
            vendor_id = purchasing.find_supplier(session, supplier).id if supplier.strip() else None
        summary = alerts.write_settings(session, product, place.id, given, vendor_id)
        if summary:
            audit.record(session, actor, "replenish.settings", f"{product.sku} {place.code}", summary, product_id=product.id)
        session.flush()
        return next(view for view in _settings_views(session, product, dt.date.today()) if view.warehouse == place.code)

    return store.transact(work)


def refresh_alerts(store: Store, actor: Actor) -> int:
    """Recompute every alert (PO lines come within their lead time as days pass); returns how many changed."""
    check(store, actor, Permission.REPLENISH, "alerts")
    return store.transact(lambda session: alerts.refresh_all(session))


def settle_alerts(store: Store) -> int:
    """Recompute every alert as the program itself (after a schema upgrade); returns how many changed."""
    return store.transact(lambda session: alerts.refresh_all(session))


def create_orders(
    store: Store,
    actor: Actor,
    quantities: Mapping[str, object] | None = None,
    *,
    only_alerts: bool = True,
) -> list[CreatedOrder]:
    """One draft PO per preferred supplier for the suggested lines, in one transaction.

    ``quantities`` overrides a line's quantity by SKU (0 leaves the product out).  Products whose
    alert an open PO already lifted are not suggested any more, so running it again creates
    nothing; products without a preferred supplier are left for a person to order.
    """
    check(store, actor, Permission.REPLENISH, "replenishment orders")
    overrides = {sku.strip(): _setting_qty(f"quantity of {sku}", qty) for sku, qty in (quantities or {}).items()}
    today = dt.date.today()

    def work(session: Session) -> list[CreatedOrder]:
        alerts.serialize_orders(session)
        rows = _suggestion_rows(session, today, only_alerts=only_alerts)
        unknown = set(overrides) - {row.sku for row, *_ in rows}
        if unknown:
            raise BadInput(f"nothing is suggested for {', '.join(sorted(unknown))}")
        by_supplier: dict[int, list[SuggestionLine]] = defaultdict(list)
        for row, wh, supplier, demand in rows:
            qty = overrides.get(row.sku)
            if row.supplier_id is None or qty == 0:
                continue
            by_supplier[row.supplier_id].append(_line(row, wh, supplier, demand, today, qty))
        created = []
        for supplier_id in sorted(by_supplier):
            lines = by_supplier[supplier_id]
            vendor = session.get(Supplier, supplier_id)
            order = purchasing.new_po(session, actor, vendor, note="replenishment")
            for line in sorted(lines, key=lambda ln: ln.sku):
                purchasing.add_line(session, order, purchasing.LineInput(
                    line.sku, line.qty, expected_date=today + dt.timedelta(days=line.lead_time_days)))
            session.flush()
            purchasing.record_created(session, actor, order)
            created.append(CreatedOrder(order.number, vendor.name, tuple((ln.sku, ln.qty) for ln in sorted(lines, key=lambda ln: ln.sku))))
        if created:
            alerts.refresh(session, {ln.product_id for order in _orders(session, created) for ln in order.lines})
            audit.record(session, actor, "replenish.order", ", ".join(order.number for order in created),
                         "; ".join(f"{order.supplier}: {len(order.lines)} lines" for order in created))
        return created

    return store.transact(work)


def _orders(session: Session, created: Sequence[CreatedOrder]) -> list[PurchaseOrder]:
    return list(session.scalars(select(PurchaseOrder).where(PurchaseOrder.number.in_([c.number for c in created]))))


# --- reorder points from demand ---------------------------------------------------------------


def _demand_history(session: Session, rows: list, today: dt.date, days: int) -> dict[tuple[int, int], tuple[list[Decimal], list[bool]]]:
    """Per (product, warehouse): demand of each of the last ``days`` days (oldest first) and
    whether the day ended out of stock (end-of-day on hand, walked back from today's balance)."""
    keys = {(row.product_id, row.warehouse_id) for row in rows}
    if not keys:
        return {}
    products = sorted({p for p, _ in keys})
    start = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    source, destination = aliased(Location), aliased(Location)
    restrict = len(products) <= 1000
    moves = (
        select(Movement.product_id, Movement.created_at, Movement.qty, source.warehouse_id, source.kind,
               destination.warehouse_id, destination.kind)
        .join(source, source.id == Movement.from_location_id)
        .join(destination, destination.id == Movement.to_location_id)
        .where(Movement.created_at >= since)
    )
    on_hand_query = (
        select(Balance.product_id, Location.warehouse_id, func.sum(Balance.on_hand))
        .join(Location, Location.id == Balance.location_id)
        .where(Location.kind == "internal")
        .group_by(Balance.product_id, Location.warehouse_id)
    )
    if restrict:
        moves = moves.where(Movement.product_id.in_(products))
        on_hand_query = on_hand_query.where(Balance.product_id.in_(products))
    demand: dict[tuple[int, int], list[Decimal]] = {key: [Decimal(0)] * days for key in keys}
    net: dict[tuple[int, int], list[Decimal]] = {key: [Decimal(0)] * days for key in keys}
    for product_id, at, qty, src_wh, src_kind, dst_wh, dst_kind in session.execute(moves):
        day = (at.astimezone(dt.timezone.utc).date() if at.tzinfo else at.date()) - start
        index = min(max(day.days, 0), days - 1)
        if src_kind == "internal" and (product_id, src_wh) in keys:
            net[(product_id, src_wh)][index] -= qty
            if dst_kind == "customer":
                demand[(product_id, src_wh)][index] += qty
        if dst_kind == "internal" and (product_id, dst_wh) in keys:
            net[(product_id, dst_wh)][index] += qty
    now = {(p, w): total for p, w, total in session.execute(on_hand_query) if (p, w) in keys}
    out = {}
    for key in keys:
        level = now.get(key, Decimal(0))
        out_of_stock = [False] * days
        for index in range(days - 1, -1, -1):  # level is the end of day ``index``
            out_of_stock[index] = level <= 0
            level -= net[key][index]
        out[key] = (demand[key], out_of_stock)
    return out


def reorder_points(
    store: Store,
    actor: Actor,
    *,
    skus: Sequence[str] = (),
    offset: int = 0,
    limit: int = 100,
) -> list[ReorderPointSuggestion]:
    """Reorder points from demand for products with reorder settings (``skus`` to pick some),
    one page in SKU order, with their inputs."""
    check(store, actor, Permission.REPLENISH, "reorder points")
    today = dt.date.today()
    with store.read() as session:
        return _reorder_points(session, today, skus, offset, limit)


def _reorder_points(session: Session, today: dt.date, skus: Sequence[str], offset: int, limit: int) -> list[ReorderPointSuggestion]:
    window = _window(session)
    level = Decimal(settings.get(session, "replenish_service_level"))
    z = z_for(level)
    query = (
        select(ReorderSetting.product_id)
        .join(Product, Product.id == ReorderSetting.product_id)
        .join(Warehouse, Warehouse.id == ReorderSetting.warehouse_id)
        .order_by(Product.sku, Warehouse.code)
    )
    if skus:
        ids = [resolve_product(session, code).id for code in skus]
        query = query.where(ReorderSetting.product_id.in_(ids))
    else:
        query = query.offset(max(offset, 0)).limit(max(limit, 0))
    products = {product_id for (product_id,) in session.execute(query)}
    if not products:
        return []
    rows = alerts.project(session, today, products)
    history = _demand_history(session, rows, today, window)
    warehouses = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    out = []
    for row in rows:
        demand, out_of_stock = history[(row.product_id, row.warehouse_id)]
        in_stock = [qty for qty, empty in zip(demand, out_of_stock, strict=True) if not empty]
        lead = int(row.lead_time_days or 0)
        mean, deviation, safety, rop = reorder_point_from_demand(in_stock, lead, z)
        out.append(ReorderPointSuggestion(row.sku, row.name, warehouses[row.warehouse_id], len(in_stock),
                                          window - len(in_stock), mean, deviation, lead, level,
                                          Decimal(str(round(z, 3))), safety, row.reorder_point, rop))
    return sorted(out, key=lambda s: (s.sku, s.warehouse))


def apply_reorder_points(store: Store, actor: Actor, skus: Sequence[str]) -> list[ReorderPointSuggestion]:
    """Write the suggested reorder points (and their safety stock) of ``skus`` (managers; audited)."""
    if not skus:
        raise BadInput("name the products whose suggested reorder point to apply")
    check(store, actor, Permission.REPLENISH, ", ".join(skus))
    today = dt.date.today()

    def work(session: Session) -> list[ReorderPointSuggestion]:
        suggestions = _reorder_points(session, today, skus, 0, len(skus))
        for suggestion in suggestions:
            product = resolve_product(session, suggestion.sku)
            place = _find_warehouse(session, suggestion.warehouse, product)
            summary = alerts.write_settings(session, product, place.id, {
                "reorder_point": suggestion.suggested, "safety_stock": min(suggestion.safety_stock, suggestion.suggested)})
            audit.record(session, actor, "replenish.reorder_point", f"{product.sku} {place.code}",
                         f"{summary or 'unchanged'} (d {suggestion.daily_demand}, sd {suggestion.deviation}, "
                         f"L {suggestion.lead_time_days}, z {suggestion.z}, {suggestion.days} days in stock)",
                         product_id=product.id)
        return suggestions

    return store.transact(work)


def backtest(store: Store, actor: Actor, *, skus: Sequence[str] = (), days: int = 365, limit: int = 100) -> Backtest:
    """Replay the past ``days`` of demand with the current and with the suggested reorder points
    (reorder-point policy, orders of the suggested quantity arriving after the lead time; demand
    lost on a day out of stock is taken at the in-stock average; days before the product was
    first in stock are left out): stock-out days each would have had and the average stock each
    would have held."""
    check(store, actor, Permission.REPLENISH, "reorder points")
    today = dt.date.today()
    with store.read() as session:
        suggestions = {(s.sku, s.warehouse): s for s in _reorder_points(session, today, skus, 0, limit)}
        if not suggestions:
            return Backtest(days)
        ids = {resolve_product(session, sku).id for sku, _ in suggestions}
        rows = alerts.project(session, today, ids)
        history = _demand_history(session, rows, today, days)
        warehouses = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    lines = []
    for row in rows:
        suggestion = suggestions.get((row.sku, warehouses[row.warehouse_id]))
        if suggestion is None:
            continue
        demand, out_of_stock = history[(row.product_id, row.warehouse_id)]
        first = next((index for index, empty in enumerate(out_of_stock) if not empty), len(demand))  # before: not stocked yet
        series = [suggestion.daily_demand if empty else qty
                  for qty, empty in zip(demand[first:], out_of_stock[first:], strict=True)]
        replay = {}
        for name, point in (("current", row.reorder_point), ("suggested", suggestion.suggested)):
            replay[name] = simulate(series, point, row.reorder_qty, row.max_qty, row.min_order_qty, row.pack_qty,
                                    int(row.lead_time_days or 0), start=point + max(row.reorder_qty, Decimal(1)))
        lines.append(BacktestLine(row.sku, warehouses[row.warehouse_id], row.reorder_point, suggestion.suggested,
                                  replay["current"][0], replay["suggested"][0], replay["current"][1], replay["suggested"][1]))
    return Backtest(days, tuple(sorted(lines, key=lambda ln: (ln.sku, ln.warehouse))))


def simulate(demand: Sequence[Decimal], reorder_point: Decimal, reorder_qty: Decimal, max_qty: Decimal,
             min_order_qty: Decimal, pack_qty: Decimal, lead_time_days: int, *, start: Decimal) -> tuple[int, Decimal]:
    """(stock-out days, average end-of-day stock) of a reorder-point policy over ``demand``."""
    stock = start
    arriving: dict[int, Decimal] = defaultdict(Decimal)
    stockout_days = 0
    total = Decimal(0)
    for day, wanted in enumerate(demand):
        stock += arriving.pop(day, Decimal(0))
        if wanted > stock:
            stockout_days += 1
        stock = max(stock - wanted, Decimal(0))
        position = stock + sum(arriving.values(), Decimal(0))
        if reorder_point > 0 and position < reorder_point:
            arriving[day + max(lead_time_days, 1)] += order_quantity(position, reorder_point, reorder_qty, max_qty,
                                                                      min_order_qty, pack_qty)
        total += stock
    return stockout_days, (total / len(demand)).quantize(Decimal("0.001")) if demand else Decimal(0)
