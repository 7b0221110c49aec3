"""Postings per second through the ledger service against raw SQL doing the same writes.

Each posting moves one unit of a random product between two bins, named by SKU and location
codes as a station would: the ledger path is ``stock.move`` (permission check, code
resolution, idempotency key with content digest, conditional decrement, upsert, movement, FIFO
stamp, waiting sales lines, audit row, change event, hash chain); the baseline runs the same
statements in the same order - the look-ups by code, the posting row, the balance and movement
writes, the waiting-lines query, the audit row, ``pg_notify`` on PostgreSQL and the chain's head
and links, with the digest and the chain's hashes computed as the ledger computes them - through
the bare DB-API driver in one transaction, with no validation, typing or retries.  Both run
against the same store, same machine, one writer and eight writer processes, alternating in
rounds.  Figures are printed, not asserted.

    python -m bench.ledger_postings [--postings N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import random
import secrets
import sqlite3
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, make_url, text

from bench._results import record
from ims_tui.db import chain, schema
from ims_tui.db.engine import Store
from ims_tui.services import catalogue, stock
from ims_tui.services.actor import Actor

PRODUCTS = 200
ROUNDS = 4
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
    "locations": "SELECT id, code, kind, active FROM locations WHERE code IN ({p}, {p})",
    "product": "SELECT id, sku, tracking, uom, active, average_cost, standard_cost FROM products WHERE sku = {p}",
    "posting_sqlite": "INSERT INTO postings (idempotency_key, kind, reason, reference, username, station, created_at, "
    "content_digest) SELECT {p}, 'move', '', '', 'bench', 'bench', {p}, {p} "
    "WHERE NOT EXISTS (SELECT 1 FROM postings WHERE idempotency_key = {p}) RETURNING id",
    "posting_postgresql": "INSERT INTO postings (idempotency_key, kind, reason, reference, username, station, created_at, "
    "content_digest) VALUES ({p}, 'move', '', '', 'bench', 'bench', {p}, {p}) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    "decrement": "UPDATE balances SET on_hand = on_hand - 1000 WHERE product_id = {p} AND location_id = {p} "
    "AND lot_key = 0 AND on_hand - reserved >= 1000",
    "increment": "INSERT INTO balances (product_id, location_id, lot_key, lot_id, on_hand, reserved) "
    "VALUES ({p}, {p}, 0, NULL, 1000, 0) ON CONFLICT (product_id, location_id, lot_key) "
    "DO UPDATE SET on_hand = balances.on_hand + excluded.on_hand",
    "movement": "INSERT INTO movements (posting_id, product_id, qty, from_location_id, to_location_id, lot_id, serial_id, "
    "unit_cost, reason, reference, username, station, created_at) "
    "VALUES ({p}, {p}, 1000, {p}, {p}, NULL, NULL, 0, '', '', 'bench', 'bench', {p}) RETURNING id",
    "received_at": "UPDATE balances SET received_at = {p} WHERE product_id = {p} AND location_id = {p} AND lot_key = 0 "
    "AND (received_at IS NULL OR on_hand = 1000)",
    "waiting": "SELECT l.id, l.order_id, l.product_id, l.qty_waiting, c.min_shelf_days FROM sales_order_lines l "
    "JOIN sales_orders o ON o.id = l.order_id JOIN customers c ON c.id = o.customer_id "
    "WHERE l.product_id IN ({p}) AND l.qty_waiting > 0 AND o.status IN ('confirmed', 'picking', 'partial') "
    "ORDER BY l.requested_date IS NULL, l.requested_date, o.due_date IS NULL, o.due_date, o.confirmed_at, l.id",
    "alert_settings": "SELECT id FROM reorder_settings WHERE product_id IN ({p}) ORDER BY id",
    "audit": "INSERT INTO audit_log (at, username, role, station, action, target, summary, outcome, product_id) "
    "VALUES ({p}, 'bench', 'admin', 'bench', 'stock.move', {p}, {p}, 'ok', {p}) RETURNING id",
    "notify": "SELECT pg_notify('ims_changes', {p})",
    "take_head": "UPDATE chain_heads SET seq = seq + 3 WHERE stripe = {p} RETURNING seq, hash",
    "links": "INSERT INTO chain_links (stripe, seq, tbl, row_id, row_hash, hash) VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
    "set_head": "UPDATE chain_heads SET hash = {p} WHERE stripe = {p}",
    "links_and_head": "WITH new_links AS (INSERT INTO chain_links (stripe, seq, tbl, row_id, row_hash, hash) "
    "SELECT {p}, seq, tbl, row_id, row_hash, hash FROM unnest(CAST({p} AS INTEGER[]), CAST({p} AS VARCHAR[]), "
    "CAST({p} AS INTEGER[]), CAST({p} AS VARCHAR[]), CAST({p} AS VARCHAR[])) AS link(seq, tbl, row_id, row_hash, hash) "
    "RETURNING id) UPDATE chain_heads SET hash = {p} WHERE stripe = {p}",
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
    """The posting's statements, in its order, with the values it computes (content digest, row
    and link hashes of the chain) and nothing else: no validation, no typing, no retries."""
    rng = random.Random(seed)
    connection, placeholder, begin = raw_connection(url)
    sqlite_store = placeholder == "?"
    sql = {name: statement.format(p=placeholder) for name, statement in RAW_STATEMENTS.items()}
    for _ in range(postings):
        sku, key = f"B{rng.randrange(PRODUCTS):04d}", uuid.uuid4().hex
        at = dt.datetime.now(dt.timezone.utc)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite_store else at
        digest = hashlib.sha256(json.dumps(["move", "", "", [[sku, "1", "BIN-A", "BIN-B"]]]).encode()).hexdigest()
        cursor = connection.cursor()
        cursor.execute(begin)
        cursor.execute(sql["locations"], ("BIN-A", "BIN-B"))
        codes = {code: location_id for location_id, code, _kind, _active in cursor.fetchall()}
        a, b = codes["BIN-A"], codes["BIN-B"]
        cursor.execute(sql["product"], (sku,))
        product = cursor.fetchone()[0]
        if sqlite_store:
            cursor.execute(sql["posting_sqlite"], (key, stamp, digest, key))
        else:
            cursor.execute(sql["posting_postgresql"], (key, stamp, digest))
        posting_id = cursor.fetchone()[0]
        cursor.execute(sql["decrement"], (product, a))
        assert cursor.rowcount == 1
        cursor.execute(sql["increment"], (product, b))
        cursor.execute(sql["movement"], (posting_id, product, a, b, stamp))
        movement_id = cursor.fetchone()[0]
        cursor.execute(sql["received_at"], (stamp, product, b))
        cursor.execute(sql["waiting"], (product,))
        cursor.fetchall()
        cursor.execute(sql["alert_settings"] + ("" if sqlite_store else " FOR UPDATE"), (product,))
        cursor.fetchall()
        summary = f"1 {sku} BIN-A->BIN-B"
        cursor.execute(sql["audit"], (stamp, sku, summary, product))
        audit_id = cursor.fetchone()[0]
        if not sqlite_store:
            cursor.execute(sql["notify"], (f"stock:{posting_id}",))
        rows = [
            ("postings", posting_id, (posting_id, key, "move", "", "", "bench", "bench", at, digest)),
            ("movements", movement_id, (movement_id, posting_id, product, Decimal(1), a, b, None, None, Decimal(0),
                                        "", "", "bench", "bench", at)),
            ("audit_log", audit_id, (audit_id, at, "bench", "admin", "bench", "stock.move", sku, product, summary, "ok")),
        ]
        hashed = [(table, row_id, chain.row_hash(table, row)) for table, row_id, row in rows]
        stripe = 0 if sqlite_store else secrets.randbelow(chain.STRIPES)
        cursor.execute(sql["take_head"], (stripe,))
        end, previous = cursor.fetchone()
        links = []
        for seq, (table, row_id, content) in enumerate(hashed, start=end - len(hashed) + 1):
            previous = chain.link_hash(previous, table, row_id, content)
            links.append((stripe, seq, table, row_id, content, previous))
        if sqlite_store:
            cursor.executemany(sql["links"], links)
            cursor.execute(sql["set_head"], (previous, stripe))
        else:
            columns = list(zip(*links))
            cursor.execute(sql["links_and_head"], (stripe, *(list(column) for column in columns[1:]), previous, stripe))
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
            # Alternate the two in rounds, so a change in the shared machine's load in the middle
            # of the run falls on both sides instead of on one.
            per_writer = max(1, postings // writers // ROUNDS)
            seconds = {"raw": 0.0, "ledger": 0.0}
            for round_ in range(ROUNDS):
                for name, worker, seed in (("raw", raw_worker, 1000), ("ledger", ledger_worker, 2000)):
                    rate = timed(worker, lambda i, s=seed: (url, per_writer, s + 100 * round_ + i), writers, per_writer)
                    seconds[name] += writers * per_writer / rate
            done = ROUNDS * writers * per_writer
            rows.append((backend, writers, done / seconds["ledger"], done / seconds["raw"]))
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
