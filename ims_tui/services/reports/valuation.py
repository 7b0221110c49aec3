"""Valuation of stock on hand as of any date, under FIFO, LIFO and average cost side by side.

All in one SQL statement over the latest valuation snapshot at or before the date and the ledger
it does not cover (``snapshots.py``: the movements after it, and any backdated since it was built):

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

from ims_tui.services.reports import snapshots
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


def build(session: Session, params: ReportParams) -> Query:
    sql = Dialect(session)
    num = sql.num
    as_of = params.as_of or params.day
    wh = warehouse_id(session, params.warehouse)
    check_category(session, params.category)
    cut = midnight(as_of + dt.timedelta(days=1))
    basis = snapshots.basis_for(session, cut)
    key = {"product": "p.sku", "category": "p.category", "warehouse": "COALESCE(w.code, '')"}[params.by]
    name = {"product": "MAX(p.name)", "category": "''", "warehouse": "MAX(COALESCE(w.name, ''))"}[params.by]
    split = wh is not None or params.by == "warehouse"
    if split:  # each product's values shared among its warehouses by quantity
        rows = f"SELECT pid, wh, qty, book_value, fifo_value, lifo_value, average_value FROM sv x {'WHERE x.wh = :wh' if wh is not None else ''}"
    else:
        rows = (f"SELECT pid, CAST(NULL AS INTEGER) AS wh, qty, {num('x.book')} * 1 AS book_value, "
                f"{num('x.fifo')} * 1 AS fifo_value, {num('x.lifo')} * 1 AS lifo_value, average_value FROM pv x WHERE x.qty <> 0")
    products = params.by != "warehouse" or params.category is not None
    if params.by == "product":  # one row per product already (one warehouse at most when split)
        select = ("p.sku AS key, p.name AS name, 1 AS items, x.qty, x.book_value, x.fifo_value, x.lifo_value, "
                  "x.average_value")
        group = ""
    else:  # rows are one per product (and warehouse, when split): COUNT(*) counts products
        select = (f"{key} AS key, {name} AS name, COUNT(*) AS items, SUM(x.qty) AS qty, "
                  "SUM(x.book_value) AS book_value, SUM(x.fifo_value) AS fifo_value, "
                  "SUM(x.lifo_value) AS lifo_value, SUM(x.average_value) AS average_value")
        group = f"GROUP BY {key}"
    query = f"""
WITH {snapshots.position(sql, basis)},
rows_ AS ({rows})
SELECT {select}
FROM rows_ x {'JOIN products p ON p.id = x.pid' if products else ''}
     {'LEFT JOIN warehouses w ON w.id = x.wh' if params.by == 'warehouse' else ''}
WHERE 1 = 1 {product_filter(params)}
{group}"""
    return Query(query, {**basis.params(cut), "wh": wh, "category": params.category}, "key")


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
    before=lambda store, params: snapshots.ensure(store, params.as_of or params.day, params.day),
    notes="FIFO is perpetual; LIFO and average are periodic over the cost layers up to the date; "
          "a product's value is shared among warehouses by quantity.",
))


def _keyed(query: Query, params: ReportParams) -> Query:
    """Name the grouping column after ``--by`` (``product``, ``category`` or ``warehouse``)."""
    return Query(query.sql.replace(" AS key,", f" AS {params.by},", 1), query.params, params.by)
