"""Reports that list what is (stock, aging, expiring lots) or what happened (movement history)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from ims_tui.services import settings
from ims_tui.services.reports.core import (
    CONVERT,
    Chart,
    Dialect,
    Query,
    Report,
    ReportParams,
    check_category,
    epoch_day,
    midnight,
    product_filter,
    register,
    warehouse_id,
)
from ims_tui.services.reports.core import execute_sql

AGING_BUCKETS = ((0, 30), (31, 60), (61, 90), (91, 180), (181, 365), (366, None))


def bucket_name(low: int, high: int | None) -> str:
    return f"d{low}_{high}" if high is not None else f"d{low - 1}_plus"


def unit_value_sql(session: Session) -> str:
    """Per product: the value of one unit on hand now (scale 4) - the moving average under the
    average method, else the open cost layers' value over their quantity."""
    if settings.get(session, "valuation_method") == "average":
        return "SELECT id AS pid, average_cost AS unit FROM products"
    return ("SELECT product_id AS pid, SUM(remaining_qty * unit_cost) / SUM(remaining_qty) AS unit "
            "FROM cost_layers WHERE remaining_qty > 0 GROUP BY product_id")


def _stock(session: Session, params: ReportParams) -> Query:
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    sql = f"""
SELECT p.sku AS sku, p.name AS name, COALESCE(w.code, '') AS warehouse, l.code AS location,
       COALESCE(lt.code, '') AS lot, lt.expiry AS expiry, b.on_hand AS on_hand, b.reserved AS reserved,
       b.on_hand - b.reserved AS available, b.on_hand * COALESCE(u.unit, 0) AS value
FROM balances b
JOIN products p ON p.id = b.product_id
JOIN locations l ON l.id = b.location_id
LEFT JOIN warehouses w ON w.id = l.warehouse_id
LEFT JOIN lots lt ON lt.id = b.lot_id
LEFT JOIN ({unit_value_sql(session)}) u ON u.pid = b.product_id
WHERE (b.on_hand > 0 OR b.reserved > 0) {'AND l.warehouse_id = :wh' if wh is not None else ''} {product_filter(params)}"""
    return Query(sql, {"wh": wh, "category": params.category}, "sku, location, lot")


register(Report(
    name="stock",
    title="Stock on hand",
    description="on hand by warehouse, location and lot, with reserved, available and value",
    accepts=frozenset({"warehouse", "category"}),
    columns=lambda params: (("sku", "text"), ("name", "text"), ("warehouse", "text"), ("location", "text"),
                            ("lot", "text"), ("expiry", "date"), ("on_hand", "qty"), ("reserved", "qty"),
                            ("available", "qty"), ("value", "money")),
    build=_stock,
    notes="value: on hand at the product's current unit value (open cost layers; the moving average under "
          "the average method).",
))


def _aging(session: Session, params: ReportParams) -> Query:
    sql_ = Dialect(session)
    check_category(session, params.category)
    today = epoch_day(params.day)
    buckets = ",\n       ".join(
        f"SUM(CASE WHEN c.age >= {low}{f' AND c.age <= {high}' if high is not None else ''} "
        f"THEN c.rq * c.u ELSE 0 END) AS {bucket_name(low, high)}"
        for low, high in AGING_BUCKETS
    )
    sql = f"""
SELECT p.sku AS sku, p.name AS name, p.category AS category, SUM(c.rq) AS qty, SUM(c.rq * c.u) AS value,
       {buckets},
       MAX(c.age) AS oldest_days
FROM (SELECT product_id, remaining_qty AS rq, unit_cost AS u, :today - {sql_.day('created_at')} AS age
      FROM cost_layers WHERE remaining_qty > 0) c
JOIN products p ON p.id = c.product_id
WHERE 1 = 1 {product_filter(params)}
GROUP BY p.sku, p.name, p.category"""
    return Query(sql, {"today": today, "category": params.category}, "sku")


def _aging_series(session: Session, params: ReportParams) -> list[tuple[str, Decimal]]:
    query = _aging(session, params)
    names = [bucket_name(low, high) for low, high in AGING_BUCKETS]
    sql = "SELECT " + ", ".join(f"SUM({name}) AS {name}" for name in names) + f" FROM ({query.sql}) r"
    row = execute_sql(session, sql, query, {}).one()._mapping
    labels = [f"{low}-{high}" if high is not None else f">{low - 1}" for low, high in AGING_BUCKETS]
    return [(label, CONVERT["money"](row[name] or 0)) for label, name in zip(labels, names, strict=True)]


register(Report(
    name="aging",
    title="Aging",
    description="stock on hand by age since receipt (from the open cost layers), value per bucket",
    accepts=frozenset({"category"}),
    columns=lambda params: (("sku", "text"), ("name", "text"), ("category", "text"), ("qty", "qty"), ("value", "money"),
                            *((bucket_name(low, high), "money") for low, high in AGING_BUCKETS),
                            ("oldest_days", "int")),
    build=_aging,
    series=_aging_series,
    chart=Chart("bar", "value by age (days since receipt)", "bucket", "value"),
    notes="ages are days since the receipt that opened each cost layer; layers belong to a product, not a "
          "bin, so aging is for the whole store.",
))


def _expiring(session: Session, params: ReportParams) -> Query:
    sql_ = Dialect(session)
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    today = params.as_of or params.day
    sql = f"""
SELECT p.sku AS sku, p.name AS name, lt.code AS lot, lt.expiry AS expiry,
       {sql_.date_day('lt.expiry')} - :today AS days_left,
       CASE WHEN lt.expiry < :today_date THEN 'expired' ELSE 'expiring' END AS status,
       COALESCE(w.code, '') AS warehouse, l.code AS location, b.on_hand AS qty,
       b.on_hand * COALESCE(u.unit, 0) AS value
FROM balances b
JOIN lots lt ON lt.id = b.lot_id
JOIN products p ON p.id = b.product_id
JOIN locations l ON l.id = b.location_id
LEFT JOIN warehouses w ON w.id = l.warehouse_id
LEFT JOIN ({unit_value_sql(session)}) u ON u.pid = b.product_id
WHERE b.on_hand > 0 AND lt.expiry IS NOT NULL AND lt.expiry <= :limit_date
      {'AND l.warehouse_id = :wh' if wh is not None else ''} {product_filter(params)}"""
    return Query(sql, {"today": epoch_day(today), "today_date": today,
                       "limit_date": today + dt.timedelta(days=params.days), "wh": wh, "category": params.category},
                 "expiry, sku, lot, location")


register(Report(
    name="expiring",
    title="Expiring lots",
    description="lots expired or expiring within --days (default 30) of --as-of, with value and bins",
    accepts=frozenset({"as_of", "days", "warehouse", "category"}),
    columns=lambda params: (("sku", "text"), ("name", "text"), ("lot", "text"), ("expiry", "date"),
                            ("days_left", "int"), ("status", "text"), ("warehouse", "text"), ("location", "text"),
                            ("qty", "qty"), ("value", "money")),
    build=_expiring,
    notes="stock on hand now whose lot expires by the date; value at the product's current unit value.",
))


def _moves(session: Session, params: ReportParams) -> Query:
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    start, end = params.period()
    product = ""
    if params.product is not None:
        from ims_tui.services.catalogue import find_product
        from ims_tui.services.errors import NotFound

        match = find_product(session, params.product)
        if match is None:
            raise NotFound(f"unknown product {params.product!r}")
        product = f" AND m.product_id = {int(match.product.id)}"
    sql = f"""
SELECT m.id AS id, m.created_at AS at, ps.kind AS kind, p.sku AS sku, m.qty AS qty,
       fl.code AS from_location, tl.code AS to_location, COALESCE(lt.code, '') AS lot,
       COALESCE(sn.serial, '') AS serial, m.unit_cost AS unit_cost, m.qty * m.unit_cost AS value,
       m.reason AS reason, m.reference AS reference, m.username AS username
FROM movements m
JOIN postings ps ON ps.id = m.posting_id
JOIN products p ON p.id = m.product_id
JOIN locations fl ON fl.id = m.from_location_id
JOIN locations tl ON tl.id = m.to_location_id
LEFT JOIN lots lt ON lt.id = m.lot_id
LEFT JOIN serial_numbers sn ON sn.id = m.serial_id
WHERE m.created_at >= :start AND m.created_at < :end
      {'AND (fl.warehouse_id = :wh OR tl.warehouse_id = :wh)' if wh is not None else ''}
      {product_filter(params)}{product}"""
    return Query(sql, {"start": midnight(start), "end": midnight(end + dt.timedelta(days=1)), "wh": wh,
                       "category": params.category}, "id")


register(Report(
    name="moves",
    title="Movement history",
    description="every movement in the period, filtered by warehouse, category or product",
    accepts=frozenset({"date_from", "date_to", "warehouse", "category", "product"}),
    columns=lambda params: (("id", "int"), ("at", "datetime"), ("kind", "text"), ("sku", "text"), ("qty", "qty"),
                            ("from_location", "text"), ("to_location", "text"), ("lot", "text"), ("serial", "text"),
                            ("unit_cost", "cost"), ("value", "money"), ("reason", "text"), ("reference", "text"),
                            ("username", "text")),
    build=_moves,
    totals=False,
))
