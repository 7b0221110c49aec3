"""A 100,000-row product import against a raw ``executemany`` of the same rows, in one run.

The import is ``run_import`` (sniffing, header mapping, every row checked - numbers, check
digits, duplicates, store conflicts - then one transaction of bulk statements and one audit
row).  The baseline parses the same file with ``csv`` and inserts the same products and
barcodes with the bare DB-API driver's ``executemany`` in one transaction, checking nothing.
Each ratio is recorded (``bench/_results.py``) against its goal: the import at most 5x the raw
insert, a re-import dry run (every row checked, nothing written) at most 3x.
Memory: the Python heap's peak (tracemalloc, in separate runs so it does not slow the timed
ones) at 10,000 and at 100,000 rows - flat means it does not grow with the file.

    python -m bench.transfer_import [--rows N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path

import psycopg
from biip.checksums import gs1_standard_check_digit
from sqlalchemy import create_engine, make_url, text

from bench._results import record
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.db.types import to_scaled
from ims_tui.services.actor import Actor
from ims_tui.services.transfer import run_import

IMPORT_GOAL = 5.0
DRY_RUN_GOAL = 3.0
PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = Actor("bench", "admin", "bench")


def make_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "category", "uom", "barcodes", "unit_price", "unit_cost", "reorder_point", "reorder_qty"])
        for i in range(rows):
            body = f"400{i:09d}"
            gtin = body + str(gs1_standard_check_digit(body))
            writer.writerow([f"SKU-{i:07d}", f"Product {i} with a realistic name", f"Category {i % 40}", "ea", gtin,
                             f"{(i % 997) + 0.99:.2f}", f"{(i % 997) * 0.6:.2f}", str(i % 50), str((i % 50) * 4)])


class Backend:
    def __init__(self, name: str, workdir: Path) -> None:
        self.name, self.workdir, self.created = name, workdir, []

    def new_store(self) -> Store:
        if self.name == "sqlite":
            url = f"sqlite:///{self.workdir / f'store{len(self.created)}.db'}"
        else:
            database = f"ims_bench_{os.getpid()}_{len(self.created)}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
                connection.execute(text(f'CREATE DATABASE "{database}"'))
            admin.dispose()
            url = make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
        self.created.append(url)
        store = Store(url)
        schema.upgrade(store)
        return store

    def drop_all(self) -> None:
        if self.name != "postgresql":
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for url in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


def raw_executemany(store: Store, path: Path) -> None:
    """The floor: parse and insert the same rows, no checks, one transaction."""
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        next(reader)
        products = []
        barcodes = []
        for sku, name, category, uom, barcode, price, cost, point, qty in reader:
            products.append((sku, name, "", category, uom, to_scaled(price, 4), to_scaled(cost, 4), 0, "none",
                             to_scaled(point, 3), to_scaled(qty, 3), True))
            barcodes.append((sku, barcode))
    columns = "sku, name, description, category, uom, unit_price, standard_cost, average_cost, tracking, reorder_point, reorder_qty, active, created_at, updated_at"
    url = make_url(store.url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(f"INSERT INTO products ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,datetime('now'),datetime('now'))", products)
        connection.executemany("INSERT INTO barcodes (product_id, code, pack_qty) SELECT id, ?, 1000 FROM products WHERE sku = ?",
                               [(code, sku) for sku, code in barcodes])
        connection.execute("COMMIT")
        connection.close()
    else:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO products ({columns}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,now(),now())", products)
                cursor.executemany("INSERT INTO barcodes (product_id, code, pack_qty) SELECT id, %s, 1000 FROM products WHERE sku = %s",
                                   [(code, sku) for sku, code in barcodes])


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def peak_heap(fn) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def run(backend_name: str, rows: int, workdir: Path) -> None:
    backend = Backend(backend_name, workdir)
    try:
        path = workdir / f"products-{rows}.csv"
        make_file(path, rows)
        store = backend.new_store()
        imported = timed(lambda: _must_commit(run_import(store, ACTOR, "products", path)))
        dry = timed(lambda: run_import(store, ACTOR, "products", path, dry_run=True, keep_rows=False))
        store.dispose()
        baseline_store = backend.new_store()
        baseline = timed(lambda: raw_executemany(baseline_store, path))
        baseline_store.dispose()
        small = workdir / "products-small.csv"
        make_file(small, rows // 10)
        heaps = []
        for file in (small, path):
            heap_store = backend.new_store()
            heaps.append(peak_heap(lambda f=file, s=heap_store: _must_commit(run_import(s, ACTOR, "products", f))))
            heap_store.dispose()
        size = path.stat().st_size / 1e6
        print(f"{backend_name}: {rows:,} products ({size:.1f} MB CSV, each with a barcode)")
        print(f"  ims import          {imported:6.2f} s  {rows / imported:9,.0f} rows/s")
        print(f"  raw executemany     {baseline:6.2f} s  {rows / baseline:9,.0f} rows/s   import/raw = {imported / baseline:.1f}x")
        print(f"  re-import dry run   {dry:6.2f} s  {rows / dry:9,.0f} rows/s   (all rows checked, all unchanged)")
        print(f"  peak Python heap    {heaps[0] / 1e6:6.1f} MB at {rows // 10:,} rows, {heaps[1] / 1e6:.1f} MB at {rows:,} rows "
              f"(file {size:.1f} MB)", flush=True)
        record("transfer_import", f"{backend_name} import of {rows:,} products / raw executemany", imported / baseline,
               at_most=IMPORT_GOAL, detail=f"{imported:.2f} s vs {baseline:.2f} s")
        record("transfer_import", f"{backend_name} re-import dry run / raw executemany", dry / baseline,
               at_most=DRY_RUN_GOAL, detail=f"{dry:.2f} s vs {baseline:.2f} s")
    finally:
        backend.drop_all()


def _must_commit(report) -> None:  # type: ignore[no-untyped-def]
    if not report.committed and not report.dry_run:
        raise SystemExit(f"benchmark import refused: {report.render(problem_limit=5)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for name in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            run(name, args.rows, Path(workdir))


if __name__ == "__main__":
    main()
