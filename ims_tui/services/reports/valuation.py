"""Valuation of stock on hand as of any date, under FIFO, LIFO and average cost side by side.

All in one SQL statement over the ledger up to the date:

* quantity on hand per product and warehouse: movements in minus out of internal locations;
* ``book_value``: what the ledger says the stock cost - receipts in at their cost, goods out at
  the cost the method in force at that posting gave them (so a change of method shows from the
  day it was made, and history is never rewritten);
* ``fifo_value``: the newest cost layers (receipts into stock) up to the date cover the quantity;
* ``lifo_value``: the oldest layers up to the date cover it (periodic LIFO);
* ``average_value``: the quantity at the weighted average cost of the layers up to the date.

FIFO is the same figure whether goods were consumed as they went or at the end (the newest
receipts are always what is left), so it is the perpetual FIFO value; LIFO and average here are
their periodic forms.  Cost layers belong to a product, not a bin, so a product's value is shared
among its warehouses by quantity.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ims_tui.services.reports.core import (
    Chart,
    Dialect,
    Query,
    Report,
    ReportParams,
    check_category,
    midnight,
    product_filter,
    register,
    top_rows_series,
    warehouse_id,
)

VALUE_COLUMNS = (("qty", "qty"), ("book_value", "money"), ("fifo_value", "money"), ("lifo_value", "money"),
                 ("average_value", "money"))


def ledger_position(sql: Dialect, cut: str = ":cut") -> str:
    """CTEs ``g`` (flows per product by source and destination warehouse), ``wh`` (on hand per
    product and warehouse), ``book`` (ledger value per product), ``prod`` (on hand per product)
    and ``meth`` (FIFO, LIFO and receipt totals per product) as of ``cut``."""
    greatest, least = sql.greatest, sql.least
    return f"""
loc AS (SELECT id, warehouse_id FROM locations WHERE kind = 'internal'),
g AS (
  SELECT m.product_id AS pid, t.warehouse_id AS twh, f.warehouse_id AS fwh,
         (t.id IS NOT NULL) AS tin, (f.id IS NOT NULL) AS fin,
         SUM(m.qty) AS q, SUM(m.qty * m.unit_cost) AS v
  FROM movements m
  LEFT JOIN loc t ON t.id = m.to_location_id
  LEFT JOIN loc f ON f.id = m.from_location_id
  WHERE m.created_at < {cut}
  GROUP BY m.product_id, t.warehouse_id, f.warehouse_id, (t.id IS NOT NULL), (f.id IS NOT NULL)
),
wh AS (
  SELECT pid, wh, SUM(q) AS qty FROM (
    SELECT pid, twh AS wh, q FROM g WHERE tin
    UNION ALL SELECT pid, fwh AS wh, -q AS q FROM g WHERE fin
  ) x GROUP BY pid, wh HAVING SUM(q) <> 0
),
book AS (
  SELECT pid, SUM(CASE WHEN tin AND NOT fin THEN v WHEN fin AND NOT tin THEN -v ELSE 0 END) AS v
  FROM g GROUP BY pid
),
prod AS (SELECT pid, SUM(qty) AS qty FROM wh GROUP BY pid),
lay AS (
  SELECT c.product_id AS pid, c.original_qty AS q, c.unit_cost AS u,
         SUM(c.original_qty) OVER (PARTITION BY c.product_id ORDER BY c.id DESC ROWS UNBOUNDED PRECEDING) - c.original_qty AS newer,
         SUM(c.original_qty) OVER (PARTITION BY c.product_id ORDER BY c.id ROWS UNBOUNDED PRECEDING) - c.original_qty AS older
  FROM cost_layers c
  WHERE c.created_at < {cut} AND c.product_id IN (SELECT pid FROM prod)
),
meth AS (
  SELECT l.pid,
         SUM({greatest('0', least('l.q', 'p.qty - l.newer'))} * l.u) AS fifo,
         SUM({greatest('0', least('l.q', 'p.qty - l.older'))} * l.u) AS lifo,
         SUM(l.q * l.u) AS rv, SUM(l.q) AS rq
  FROM lay l JOIN prod p ON p.pid = l.pid GROUP BY l.pid
)"""


def build(session: Session, params: ReportParams) -> Query:
    sql = Dialect(session)
    num = sql.num
    as_of = params.as_of or params.day
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    key = {"product": "p.sku", "category": "p.category", "warehouse": "COALESCE(w.code, '')"}[params.by]
    name = {"product": "MAX(p.name)", "category": "''", "warehouse": "MAX(COALESCE(w.name, ''))"}[params.by]
    items = "COUNT(DISTINCT x.pid)"
    share = f"{num('x.qty')} / {num('p2.qty')}"
    query = f"""
WITH {ledger_position(sql)},
rows_ AS (
  SELECT x.pid, x.wh, x.qty,
         {num('COALESCE(b.v, 0)')} * {share} AS book_value,
         {num('COALESCE(mt.fifo, 0)')} * {share} AS fifo_value,
         {num('COALESCE(mt.lifo, 0)')} * {share} AS lifo_value,
         CASE WHEN mt.rq > 0 THEN {num('x.qty')} * {num('mt.rv')} / {num('mt.rq')} ELSE 0 END AS average_value
  FROM wh x JOIN prod p2 ON p2.pid = x.pid
  LEFT JOIN book b ON b.pid = x.pid LEFT JOIN meth mt ON mt.pid = x.pid
  WHERE 1 = 1 {'AND x.wh = :wh' if wh is not None else ''}
)
SELECT {key} AS key, {name} AS name, {items} AS items, SUM(x.qty) AS qty,
       SUM(x.book_value) AS book_value, SUM(x.fifo_value) AS fifo_value,
       SUM(x.lifo_value) AS lifo_value, SUM(x.average_value) AS average_value
FROM rows_ x JOIN products p ON p.id = x.pid LEFT JOIN warehouses w ON w.id = x.wh
WHERE 1 = 1 {product_filter(params)}
GROUP BY {key}"""
    return Query(query, {"cut": midnight(as_of + dt.timedelta(days=1)), "wh": wh, "category": params.category}, "key")


def columns(params: ReportParams):  # type: ignore[no-untyped-def]
    return ((params.by, "text"), ("name", "text"), ("items", "int"), *VALUE_COLUMNS)


register(Report(
    name="valuation",
    title="Valuation",
    description="value of stock on hand as of a date: ledger (book), FIFO, LIFO and average cost side by side",
    accepts=frozenset({"as_of", "warehouse", "category", "by"}),
    columns=columns,
    build=lambda session, params: _keyed(build(session, params), params),
    chart=Chart("bar", "largest values on hand (book)", "by", "book_value"),
    series=top_rows_series("by", "book_value"),
    notes="FIFO is perpetual; LIFO and average are periodic over the cost layers up to the date; "
          "a product's value is shared among warehouses by quantity.",
))


def _keyed(query: Query, params: ReportParams) -> Query:
    """Name the grouping column after ``--by`` (``product``, ``category`` or ``warehouse``)."""
    return Query(query.sql.replace(" AS key,", f" AS {params.by},", 1), query.params, params.by)
