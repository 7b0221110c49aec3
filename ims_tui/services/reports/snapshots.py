"""Valuation snapshots: every product's position at a UTC midnight, so an as-of valuation reads one
snapshot and only the ledger it does not cover, instead of the whole ledger.

A snapshot at ``cut`` records, per product, the quantity, book value, FIFO and LIFO values and the
receipt totals (the moving average's inputs) of the movements and cost layers dated before
``cut``, and per product and warehouse the quantity and its share of those values.  It also
records the highest movement id (``movement_id``) and cost layer id (``layer_id``) it covers: the
ledger is append-only, so what it covers is exactly "dated before ``cut`` with an id at most
``movement_id``".  The valuation as of a later moment adds what it does not cover:

* movements dated from ``cut`` up to the moment (a range scan on ``ix_movements_created_at``), and
* movements with a higher id dated before ``cut`` - postings backdated after the snapshot was
  built (a range scan on the primary key);

the same for cost layers.  A product those touch is recomputed from its own cost layers; every
other product's figures are the snapshot's.  So a backdated posting is never missed and no
snapshot is ever invalidated by one.  What a snapshot depends on besides the ledger is which
warehouse each location belongs to: its digest is kept, and a snapshot whose digest no longer
matches is not used (and is rebuilt).

Snapshots are built at the first of each month (the periods) and at the start of any day a
valuation is asked for, each from the latest earlier snapshot plus the ledger after it.  The rows
are computed under a read transaction into temporary tables and copied in short write
transactions, so SQLite's write lock is never held for long.  Month snapshots are kept; of the
others the newest :data:`KEEP_DAYS` are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import READ_ONLY_OPTION, Store
from ims_tui.services.actor import Actor
from ims_tui.services.permissions import Permission, check
from ims_tui.services.reports.core import Dialect, midnight

EVERYTHING = 2**62
"""The id bound of a valuation read: every movement and layer committed so far."""
KEEP_DAYS = 10
"""Day snapshots (not the first of a month) kept, newest first; older ones are deleted."""
CHUNK = 20_000
"""Products copied per write transaction when a snapshot is stored."""
STALE_BUILD = dt.timedelta(minutes=30)
"""An incomplete snapshot older than this was left by a builder that died; it is removed."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Basis:
    """The snapshot a position starts from (``snapshot`` None: the ledger's beginning)."""

    snapshot: int | None
    cut: dt.datetime = _EPOCH
    movement_id: int = 0
    layer_id: int = 0

    def params(self, cut: dt.datetime, top_movement: int = EVERYTHING, top_layer: int = EVERYTHING) -> dict[str, Any]:
        bounds = {"cut": cut, "top_movement": top_movement, "top_layer": top_layer}
        if self.snapshot is None:  # the whole ledger: no bounds of a snapshot in the SQL
            return {**bounds, "snap": -1}
        return {**bounds, "snap": self.snapshot, "snap_cut": self.cut, "snap_movement": self.movement_id,
                "snap_layer": self.layer_id}


@dataclass(frozen=True)
class Built:
    cut: dt.datetime
    products: int
    seconds: float
    started_from: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"cut": self.cut.isoformat(), "products": self.products, "seconds": round(self.seconds, 2),
                "from": self.started_from.isoformat() if self.started_from else None}


DATETIME_PARAMS = ("cut", "snap_cut")


def statement(sql: str) -> Any:
    """``sql`` with its datetime parameters bound as timestamps (stored as text on SQLite)."""
    return text(sql).bindparams(*(bindparam(name, type_=DateTime(timezone=True)) for name in DATETIME_PARAMS
                                  if f":{name}" in sql))


# --- the position as of a cut -------------------------------------------------------------------


def share(sql: Dialect, value: str, qty: str, pq: str) -> str:
    """A product's value shared to one warehouse by quantity (the report's own expression)."""
    return f"{sql.num(value)} * {sql.num(qty)} / {sql.num(pq)}"


def average(sql: Dialect, qty: str, rv: str, rq: str) -> str:
    return f"CASE WHEN {rq} > 0 THEN {sql.num(qty)} * {sql.num(rv)} / {sql.num(rq)} ELSE 0 END"


def position(sql: Dialect, basis: Basis) -> str:
    """CTEs, given ``:snap`` and the bounds of :meth:`Basis.params`, ending in

    * ``pv`` (pid, qty, book, fifo, lifo, rv, rq, average_value): every product with a position;
    * ``sv`` (pid, wh, qty, book_value, fifo_value, lifo_value, average_value): every product and
      warehouse holding stock, the product's values shared among its warehouses by quantity.

    Products the ledger after the snapshot touches (``touched``) are recomputed: their quantity
    and book value are the snapshot's plus the movements after it; FIFO and LIFO come from all
    their cost layers up to the cut, in one window pass per product (the quantity and receipt
    total rows sort first, so the running sums give each layer the older and newer quantities).
    """
    return ",\n".join(f"{name} AS ({body})" for name, body in steps(sql, basis))


def steps(sql: Dialect, basis: Basis) -> list[tuple[str, str]]:
    """:func:`position`'s CTEs in order, each a SELECT over the ones before it."""
    greatest, least = sql.greatest, sql.least
    whole = basis.snapshot is None
    # with no snapshot every movement is "after" it: a plain scan, not a walk of the date index
    after = (f"""
  SELECT m.product_id, m.qty, m.unit_cost, m.from_location_id, m.to_location_id FROM {sql.movements}
  WHERE m.created_at < :cut AND m.id <= :top_movement""" if whole else """
  SELECT product_id, qty, unit_cost, from_location_id, to_location_id FROM movements
  WHERE created_at >= :snap_cut AND created_at < :cut AND id <= :top_movement
  UNION ALL
  SELECT product_id, qty, unit_cost, from_location_id, to_location_id FROM movements
  WHERE id > :snap_movement AND id <= :top_movement AND created_at < :snap_cut""")
    layers_after = ("""
  SELECT product_id AS pid, original_qty AS q FROM cost_layers WHERE created_at < :cut AND id <= :top_layer"""
                    if whole else """
  SELECT product_id AS pid, original_qty AS q FROM cost_layers
  WHERE created_at >= :snap_cut AND created_at < :cut AND id <= :top_layer
  UNION ALL SELECT product_id, original_qty FROM cost_layers
  WHERE id > :snap_layer AND id <= :top_layer AND created_at < :snap_cut""")
    touched_layers = ("cost_layers WHERE created_at < :cut AND id <= :top_layer" if whole else
                      "cost_layers WHERE product_id IN (SELECT pid FROM touched) AND created_at < :cut AND id <= :top_layer")
    return [
        ("dm", after),
        ("g", """
  SELECT m.product_id AS pid, t.warehouse_id AS twh, f.warehouse_id AS fwh,
         (t.id IS NOT NULL) AS tin, (f.id IS NOT NULL) AS fin,
         SUM(m.qty) AS q, SUM(m.qty * m.unit_cost) AS v
  FROM dm m
  LEFT JOIN locations t ON t.id = m.to_location_id AND t.kind = 'internal'
  LEFT JOIN locations f ON f.id = m.from_location_id AND f.kind = 'internal'
  GROUP BY m.product_id, t.warehouse_id, f.warehouse_id, (t.id IS NOT NULL), (f.id IS NOT NULL)"""),
        ("dl", layers_after),
        ("touched", "SELECT pid FROM g UNION SELECT pid FROM dl"),
        ("tw", """
  SELECT pid, wh, SUM(qty) AS qty FROM (
    SELECT pid, twh AS wh, q AS qty FROM g WHERE tin
    UNION ALL SELECT pid, fwh AS wh, -q AS qty FROM g WHERE fin
    UNION ALL SELECT product_id, NULLIF(warehouse_key, 0), qty FROM valuation_snapshot_stock
      WHERE snapshot_id = :snap AND product_id IN (SELECT pid FROM touched)
  ) f GROUP BY pid, wh HAVING SUM(qty) <> 0"""),
        ("s", f"""
  SELECT pid, 0 AS lid, qty, 0 AS rt, 0 AS v, 0 AS q, 0 AS u FROM tw
  UNION ALL SELECT pid, 0, 0, 0, CASE WHEN tin THEN v ELSE -v END, 0, 0 FROM g WHERE tin <> fin
  UNION ALL SELECT pid, 0, 0, q, 0, 0, 0 FROM dl
  UNION ALL SELECT product_id, 0, 0, receipt_qty, book, 0, 0 FROM valuation_snapshot_products
    WHERE snapshot_id = :snap AND product_id IN (SELECT pid FROM touched)
  UNION ALL SELECT product_id, id, 0, 0, 0, original_qty, unit_cost FROM {touched_layers}"""),
        ("w", """
  SELECT pid, qty, v, q, u, SUM(qty) OVER r AS pq, SUM(rt) OVER r AS rt, SUM(q) OVER r AS cq
  FROM s WINDOW r AS (PARTITION BY pid ORDER BY lid ROWS UNBOUNDED PRECEDING)"""),
        ("ppt", f"""
  SELECT pid, SUM(qty) AS qty, SUM(v) AS book,
         SUM({greatest('0', least('q', 'pq - rt + cq'))} * u) AS fifo,
         SUM({greatest('0', least('q', 'pq - cq + q'))} * u) AS lifo,
         SUM(q * u) AS rv, SUM(q) AS rq
  FROM w GROUP BY pid"""),
        ("pv", f"""
  SELECT pid, qty, book, fifo, lifo, rv, rq, {average(sql, 'qty', 'rv', 'rq')} AS average_value FROM ppt
  UNION ALL
  SELECT product_id, qty, book, fifo, lifo, receipt_value, receipt_qty, average_value FROM valuation_snapshot_products
  WHERE snapshot_id = :snap AND product_id NOT IN (SELECT pid FROM touched)"""),
        ("sv", f"""
  SELECT tw.pid, tw.wh, tw.qty,
         {share(sql, 't.book', 'tw.qty', 't.qty')} AS book_value,
         {share(sql, 't.fifo', 'tw.qty', 't.qty')} AS fifo_value,
         {share(sql, 't.lifo', 'tw.qty', 't.qty')} AS lifo_value,
         {average(sql, 'tw.qty', 't.rv', 't.rq')} AS average_value
  FROM tw JOIN ppt t ON t.pid = tw.pid
  WHERE t.qty <> 0
  UNION ALL
  SELECT product_id, NULLIF(warehouse_key, 0), qty, book_value, fifo_value, lifo_value, average_value
  FROM valuation_snapshot_stock WHERE snapshot_id = :snap AND product_id NOT IN (SELECT pid FROM touched)"""),
    ]


# --- choosing a snapshot ------------------------------------------------------------------------


def locations_digest(session: Session | Connection) -> str:
    """What a snapshot's warehouse split depends on besides the ledger: each location's kind and warehouse."""
    digest = hashlib.sha256()
    for row in session.execute(text("SELECT id, kind, warehouse_id FROM locations ORDER BY id")):
        digest.update(f"{row[0]}:{row[1]}:{row[2]};".encode())
    return digest.hexdigest()


def _utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def basis_for(session: Session | Connection, cut: dt.datetime, digest: str | None = None) -> Basis:
    """The latest complete snapshot at or before ``cut`` computed with today's locations."""
    digest = digest or locations_digest(session)
    row = session.execute(
        statement("SELECT id, cut, movement_id, layer_id FROM valuation_snapshots "
                  "WHERE complete AND cut <= :cut AND locations_digest = :digest ORDER BY cut DESC LIMIT 1"),
        {"cut": cut, "digest": digest},
    ).first()
    if row is None:
        return Basis(None)
    return Basis(int(row.id), _utc(row.cut), int(row.movement_id), int(row.layer_id))


# --- building -----------------------------------------------------------------------------------


def day_cut(day: dt.date) -> dt.datetime:
    """A snapshot's cut for ``day``: its start (the snapshot holds everything dated before it)."""
    return midnight(day)


def ensure(store: Store, day: dt.date, today: dt.date | None = None) -> Built | None:
    """Make sure a snapshot exists at the start of ``day`` (no later than the start of today), so
    a valuation as of ``day`` reads at most one day of ledger past it.  Returns what was built."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    cut = day_cut(min(day, today))
    with store.read() as session:
        digest = locations_digest(session)
        basis = basis_for(session, cut, digest)
        if basis.cut == cut:
            return None
        if session.scalar(text("SELECT 1 FROM movements LIMIT 1")) is None:
            return None  # an empty ledger: nothing to keep
    return build(store, cut)


def periods(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """The first of every month after ``first`` up to ``last``."""
    month = dt.date(first.year, first.month, 1)
    while True:
        month = (month + dt.timedelta(days=32)).replace(day=1)
        if month > last:
            return
        yield month


def refresh(store: Store, actor: Actor, upto: dt.date | None = None, progress=None) -> list[Built]:  # type: ignore[no-untyped-def]
    """``ims report snapshot``: :func:`build_periods` for whoever may read reports."""
    check(store, actor, Permission.REPORTS, "valuation snapshots")
    return build_periods(store, upto, progress)


def build_periods(store: Store, upto: dt.date | None = None, progress=None) -> list[Built]:  # type: ignore[no-untyped-def]
    """Snapshots at the first of every month the ledger spans up to ``upto`` (default: today),
    and at the start of ``upto``; each from the one before it.  Existing valid ones are kept."""
    today = dt.datetime.now(dt.timezone.utc).date()
    upto = min(upto or today, today)
    with store.read() as session:
        first = session.scalar(text("SELECT MIN(created_at) FROM movements"))
    if first is None:
        return []
    built = []
    for day in [*periods(_utc(first).date(), upto), upto]:
        result = ensure(store, day, today)
        if result is not None:
            built.append(result)
            if progress is not None:
                progress(result)
    return built


def build(store: Store, cut: dt.datetime) -> Built | None:
    """Build the snapshot at ``cut`` from the latest valid one before it; None when another
    station is building it right now."""
    started = time.perf_counter()
    high = _high_water(store)
    with store.connect() as connection:
        connection.execution_options(**{READ_ONLY_OPTION: True})
        digest = locations_digest(connection)
        basis = basis_for(connection, cut, digest)
        connection.rollback()
        snapshot_id = _claim(store, cut, high, digest)
        if snapshot_id is None:
            return None
        try:
            products = _compute(connection, basis, cut, high)
            _store_rows(connection, snapshot_id)
        finally:  # a pooled connection keeps its temporary tables: never leave them behind
            connection.rollback()
            connection.execution_options(**{READ_ONLY_OPTION: True})  # temporary tables take no write lock
            _drop_temporary(connection)
            connection.commit()
    with store.connect(begin=True) as connection:
        connection.execute(text("UPDATE valuation_snapshots SET complete = :yes WHERE id = :id"),
                           {"yes": True, "id": snapshot_id})
    if store.backend == "postgresql":  # the planner must know the new snapshot's rows are there
        with store.connect(begin=True) as connection:
            connection.execute(text("ANALYZE valuation_snapshot_products, valuation_snapshot_stock"))
    _prune(store)
    return Built(cut, products, time.perf_counter() - started, basis.cut if basis.snapshot is not None else None)


def _high_water(store: Store) -> tuple[int, int]:
    """The highest movement and cost layer ids, with every lower id committed (or never to be):
    on PostgreSQL a SHARE lock waits for the postings in flight (ids are handed out before
    commit) and is released at once; SQLite has one writer at a time."""
    with store.connect(begin=True) as connection:
        if store.backend == "postgresql":
            connection.execute(text("LOCK TABLE movements, cost_layers IN SHARE MODE"))
        row = connection.execute(text("SELECT (SELECT COALESCE(MAX(id), 0) FROM movements), "
                                      "(SELECT COALESCE(MAX(id), 0) FROM cost_layers)")).one()
    return int(row[0]), int(row[1])


def _claim(store: Store, cut: dt.datetime, high: tuple[int, int], digest: str) -> int | None:
    """Insert the (incomplete) header; a stale or invalid one at the same cut is removed first."""
    with store.connect(begin=True) as connection:
        existing = connection.execute(
            statement("SELECT id, complete, built_at, locations_digest FROM valuation_snapshots WHERE cut = :cut"),
            {"cut": cut}).first()
    if existing is not None:
        left_behind = not existing.complete and _utc(existing.built_at) < dt.datetime.now(dt.timezone.utc) - STALE_BUILD
        outdated = existing.complete and existing.locations_digest != digest
        if not (left_behind or outdated):
            return None  # valid already, or being built by another station
        _delete(store, int(existing.id))
    try:
        with store.connect(begin=True) as connection:
            return int(connection.execute(
                statement("INSERT INTO valuation_snapshots (cut, movement_id, layer_id, locations_digest, complete, built_at) "
                          "VALUES (:cut, :movement, :layer, :digest, :no, :now) RETURNING id"),
                {"cut": cut, "movement": high[0], "layer": high[1], "digest": digest, "no": False,
                 "now": dt.datetime.now(dt.timezone.utc)}).scalar_one())
    except IntegrityError:
        return None  # another station claimed this cut a moment ago


def _compute(connection: Connection, basis: Basis, cut: dt.datetime, high: tuple[int, int]) -> int:
    """The position at ``cut`` into temporary tables, one per step of :func:`position` (so
    nothing is computed twice), under a read transaction."""
    connection.execution_options(**{READ_ONLY_OPTION: True})
    pg = connection.dialect.name == "postgresql"
    sql = Dialect(connection)
    if pg:
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
    params = basis.params(cut, *high)
    _drop_temporary(connection)
    for name, body in [*steps(sql, basis), *OUTPUTS]:
        connection.execute(statement(f"CREATE TEMPORARY TABLE {name} AS {body}"), params)
        if pg:
            connection.execute(text(f"ANALYZE {name}"))
    products = int(connection.execute(text("SELECT COUNT(*) FROM snapshot_products_new")).scalar_one())
    connection.commit()
    return products


OUTPUTS = [
    ("snapshot_products_new", "SELECT pid AS product_id, qty, book, fifo, lifo, rq AS receipt_qty, rv AS receipt_value, "
                              "average_value FROM pv WHERE qty <> 0 OR book <> 0 OR rq <> 0"),
    ("snapshot_stock_new", "SELECT pid AS product_id, COALESCE(wh, 0) AS warehouse_key, qty, book_value, fifo_value, "
                           "lifo_value, average_value FROM sv"),
]


def _store_rows(connection: Connection, snapshot_id: int) -> None:
    """Copy the temporary tables into the snapshot, :data:`CHUNK` products per write transaction."""
    connection.execution_options(**{READ_ONLY_OPTION: True})
    ids = [row[0] for row in connection.execute(text("SELECT product_id FROM snapshot_products_new ORDER BY product_id"))]
    connection.commit()
    bounds = [ids[i] for i in range(0, len(ids), CHUNK)] + [ids[-1] + 1] if ids else []
    connection.execution_options(**{READ_ONLY_OPTION: False})
    for low, high in zip(bounds, bounds[1:]):
        window = {"id": snapshot_id, "low": low, "high": high}
        connection.execute(text(
            "INSERT INTO valuation_snapshot_products (snapshot_id, product_id, qty, book, fifo, lifo, receipt_qty, "
            "receipt_value, average_value) SELECT :id, product_id, qty, book, fifo, lifo, receipt_qty, receipt_value, "
            "average_value FROM snapshot_products_new WHERE product_id >= :low AND product_id < :high"), window)
        connection.execute(text(
            "INSERT INTO valuation_snapshot_stock (snapshot_id, product_id, warehouse_key, qty, book_value, fifo_value, "
            "lifo_value, average_value) SELECT :id, product_id, warehouse_key, qty, book_value, fifo_value, lifo_value, "
            "average_value FROM snapshot_stock_new WHERE product_id >= :low AND product_id < :high"), window)
        connection.commit()


def _drop_temporary(connection: Connection) -> None:
    schema = "pg_temp" if connection.dialect.name == "postgresql" else "temp"
    for name in [name for name, _ in steps(Dialect(connection), Basis(None))] + [name for name, _ in OUTPUTS]:
        connection.execute(text(f"DROP TABLE IF EXISTS {schema}.{name}"))


def _delete(store: Store, snapshot_id: int) -> None:
    """Remove a snapshot, :data:`CHUNK` products per write transaction."""
    with store.connect(begin=True) as connection:
        connection.execute(text("UPDATE valuation_snapshots SET complete = :no WHERE id = :id"),
                           {"no": False, "id": snapshot_id})
    while True:
        with store.connect(begin=True) as connection:
            high = connection.execute(text(
                "SELECT product_id FROM valuation_snapshot_products WHERE snapshot_id = :id "
                f"ORDER BY product_id LIMIT 1 OFFSET {CHUNK}"), {"id": snapshot_id}).scalar()
            bound = "" if high is None else " AND product_id < :high"
            for table in ("valuation_snapshot_stock", "valuation_snapshot_products"):
                connection.execute(text(f"DELETE FROM {table} WHERE snapshot_id = :id{bound}"),
                                   {"id": snapshot_id, "high": high})
            if high is None:
                connection.execute(text("DELETE FROM valuation_snapshots WHERE id = :id"), {"id": snapshot_id})
                return


def _prune(store: Store) -> None:
    """Keep every month's snapshot and the newest :data:`KEEP_DAYS` others."""
    with store.read() as session:
        rows = session.execute(text("SELECT id, cut FROM valuation_snapshots WHERE complete ORDER BY built_at DESC, id DESC")).all()
    days = [int(row.id) for row in rows if _utc(row.cut).day != 1]
    for snapshot_id in days[KEEP_DAYS:]:
        _delete(store, snapshot_id)
