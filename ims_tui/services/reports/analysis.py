"""Reports over a period of the ledger: cost of goods sold, turnover, ABC/XYZ, product and supplier
performance.

Demand and cost of goods sold come from the ledger itself: movements from stock to the virtual
customer location (shipments) less movements back from it (customer returns), at the cost the
ledger gave them when they were posted.  Revenue is shipped quantity at the product's list price
(movements carry no selling price).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.models import Supplier
from ims_tui.services import settings
from ims_tui.services.errors import BadInput
from ims_tui.services.reports.core import (
    CENT,
    CONVERT,
    Chart,
    Dialect,
    Query,
    Report,
    ReportParams,
    execute_sql,
    check_category,
    epoch_day,
    midnight,
    product_filter,
    register,
    top_rows_series,
    warehouse_id,
)

BOUNDARY = "((t.kind = 'internal') <> (f.kind = 'internal'))"
SIGNED_VALUE = "CASE WHEN t.kind = 'internal' THEN m.qty * m.unit_cost ELSE -(m.qty * m.unit_cost) END"
SIGNED_QTY = "CASE WHEN t.kind = 'internal' THEN m.qty ELSE -m.qty END"


def _period(params: ReportParams) -> tuple[dt.date, dt.date, dict[str, Any]]:
    start, end = params.period()
    return start, end, {"start": midnight(start), "end": midnight(end + dt.timedelta(days=1))}


def _group(params: ReportParams) -> tuple[str, str]:
    return {"product": ("p.sku", "MAX(p.name)"), "category": ("p.category", "''"),
            "warehouse": ("COALESCE(w.code, '')", "MAX(COALESCE(w.name, ''))")}[params.by]


# --- cost of goods sold ----------------------------------------------------------------------


def _cogs(session: Session, params: ReportParams) -> Query:
    sql_ = Dialect(session)
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    _, _, bounds = _period(params)
    key, name = _group(params)
    sql = f"""
SELECT {key} AS {params.by}, {name} AS name,
       SUM(CASE WHEN t.kind = 'customer' THEN m.qty ELSE 0 END) AS shipped_qty,
       SUM(CASE WHEN t.kind = 'customer' THEN m.qty * m.unit_cost ELSE 0 END) AS shipped_cost,
       SUM(CASE WHEN f.kind = 'customer' THEN m.qty ELSE 0 END) AS returned_qty,
       SUM(CASE WHEN f.kind = 'customer' THEN m.qty * m.unit_cost ELSE 0 END) AS returned_cost,
       SUM(CASE WHEN t.kind = 'customer' THEN m.qty * m.unit_cost
                WHEN f.kind = 'customer' THEN -(m.qty * m.unit_cost) ELSE 0 END) AS cogs,
       SUM(CASE WHEN t.kind IN ('adjustment', 'scrap') THEN m.qty * m.unit_cost
                WHEN f.kind IN ('adjustment', 'scrap') THEN -(m.qty * m.unit_cost) ELSE 0 END) AS written_off
FROM {sql_.movements}
JOIN locations f ON f.id = m.from_location_id
JOIN locations t ON t.id = m.to_location_id
JOIN products p ON p.id = m.product_id
LEFT JOIN warehouses w ON w.id = CASE WHEN f.kind = 'internal' THEN f.warehouse_id ELSE t.warehouse_id END
WHERE m.created_at >= :start AND m.created_at < :end
  AND (t.kind IN ('customer', 'adjustment', 'scrap') OR f.kind IN ('customer', 'adjustment', 'scrap'))
  AND {BOUNDARY}
  {'AND w.id = :wh' if wh is not None else ''} {product_filter(params)}
GROUP BY {key}"""
    return Query(sql, {**bounds, "wh": wh, "category": params.category}, params.by)


register(Report(
    name="cogs",
    title="Cost of goods sold",
    description="shipments less customer returns at ledger cost for a period, and stock written off",
    accepts=frozenset({"date_from", "date_to", "warehouse", "category", "by"}),
    columns=lambda params: ((params.by, "text"), ("name", "text"), ("shipped_qty", "qty"), ("shipped_cost", "money"),
                            ("returned_qty", "qty"), ("returned_cost", "money"), ("cogs", "money"),
                            ("written_off", "money")),
    build=_cogs,
    chart=Chart("bar", "largest cost of goods sold", "by", "cogs"),
    series=top_rows_series(_cogs, "by", "cogs"),
    notes="shipments are movements to the customer location; written_off: counts and scrap (losses less gains).",
))


# --- turnover -------------------------------------------------------------------------------


def _turnover(session: Session, params: ReportParams) -> Query:
    check_category(session, params.category)
    sql_ = Dialect(session)
    _, _, bounds = _period(params)
    key, name = _group(params)
    sql = f"""
WITH f_ AS (
  SELECT m.product_id AS pid,
         SUM(CASE WHEN m.created_at < :start THEN {SIGNED_VALUE} ELSE 0 END) AS v0,
         SUM({SIGNED_VALUE}) AS v1,
         SUM(CASE WHEN m.created_at >= :start AND t.kind = 'customer' THEN m.qty * m.unit_cost
                  WHEN m.created_at >= :start AND f.kind = 'customer' THEN -(m.qty * m.unit_cost) ELSE 0 END) AS cogs
  FROM {sql_.movements}
  JOIN locations f ON f.id = m.from_location_id
  JOIN locations t ON t.id = m.to_location_id
  WHERE m.created_at < :end AND {BOUNDARY}
  GROUP BY m.product_id
)
SELECT {key} AS {params.by}, {name} AS name, SUM(x.v0) AS opening_value, SUM(x.v1) AS closing_value,
       {sql_.num('SUM(x.v0) + SUM(x.v1)')} / 2 AS average_value, SUM(x.cogs) AS cogs
FROM f_ x JOIN products p ON p.id = x.pid
WHERE 1 = 1 {product_filter(params)}
GROUP BY {key}"""
    return Query(sql, {**bounds, "category": params.category}, params.by)


def _ratio_columns(params: ReportParams, values: dict[str, Any]) -> dict[str, Any]:
    start, end = params.period()
    days = (end - start).days + 1
    average, cogs = values["average_value"], values["cogs"]
    values["turnover"] = (cogs / average).quantize(CENT) if average and average > 0 else None
    values["days_on_hand"] = (average / cogs * days).quantize(CENT) if cogs and cogs > 0 else None
    return values


def _turnover_series(session: Session, params: ReportParams) -> list[tuple[str, Decimal]]:
    """Turnover month by month (annualised: COGS x 12 / average value), from one grouped query."""
    sql_ = Dialect(session)
    start, end, bounds = _period(params)
    category = " AND p.category = :category" if params.category is not None else ""
    sql = f"""
SELECT CASE WHEN m.created_at < :start THEN '0000-00' ELSE {sql_.month('m.created_at')} END AS month,
       SUM({SIGNED_VALUE}) AS flow,
       SUM(CASE WHEN t.kind = 'customer' THEN m.qty * m.unit_cost
                WHEN f.kind = 'customer' THEN -(m.qty * m.unit_cost) ELSE 0 END) AS cogs
FROM {sql_.movements}
JOIN locations f ON f.id = m.from_location_id
JOIN locations t ON t.id = m.to_location_id
JOIN products p ON p.id = m.product_id
WHERE m.created_at < :end AND {BOUNDARY}{category}
GROUP BY CASE WHEN m.created_at < :start THEN '0000-00' ELSE {sql_.month('m.created_at')} END"""
    rows = {row.month: row for row in execute_sql(session, sql, Query(sql, {**bounds, "category": params.category}, ""), {})}
    value = CONVERT["money"](rows["0000-00"].flow) if "0000-00" in rows else Decimal(0)
    points = []
    month = start.replace(day=1)
    while month <= end:
        label = f"{month:%Y-%m}"
        row = rows.get(label)
        opening = value
        value = opening + (CONVERT["money"](row.flow) if row else 0)
        cogs = CONVERT["money"](row.cogs) if row else Decimal(0)
        average = (opening + value) / 2
        points.append((label, (cogs * 12 / average).quantize(CENT) if average > 0 else Decimal(0)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return points


register(Report(
    name="turnover",
    title="Turnover",
    description="inventory turnover (COGS / average inventory value) and days on hand for a period",
    accepts=frozenset({"date_from", "date_to", "category", "by"}),
    columns=lambda params: ((params.by, "text"), ("name", "text"), ("opening_value", "money"),
                            ("closing_value", "money"), ("average_value", "money"), ("cogs", "money"),
                            ("turnover", "number"), ("days_on_hand", "number")),
    build=_turnover,
    finish=_ratio_columns,
    chart=Chart("line", "turnover by month (annualised)", "month", "turnover"),
    series=_turnover_series,
    notes="average inventory is the mean of the ledger (book) value at the start and the end of the period; "
          "by product or category (cost is kept per product, not per warehouse).",
))


# --- ABC / XYZ -------------------------------------------------------------------------------


def _abc(session: Session, params: ReportParams) -> Query:
    check_category(session, params.category)
    sql_ = Dialect(session)
    start, _, bounds = _period(params)
    sql = f"""
WITH d AS (
  SELECT m.product_id AS pid, {sql_.day('m.created_at')} AS dn, m.qty AS q, m.qty * m.unit_cost AS v
  FROM {sql_.movements} JOIN locations t ON t.id = m.to_location_id JOIN products p ON p.id = m.product_id
  WHERE t.kind = 'customer' AND m.created_at >= :start AND m.created_at < :end {product_filter(params)}
),
wk AS (SELECT pid, (dn - :start_day) / 7 AS week, SUM(q) AS q, SUM(v) AS v FROM d GROUP BY pid, (dn - :start_day) / 7),
c AS (SELECT pid, SUM(q) AS q, SUM(v) AS v, SUM({sql_.num('q')} * {sql_.num('q')}) AS s2 FROM wk GROUP BY pid),
tot AS (SELECT SUM(v) AS total FROM c)
SELECT ROW_NUMBER() OVER (ORDER BY c.v DESC, p.sku) AS rank, p.sku AS sku, p.name AS name, p.category AS category,
       c.q AS demand_qty, c.v AS consumption_value,
       100 * {sql_.num('c.v')} / {sql_.num('tot.total')} AS share_pct,
       100 * {sql_.num('SUM(c.v) OVER (ORDER BY c.v DESC, p.sku ROWS UNBOUNDED PRECEDING)')} / {sql_.num('tot.total')}
           AS cumulative_pct,
       c.s2 AS s2
FROM c JOIN products p ON p.id = c.pid CROSS JOIN tot
WHERE c.v > 0"""
    return Query(sql, {**bounds, "start_day": epoch_day(start)}, "rank")


def _abc_context(session: Session, params: ReportParams) -> dict[str, Any]:
    values = settings.read_all(session)
    return {key: Decimal(values[key]) for key in ("abc_a", "abc_b", "xyz_x", "xyz_y")}


def _abc_classes(params: ReportParams, values: dict[str, Any]) -> dict[str, Any]:
    bounds = values["_context"]
    before = values["cumulative_pct"] - values["share_pct"]
    values["abc"] = "A" if before < bounds["abc_a"] else "B" if before < bounds["abc_b"] else "C"
    start, end = params.period()
    weeks = math.ceil(((end - start).days + 1) / 7)
    total = float(values["demand_qty"])
    squares = float(values["_raw"]["s2"] or 0) / 1e6  # quantities are scaled by 1000
    mean = total / weeks
    variance = max(squares / weeks - mean * mean, 0.0)
    cv = math.sqrt(variance) / mean if mean > 0 else None
    values["demand_cv"] = Decimal(str(cv)).quantize(CENT) if cv is not None else None
    values["xyz"] = "" if cv is None else "X" if cv <= bounds["xyz_x"] else "Y" if cv <= bounds["xyz_y"] else "Z"
    return values


def _pareto(session: Session, params: ReportParams) -> list[tuple[str, Decimal]]:
    """The Pareto curve: cumulative share of consumption value at 20 evenly spaced ranks."""
    query = _abc(session, params)
    total = execute_sql(session, f"SELECT COUNT(*) FROM ({query.sql}) r", query, {}).scalar_one()
    if not total:
        return []
    ranks = sorted({max(1, round(total * step / 20)) for step in range(1, 21)})
    marks = ", ".join(str(rank) for rank in ranks)
    rows = execute_sql(session, f"SELECT rank, cumulative_pct FROM ({query.sql}) r WHERE rank IN ({marks}) ORDER BY rank",
                    query, {})
    return [(f"{100 * row.rank // total}%", Decimal(str(row.cumulative_pct)).quantize(CENT)) for row in rows]


register(Report(
    name="abc",
    title="ABC / XYZ",
    description="ABC by consumption value (boundaries: ims settings abc) and XYZ by weekly demand variability",
    accepts=frozenset({"date_from", "date_to", "category"}),
    columns=lambda params: (("rank", "int"), ("sku", "text"), ("name", "text"), ("category", "text"),
                            ("demand_qty", "qty"), ("consumption_value", "money"), ("share_pct", "number"),
                            ("cumulative_pct", "number"), ("abc", "text"), ("demand_cv", "number"), ("xyz", "text")),
    build=_abc,
    prepare=_abc_context,
    finish=_abc_classes,
    chart=Chart("line", "Pareto: cumulative % of consumption value by % of items", "items", "cumulative_pct"),
    series=_pareto,
    notes="an item is A while the share before it is under the A boundary (the item that crosses it is A), "
          "B likewise; XYZ: coefficient of variation of weekly shipped quantity; items with no shipments "
          "in the period are left out.",
))


# --- product performance ---------------------------------------------------------------------


def _performance(session: Session, params: ReportParams) -> Query:
    check_category(session, params.category)
    sql_ = Dialect(session)
    start, end, bounds = _period(params)
    greatest, least = sql_.greatest, sql_.least
    sql = f"""
WITH mv AS (
  SELECT m.product_id AS pid, m.created_at AS at, {sql_.day('m.created_at')} AS dn, m.qty AS qty,
         m.unit_cost AS u, f.kind AS fk, t.kind AS tk
  FROM {sql_.movements}
  JOIN locations f ON f.id = m.from_location_id
  JOIN locations t ON t.id = m.to_location_id
  JOIN products p ON p.id = m.product_id
  WHERE m.created_at < :end AND (f.kind = 'internal') <> (t.kind = 'internal') {product_filter(params)}
),
flows AS (
  SELECT pid,
         SUM(CASE WHEN at >= :start AND tk = 'customer' THEN qty WHEN at >= :start AND fk = 'customer' THEN -qty ELSE 0 END) AS shipped_qty,
         SUM(CASE WHEN at >= :start AND tk = 'customer' THEN qty * u WHEN at >= :start AND fk = 'customer' THEN -(qty * u) ELSE 0 END) AS cogs,
         SUM(CASE WHEN at >= :start AND fk = 'supplier' THEN qty ELSE 0 END) AS received_qty,
         SUM(CASE WHEN at < :start AND tk = 'internal' THEN qty WHEN at < :start THEN -qty ELSE 0 END) AS opening_qty,
         0 AS days
  FROM mv GROUP BY pid
),
dd AS (SELECT pid, dn, SUM(CASE WHEN tk = 'internal' THEN qty ELSE -qty END) AS net FROM mv GROUP BY pid, dn),
rb AS (
  SELECT pid, dn, SUM(net) OVER (PARTITION BY pid ORDER BY dn ROWS UNBOUNDED PRECEDING) AS bal,
         LEAD(dn, 1, :end_day) OVER (PARTITION BY pid ORDER BY dn) AS nxt
  FROM dd
),
a AS (  -- flows and stock-out days side by side per product (a union, not a join of two CTEs)
  SELECT pid, SUM(shipped_qty) AS shipped_qty, SUM(cogs) AS cogs, SUM(received_qty) AS received_qty,
         SUM(opening_qty) AS opening_qty, SUM(days) AS days
  FROM (
    SELECT * FROM flows
    UNION ALL
    SELECT pid, 0, 0, 0, 0, {greatest('0', f"{least('nxt', ':end_day')} - {greatest('dn', ':start_day')}")}
    FROM rb WHERE bal = 0
  ) u GROUP BY pid
)
SELECT p.sku AS sku, p.name AS name, p.category AS category, a.shipped_qty AS shipped_qty, a.cogs AS cogs,
       a.shipped_qty * p.unit_price AS revenue, a.shipped_qty * p.unit_price - a.cogs AS margin,
       a.received_qty AS received_qty, a.opening_qty AS opening_qty, a.days AS stockout_days
FROM a JOIN products p ON p.id = a.pid
WHERE a.shipped_qty <> 0 OR a.received_qty <> 0 OR a.opening_qty <> 0"""
    return Query(sql, {**bounds, "start_day": epoch_day(start), "end_day": epoch_day(end) + 1,
                       "category": params.category}, "sku")


def _performance_ratios(params: ReportParams, values: dict[str, Any]) -> dict[str, Any]:
    revenue, margin = values["revenue"], values["margin"]
    values["margin_pct"] = (100 * margin / revenue).quantize(CENT) if revenue else None
    available = values["opening_qty"] + values["received_qty"]
    values["sell_through_pct"] = (100 * values["shipped_qty"] / available).quantize(CENT) if available > 0 else None
    return values


register(Report(
    name="performance",
    title="Product performance",
    description="units and cost shipped, revenue at list price, margin, sell-through and stock-out days",
    accepts=frozenset({"date_from", "date_to", "category"}),
    columns=lambda params: (("sku", "text"), ("name", "text"), ("category", "text"), ("shipped_qty", "qty"),
                            ("cogs", "money"), ("revenue", "money"), ("margin", "money"), ("margin_pct", "number"),
                            ("opening_qty", "qty"), ("received_qty", "qty"), ("sell_through_pct", "number"),
                            ("stockout_days", "int")),
    build=_performance,
    finish=_performance_ratios,
    chart=Chart("bar", "largest margins", "sku", "margin"),
    series=top_rows_series(_performance, "sku", "margin"),
    notes="revenue: shipped quantity (less returns) at the product's list price, as movements carry no "
          "selling price; sell-through: shipped / (opening + received); stock-out days: days in the period "
          "ending with nothing on hand, after the product's first receipt.",
))


# --- supplier performance --------------------------------------------------------------------


def _suppliers(session: Session, params: ReportParams) -> Query:
    sql_ = Dialect(session)
    _, _, bounds = _period(params)
    supplier = ""
    if params.supplier is not None:
        found = session.scalar(select(Supplier.id).where((Supplier.name == params.supplier) | (Supplier.code == params.supplier)))
        if found is None:
            raise BadInput(f"unknown supplier {params.supplier!r}")
        supplier = f" AND s.id = {int(found)}"
    day, date_day = sql_.day, sql_.date_day
    sql = f"""
WITH rc AS (
  SELECT m.reference AS ref, m.product_id AS pid, MIN(m.created_at) AS first_at
  FROM movements m JOIN locations f ON f.id = m.from_location_id
  WHERE f.kind = 'supplier' AND m.reference <> ''
  GROUP BY m.reference, m.product_id
),
ln AS (
  SELECT s.name AS supplier, s.code AS code, po.number AS number, pl.qty_ordered AS ordered, pl.qty_received AS received,
         {day('po.ordered_at')} AS ordered_day,
         COALESCE({date_day('pl.expected_date')}, {date_day('po.expected_date')}, {day('po.ordered_at')} + s.lead_time_days) AS due_day,
         {day('rc.first_at')} AS first_day
  FROM purchase_order_lines pl
  JOIN purchase_orders po ON po.id = pl.order_id
  JOIN suppliers s ON s.id = po.supplier_id
  LEFT JOIN rc ON rc.ref = po.number || '/' || CAST(pl.line_no AS VARCHAR(12)) AND rc.pid = pl.product_id
  WHERE po.ordered_at IS NOT NULL AND po.ordered_at >= :start AND po.ordered_at < :end
    AND po.status <> 'cancelled'{supplier}
)
SELECT supplier, code, COUNT(DISTINCT number) AS orders, COUNT(*) AS lines, SUM(ordered) AS ordered_qty,
       SUM(received) AS received_qty,
       100 * {sql_.num(f"SUM({sql_.least('received', 'ordered')})")} / {sql_.num('SUM(ordered)')} AS fill_rate_pct,
       AVG({sql_.num('due_day - ordered_day')}) AS promised_days,
       AVG({sql_.num('first_day - ordered_day')}) AS actual_days,
       SUM(CASE WHEN first_day IS NOT NULL THEN 1 ELSE 0 END) AS received_lines,
       SUM(CASE WHEN first_day > due_day THEN 1 ELSE 0 END) AS late_lines
FROM ln GROUP BY supplier, code"""
    return Query(sql, bounds, "supplier")


register(Report(
    name="suppliers",
    title="Supplier performance",
    description="purchase orders placed in the period: fill rate, promised against actual lead time, late lines",
    accepts=frozenset({"date_from", "date_to", "supplier"}),
    columns=lambda params: (("supplier", "text"), ("code", "text"), ("orders", "int"), ("lines", "int"),
                            ("ordered_qty", "qty"), ("received_qty", "qty"), ("fill_rate_pct", "number"),
                            ("promised_days", "number"), ("actual_days", "number"), ("received_lines", "int"),
                            ("late_lines", "int")),
    build=_suppliers,
    notes="promised: the line's (else the order's) expected date, else the supplier's lead time, from the day "
          "it was ordered; actual: the day of the line's first receipt.",
))
