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
    """CTEs ending in ``pt``: one row per product and warehouse holding stock at ``cut``, with the
    product's quantity (``pq``), ledger value, FIFO and LIFO values and receipt totals; ``pp`` has
    the same per product (cheaper: no share among warehouses).

    CTEs are never joined to each other (SQLite would loop over one for each row of the other):
    the product-level figures ride along one stream per product as window sums."""
    greatest, least = sql.greatest, sql.least
    return f"""
g AS (
  SELECT m.product_id AS pid, t.warehouse_id AS twh, f.warehouse_id AS fwh,
         (t.id IS NOT NULL) AS tin, (f.id IS NOT NULL) AS fin,
         SUM(m.qty) AS q, SUM(m.qty * m.unit_cost) AS v
  FROM {sql.movements}
  LEFT JOIN locations t ON t.id = m.to_location_id AND t.kind = 'internal'
  LEFT JOIN locations f ON f.id = m.from_location_id AND f.kind = 'internal'
  WHERE m.created_at < {cut}
  GROUP BY m.product_id, t.warehouse_id, f.warehouse_id, (t.id IS NOT NULL), (f.id IS NOT NULL)
),
wq AS (
  SELECT pid, wh, SUM(q) AS qty FROM (
    SELECT pid, twh AS wh, q FROM g WHERE tin
    UNION ALL SELECT pid, fwh AS wh, -q AS q FROM g WHERE fin
  ) f GROUP BY pid, wh HAVING SUM(q) <> 0
),
bk AS (SELECT pid, SUM(CASE WHEN tin THEN v ELSE -v END) AS v FROM g WHERE tin <> fin GROUP BY pid),
s AS (
  SELECT pid, 0 AS k, wh, qty, 0 AS v, 0 AS lid, 0 AS q, 0 AS u FROM wq
  UNION ALL SELECT pid, 1, NULL, 0, v, 0, 0, 0 FROM bk
  UNION ALL SELECT product_id, 2, NULL, 0, 0, id, original_qty, unit_cost FROM cost_layers WHERE created_at < {cut}
),
w AS (
  SELECT pid, k, wh, qty, v, q, u,
         SUM(qty) OVER (PARTITION BY pid) AS pq,
         SUM(q) OVER (PARTITION BY pid) - SUM(q) OVER (PARTITION BY pid ORDER BY lid ROWS UNBOUNDED PRECEDING) AS newer,
         SUM(q) OVER (PARTITION BY pid ORDER BY lid ROWS UNBOUNDED PRECEDING) - q AS older
  FROM s
),
x AS (
  SELECT pid, k, wh, qty, pq, v AS book,
         {greatest('0', least('q', 'pq - newer'))} * u AS fifo,
         {greatest('0', least('q', 'pq - older'))} * u AS lifo,
         q * u AS rv, q AS rq
  FROM w
),
pp AS (
  SELECT pid, CAST(NULL AS INTEGER) AS wh, SUM(qty) AS qty, SUM(qty) AS pq, SUM(book) AS book, SUM(fifo) AS fifo,
         SUM(lifo) AS lifo, SUM(rv) AS rv, SUM(rq) AS rq
  FROM x GROUP BY pid HAVING SUM(qty) <> 0
),
y AS (
  SELECT pid, k, wh, qty, pq,
         SUM(book) OVER (PARTITION BY pid) AS book, SUM(fifo) OVER (PARTITION BY pid) AS fifo,
         SUM(lifo) OVER (PARTITION BY pid) AS lifo, SUM(rv) OVER (PARTITION BY pid) AS rv,
         SUM(rq) OVER (PARTITION BY pid) AS rq
  FROM x
),
pt AS (SELECT pid, wh, SUM(qty) AS qty, MAX(pq) AS pq, MAX(book) AS book, MAX(fifo) AS fifo, MAX(lifo) AS lifo,
              MAX(rv) AS rv, MAX(rq) AS rq
       FROM y WHERE k = 0 AND pq <> 0 GROUP BY pid, wh HAVING SUM(qty) <> 0)"""


def build(session: Session, params: ReportParams) -> Query:
    sql = Dialect(session)
    num = sql.num
    as_of = params.as_of or params.day
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    key = {"product": "p.sku", "category": "p.category", "warehouse": "COALESCE(w.code, '')"}[params.by]
    name = {"product": "MAX(p.name)", "category": "''", "warehouse": "MAX(COALESCE(w.name, ''))"}[params.by]
    items = "COUNT(DISTINCT x.pid)"
    split = wh is not None or params.by == "warehouse"
    share = f"{num('x.qty')} / {num('x.pq')}" if split else "1"
    query = f"""
WITH {ledger_position(sql)},
rows_ AS (
  SELECT x.pid, x.wh, x.qty,
         {num('x.book')} * {share} AS book_value,
         {num('x.fifo')} * {share} AS fifo_value,
         {num('x.lifo')} * {share} AS lifo_value,
         CASE WHEN x.rq > 0 THEN {num('x.qty')} * {num('x.rv')} / {num('x.rq')} ELSE 0 END AS average_value
  FROM {'pt' if split else 'pp'} x
  WHERE 1 = 1 {'AND x.wh = :wh' if wh is not None else ''}
)
SELECT {key} AS key, {name} AS name, {items} AS items, SUM(x.qty) AS qty,
       SUM(x.book_value) AS book_value, SUM(x.fifo_value) AS fifo_value,
       SUM(x.lifo_value) AS lifo_value, SUM(x.average_value) AS average_value
FROM rows_ x JOIN products p ON p.id = x.pid LEFT JOIN warehouses w ON w.id = x.wh
WHERE 1 = 1 {product_filter(params)}
GROUP BY {key}"""
    return Query(query, {"cut": midnight(as_of + dt.timedelta(days=1)), "wh": wh, "category": params.category}, "key")


def keyed_build(session: Session, params: ReportParams) -> Query:
    return _keyed(build(session, params), params)


def columns(params: ReportParams):  # type: ignore[no-untyped-def]
    return ((params.by, "text"), ("name", "text"), ("items", "int"), *VALUE_COLUMNS)


register(Report(
    name="valuation",
    title="Valuation",
    description="value of stock on hand as of a date: ledger (book), FIFO, LIFO and average cost side by side",
    accepts=frozenset({"as_of", "warehouse", "category", "by"}),
    columns=columns,
    build=lambda session, params: keyed_build(session, params),
    chart=Chart("bar", "largest values on hand (book)", "by", "book_value"),
    series=top_rows_series(lambda session, params: keyed_build(session, params), "by", "book_value"),
    notes="FIFO is perpetual; LIFO and average are periodic over the cost layers up to the date; "
          "a product's value is shared among warehouses by quantity.",
))


def _keyed(query: Query, params: ReportParams) -> Query:
    """Name the grouping column after ``--by`` (``product``, ``category`` or ``warehouse``)."""
    return Query(query.sql.replace(" AS key,", f" AS {params.by},", 1), query.params, params.by)
