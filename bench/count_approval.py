"""Approving a 5,000-line cycle count against raw SQL inserting the same movements.

The store holds PRODUCTS x BINS balances; a count of every bin is recorded (half the lines one
over, half one under), submitted with a zero tolerance so every line waits for a recount,
recounted by a second counter, then approved: ``counts.approve`` checks every line under the
balances' row locks and posts one ledger posting (5,000 movements, balances, cost layers,
audit).  The baseline, on a copy of the same store state, runs through the bare DB-API driver in
one transaction what that posting writes: the posting row, then per line the balance update
(conditional for losses), the movement row and the cost-layer row (a new layer for a gain, the
oldest open layer reduced for a loss).  No validation, no look-ups by code.  Printed, not asserted.

    python -m bench.count_approval [--lines N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, make_url, select, text

from bench._results import record
from bench.ledger_postings import PG_ADMIN_URL, new_pg_database, raw_connection
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.db.models import Location, StockCountLine
from ims_tui.services import catalogue, counts, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.stock_settings import change_settings

MANAGER = Actor("bench-manager", "manager", "bench")
FIRST, SECOND = Actor("bench-1", "picker", "rf-1"), Actor("bench-2", "picker", "rf-2")
PRODUCTS = 50


def prepare(url: str, lines: int) -> str:
    """A store with ``lines`` balances of 10 units and a count of them ready to approve."""
    store = Store(url)
    schema.upgrade(store)
    bins = lines // PRODUCTS
    with store.write() as session:
        for n in range(bins):
            catalogue.save_location(session, MANAGER, f"CB-{n:04d}", warehouse="WH1")
        for n in range(PRODUCTS):
            catalogue.save_product(session, MANAGER, f"CP-{n:03d}", {"name": f"Counted {n}", "standard_cost": Decimal("2.00")})
    moves = [ledger.StockMove(f"CP-{p:03d}", Decimal(10), "SUPPLIER", f"CB-{b:04d}", unit_cost=Decimal("2.00"))
             for b in range(bins) for p in range(PRODUCTS)]
    ledger.post_moves(store, MANAGER, "receive", moves)
    change_settings(store, MANAGER, {"count.tolerance_pct": "0", "count.tolerance_value": "0"})
    task = counts.create_count(store, MANAGER, locations=[f"CB-0000..CB-{bins - 1:04d}"])
    entries = [counts.CountEntry(f"CB-{b:04d}", f"CP-{p:03d}", Decimal(11 if (b + p) % 2 else 9))
               for b in range(bins) for p in range(PRODUCTS)]
    counts.record_many(store, FIRST, task.number, entries)
    counts.submit(store, FIRST, task.number)
    counts.record_many(store, SECOND, task.number, entries)
    store.dispose()
    return task.number


def approve(url: str, number: str) -> float:
    store = Store(url)
    start = time.perf_counter()
    result = counts.approve(store, MANAGER, number)
    elapsed = time.perf_counter() - start
    assert result.status == "approved", result
    store.dispose()
    return elapsed


def raw(url: str, number: str) -> float:
    """The same movements through the bare driver: one transaction."""
    store = Store(url)
    with store.read() as session:
        count_id = session.scalar(text("SELECT id FROM stock_counts WHERE number = :n"), {"n": number})
        rows = session.execute(
            select(StockCountLine.product_id, StockCountLine.location_id, StockCountLine.counted_qty - StockCountLine.expected_qty)
            .where(StockCountLine.count_id == count_id)
        ).all()
        adjustment = session.scalar(select(Location.id).where(Location.code == "ADJUSTMENT"))
        open_layers: dict[int, list[list[int]]] = {}
        for product_id, layer_id, remaining in session.execute(
            text("SELECT product_id, id, remaining_qty FROM cost_layers WHERE remaining_qty > 0 ORDER BY id")
        ):
            open_layers.setdefault(product_id, []).append([layer_id, remaining])
    store.dispose()
    connection, p, begin = raw_connection(url)
    start = time.perf_counter()
    cursor = connection.cursor()
    cursor.execute(begin)
    cursor.execute(f"INSERT INTO postings (idempotency_key, kind, reason, reference, username, station, created_at) "
                   f"VALUES ({p}, 'count', 'count', {p}, 'raw', 'raw', CURRENT_TIMESTAMP) RETURNING id", (uuid.uuid4().hex, number))
    posting = cursor.fetchone()[0]
    for product_id, location_id, variance in rows:
        qty = int(abs(variance) * 1000)
        gain = variance > 0
        if gain:
            cursor.execute(f"UPDATE balances SET on_hand = on_hand + {p} WHERE product_id = {p} AND location_id = {p} AND lot_key = 0",
                           (qty, product_id, location_id))
        else:
            cursor.execute(f"UPDATE balances SET on_hand = on_hand - {p} WHERE product_id = {p} AND location_id = {p} "
                           f"AND lot_key = 0 AND on_hand - reserved >= {p}", (qty, product_id, location_id, qty))
            assert cursor.rowcount == 1
        source, destination = (adjustment, location_id) if gain else (location_id, adjustment)
        cursor.execute(f"INSERT INTO movements (posting_id, product_id, qty, from_location_id, to_location_id, unit_cost, reason, "
                       f"reference, username, station, created_at) VALUES ({p}, {p}, {p}, {p}, {p}, 20000, 'count', {p}, 'raw', 'raw', "
                       f"CURRENT_TIMESTAMP) RETURNING id", (posting, product_id, qty, source, destination, number))
        movement = cursor.fetchone()[0]
        if gain:
            cursor.execute(f"INSERT INTO cost_layers (product_id, movement_id, unit_cost, original_qty, remaining_qty, created_at) "
                           f"VALUES ({p}, {p}, 20000, {p}, {p}, CURRENT_TIMESTAMP)", (product_id, movement, qty, qty))
        else:
            oldest = next(layer for layer in open_layers[product_id] if layer[1] >= qty)  # FIFO, as the ledger takes it
            oldest[1] -= qty
            cursor.execute(f"UPDATE cost_layers SET remaining_qty = remaining_qty - {p} WHERE id = {p}", (qty, oldest[0]))
    cursor.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def run_backend(backend: str, lines: int) -> tuple[float, float]:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="ims-bench-count-"))
        url, twin = f"sqlite:///{folder / 'a.db'}", f"sqlite:///{folder / 'b.db'}"
        try:
            number = prepare(url, lines)
            shutil.copy(folder / "a.db", folder / "b.db")
            return approve(url, number), raw(twin, number)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    url, drop = new_pg_database()
    try:
        number = prepare(url, lines)
        twin_name = f"ims_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{twin_name}" TEMPLATE "{make_url(url).database}"'))
        twin = make_url(url).set(database=twin_name).render_as_string(hide_password=False)
        try:
            return approve(url, number), raw(twin, number)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{twin_name}" WITH (FORCE)'))
            admin.dispose()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"{'backend':<11} {'lines':>6} {'approve s':>10} {'raw SQL s':>10} {'ratio':>7}  (goal <= 5x)")
    for backend in backends:
        service, baseline = run_backend(backend, args.lines)
        print(f"{backend:<11} {args.lines:>6} {service:>10.2f} {baseline:>10.2f} {service / baseline:>7.2f}")
        record("count_approval", f"approve {args.lines:,} lines vs raw SQL, {backend}", service / baseline, at_most=5,
               detail=f"{service:.2f} vs {baseline:.2f} s")


if __name__ == "__main__":
    main()
