"""Postings per second through the ledger service against raw SQL doing the same writes.

Each posting moves one unit of a random product between two bins, named by SKU and location
codes as a station would: the ledger path is ``stock.move`` (permission check, code
resolution, idempotency key, conditional decrement, upsert, movement, audit row); the
baseline runs the same statements - the two look-ups by code and the five writes - through
the bare DB-API driver in one transaction, with no validation, typing or audit text.  Both run in this process, same store, same
machine, one writer and eight writer processes.  Figures are printed, not asserted.

    python -m bench.ledger_postings [--postings N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sqlite3
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, make_url, text

from bench._results import record
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.services import catalogue, stock
from ims_tui.services.actor import Actor

PRODUCTS = 200
PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = Actor("bench", "admin", "bench")


def prepare(url: str) -> None:
    """A store with PRODUCTS products, 1,000,000 units each in BIN-A."""
    store = Store(url)
    schema.upgrade(store)
    with store.write() as session:
        for code in ("BIN-A", "BIN-B"):
            catalogue.save_location(session, ACTOR, code)
        for n in range(PRODUCTS):
            catalogue.save_product(session, ACTOR, f"B{n:04d}", {"name": f"Bench product {n}"})
    for n in range(PRODUCTS):
        stock.receive(store, ACTOR, f"B{n:04d}", Decimal(1_000_000), to="BIN-A")
    store.dispose()


def ledger_worker(url: str, postings: int, seed: int) -> None:
    store = Store(url)
    rng = random.Random(seed)
    for _ in range(postings):
        sku = f"B{rng.randrange(PRODUCTS):04d}"
        stock.move(store, ACTOR, sku, Decimal(1), source="BIN-A", to="BIN-B")
    store.dispose()


RAW_STATEMENTS = {
    "product": "SELECT id, tracking, uom, active FROM products WHERE sku = {p}",
    "locations": "SELECT id, code, kind, active FROM locations WHERE code IN ({p}, {p})",
    "posting": "INSERT INTO postings (idempotency_key, kind, reason, reference, username, station, created_at) "
    "VALUES ({p}, 'move', '', '', 'bench', 'bench', CURRENT_TIMESTAMP) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    "decrement": "UPDATE balances SET on_hand = on_hand - 1000 WHERE product_id = {p} AND location_id = {p} "
    "AND lot_key = 0 AND on_hand - reserved >= 1000",
    "increment": "INSERT INTO balances (product_id, location_id, lot_key, lot_id, on_hand, reserved) "
    "VALUES ({p}, {p}, 0, NULL, 1000, 0) ON CONFLICT (product_id, location_id, lot_key) "
    "DO UPDATE SET on_hand = balances.on_hand + excluded.on_hand",
    "movement": "INSERT INTO movements (posting_id, product_id, qty, from_location_id, to_location_id, unit_cost, "
    "reason, reference, username, station, created_at) VALUES ({p}, {p}, 1000, {p}, {p}, 0, '', '', 'bench', 'bench', CURRENT_TIMESTAMP)",
    "audit": "INSERT INTO audit_log (at, username, role, station, action, target, product_id, summary, outcome) "
    "VALUES (CURRENT_TIMESTAMP, 'bench', 'admin', 'bench', 'stock.move', '', {p}, '1 moved', 'ok')",
}


def raw_connection(url: str):  # type: ignore[no-untyped-def]
    """A bare DB-API connection set up as the store's engine sets up its own: (connection,
    placeholder, the statement that begins a write transaction)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database, isolation_level=None, timeout=15)
        for pragma in ("busy_timeout = 15000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
            connection.execute(f"PRAGMA {pragma}")
        return connection, "?", "BEGIN IMMEDIATE"
    connection = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
    return connection, "%s", "BEGIN"


def raw_worker(url: str, postings: int, seed: int) -> None:
    rng = random.Random(seed)
    connection, placeholder, begin = raw_connection(url)
    sql = {name: statement.format(p=placeholder) for name, statement in RAW_STATEMENTS.items()}
    for _ in range(postings):
        cursor = connection.cursor()
        cursor.execute(begin)
        cursor.execute(sql["posting"], (uuid.uuid4().hex,))
        posting_id = cursor.fetchone()[0]
        cursor.execute(sql["product"], (f"B{rng.randrange(PRODUCTS):04d}",))
        product = cursor.fetchone()[0]
        cursor.execute(sql["locations"], ("BIN-A", "BIN-B"))
        codes = {code: location_id for location_id, code, _kind, _active in cursor.fetchall()}
        a, b = codes["BIN-A"], codes["BIN-B"]
        cursor.execute(sql["decrement"], (product, a))
        assert cursor.rowcount == 1
        cursor.execute(sql["increment"], (product, b))
        cursor.execute(sql["movement"], (posting_id, product, a, b))
        cursor.execute(sql["audit"], (product,))
        cursor.execute("COMMIT")
    connection.close()


def timed(target, args_for_writer, writers: int, postings: int) -> float:
    """Postings per second with ``writers`` processes each doing ``postings``."""
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=target, args=args_for_writer(i)) for i in range(writers)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed with exit code {process.exitcode}")
    return writers * postings / (time.perf_counter() - start)


def new_pg_database() -> tuple[str, callable]:
    name = f"ims_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), drop


def run_backend(backend: str, postings: int) -> list[tuple[str, int, float, float]]:
    rows = []
    for writers in (1, 8):
        if backend == "sqlite":
            folder = tempfile.mkdtemp(prefix="ims-bench-")
            url, cleanup = f"sqlite:///{Path(folder) / 'bench.db'}", (lambda: None)
        else:
            url, cleanup = new_pg_database()
        try:
            prepare(url)
            per_writer = max(1, postings // writers)
            raw = timed(raw_worker, lambda i: (url, per_writer, 1000 + i), writers, per_writer)
            service = timed(ledger_worker, lambda i: (url, per_writer, 2000 + i), writers, per_writer)
            rows.append((backend, writers, service, raw))
        finally:
            cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=2000, help="postings per run, split across writers")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"{'backend':<11} {'writers':>7} {'ledger/s':>10} {'raw SQL/s':>10} {'ratio':>7}  (goal >= 0.50)")
    for backend in backends:
        for name, writers, service, raw in run_backend(backend, args.postings):
            print(f"{name:<11} {writers:>7} {service:>10.0f} {raw:>10.0f} {service / raw:>7.2f}", flush=True)
            record("ledger_postings", f"postings/s vs raw SQL, {name}, {writers} writer{'s' if writers > 1 else ''}",
                   service / raw, at_least=0.5, detail=f"{service:.0f} vs {raw:.0f}/s")


if __name__ == "__main__":
    main()
