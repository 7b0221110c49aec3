"""Reservations per second: ``sales.confirm_so`` against raw SQL doing the same conditional updates.

Each reservation confirms a one-line draft order: the service path is ``confirm_so`` (permission
check, order lock, lines set waiting, the waiting quantity claimed, candidate bins read in
FEFO/FIFO order, the conditional ``reserved`` increment, the allocation row, audit, change
notice, and the order read back for the caller).  The baseline runs the same writes through
the bare DB-API driver - lock the order, set it confirmed, set its line waiting, claim it,
read the candidate balance, conditionally increment ``reserved``, insert the allocation and
an audit row - in one transaction, with no validation or read-back.  Both run in this process
tree against the same store, with 1 and 8 writer processes.  Figures are printed, not asserted.

    python -m bench.sales_reservations [--orders N] [--backend postgresql|sqlite|both]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench._results import record
from bench._sales_store import bulk_draft_orders, bulk_locations, bulk_products
from bench.ledger_postings import new_pg_database, timed
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.services import sales
from ims_tui.services.actor import Actor

PRODUCTS = 200
ACTOR = Actor("bench", "admin", "bench")

RAW = {
    "lock": "SELECT id FROM sales_orders WHERE number = {p} FOR UPDATE",
    "confirm": "UPDATE sales_orders SET status = 'confirmed', confirmed_at = CURRENT_TIMESTAMP WHERE id = {p} AND status = 'draft'",
    "waiting": "UPDATE sales_order_lines SET qty_waiting = qty_ordered WHERE order_id = {p}",
    "line": "SELECT id, product_id, qty_ordered FROM sales_order_lines WHERE order_id = {p}",
    "claim": "UPDATE sales_order_lines SET qty_waiting = qty_waiting - {p}, qty_reserved = qty_reserved + {p} "
             "WHERE id = {p} AND qty_waiting >= {p}",
    "candidate": "SELECT b.id, b.location_id, b.on_hand - b.reserved FROM balances b JOIN locations l ON l.id = b.location_id "
                 "WHERE b.product_id = {p} AND b.on_hand - b.reserved > 0 AND l.usage = 'stock' "
                 "ORDER BY b.received_at, b.id LIMIT 1",
    "reserve": "UPDATE balances SET reserved = reserved + {p} WHERE id = {p} AND on_hand - reserved >= {p}",
    "allocation": "INSERT INTO allocations (order_id, line_id, product_id, location_id, lot_key, stage, qty, original_qty, "
                  "created_at) VALUES ({p}, {p}, {p}, {p}, 0, 'reserved', {p}, {p}, CURRENT_TIMESTAMP)",
    "audit": "INSERT INTO audit_log (at, username, role, station, action, target, summary, outcome) VALUES "
             "(CURRENT_TIMESTAMP, 'bench', 'admin', 'bench', 'so.confirm', {p}, 'reserved', 'ok')",
}


def prepare(url: str, orders: int) -> tuple[list[str], list[str]]:
    store = Store(url)
    schema.upgrade(store)
    bins = bulk_locations(store, "ABCD", 10, 2)
    bulk_products(store, PRODUCTS, bins, Decimal(1_000_000))
    rng = random.Random(5)
    with store.read() as session:
        from sqlalchemy import select

        from ims_tui.db.models import Product

        ids = list(session.scalars(select(Product.id)))
    make = lambda: [[(rng.choice(ids), Decimal(1))] for _ in range(orders)]  # noqa: E731
    service_orders, raw_orders = bulk_draft_orders(store, make()), bulk_draft_orders(store, make())
    store.dispose()
    return service_orders, raw_orders


def service_worker(url: str, numbers: list[str]) -> None:
    store = Store(url)
    for number in numbers:
        sales.confirm_so(store, ACTOR, number)
    store.dispose()


def raw_worker(url: str, numbers: list[str]) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database, isolation_level=None, timeout=15)
        for pragma in ("busy_timeout = 15000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
            connection.execute(f"PRAGMA {pragma}")
        placeholder, begin = "?", "BEGIN IMMEDIATE"
        sql = {name: statement.format(p=placeholder).replace(" FOR UPDATE", "") for name, statement in RAW.items()}
    else:
        connection = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
        placeholder, begin = "%s", "BEGIN"
        sql = {name: statement.format(p=placeholder) for name, statement in RAW.items()}
    one = 1000  # a quantity of 1 in the store's scaled integers
    for number in numbers:
        cursor = connection.cursor()
        cursor.execute(begin)
        cursor.execute(sql["lock"], (number,))
        order_id = cursor.fetchone()[0]
        cursor.execute(sql["confirm"], (order_id,))
        cursor.execute(sql["waiting"], (order_id,))
        cursor.execute(sql["line"], (order_id,))
        line_id, product_id, qty = cursor.fetchone()
        cursor.execute(sql["claim"], (qty, qty, line_id, qty))
        cursor.execute(sql["candidate"], (product_id,))
        balance_id, location_id, _free = cursor.fetchone()
        cursor.execute(sql["reserve"], (one, balance_id, one))
        assert cursor.rowcount == 1
        cursor.execute(sql["allocation"], (order_id, line_id, product_id, location_id, one, one))
        cursor.execute(sql["audit"], (number,))
        cursor.execute("COMMIT")
    connection.close()


def run_backend(backend: str, orders: int) -> list[tuple[str, int, float, float]]:
    rows = []
    for writers in (1, 8):
        if backend == "sqlite":
            url, cleanup = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ims-bench-')) / 'bench.db'}", (lambda: None)
        else:
            url, cleanup = new_pg_database()
        try:
            service_orders, raw_orders = prepare(url, orders)
            each = len(raw_orders) // writers
            raw = timed(raw_worker, lambda i: (url, raw_orders[i::writers][:each]), writers, each)
            service = timed(service_worker, lambda i: (url, service_orders[i::writers][:each]), writers, each)
            store = Store(url)
            from ims_tui.services.integrity import run_check

            report = run_check(store)
            store.dispose()
            if not report.clean and any("reservation" in v or "order line" in v for v in report.violations):
                raise SystemExit(f"reservations out of step after the run: {report.violations[:3]}")
            rows.append((backend, writers, service, raw))
        finally:
            cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=800, help="one-line orders confirmed per run (each path)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="postgresql")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"{'backend':<11} {'writers':>7} {'confirm/s':>10} {'raw SQL/s':>10} {'ratio':>7}  (goal >= 0.50 at 8 writers)")
    for backend in backends:
        for name, writers, service, raw in run_backend(backend, args.orders):
            print(f"{name:<11} {writers:>7} {service:>10.0f} {raw:>10.0f} {service / raw:>7.2f}", flush=True)
            record("sales_reservations", f"confirms/s vs raw SQL, {name}, {writers} writer{'s' if writers > 1 else ''}",
                   service / raw, at_least=0.5 if writers == 8 else None, detail=f"{service:.0f} vs {raw:.0f}/s")


if __name__ == "__main__":
    main()
