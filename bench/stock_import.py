"""How long an opening-stock import holds the store's write lock: batch posting against per-row posting.

Issue 16 item 10: ``ims import stock`` posts every row inside the import's one write
transaction, and on SQLite every other station's write waits for it.  Both runs import the same
file (``sku,location,lot,qty,unit_cost``: one row per product, a lot on every fourth row, varied
costs) into a fresh store holding the same products: the *per-row* run with
``StockImporter.apply`` posting each row through ``ledger.post`` (the path before the batch
path), the *batch* run as ``ims import stock`` does now (``ledger.post_receipts``).

Measured, per run: the whole import; the write transaction (from the import's ``long_write``
marker to its commit); on SQLite also the lock as another connection sees it - a watcher
process tries ``BEGIN IMMEDIATE`` (busy timeout 0) every 2 ms and reports its longest stretch
without getting the lock, which is what a station's receipt would wait.  The ratios (batch /
per-row, lower is better) are recorded (``bench/_results.py``): on PostgreSQL at most a fifth
(the round trips were the cost), on SQLite at most half (its per-row cost is mostly the rows
themselves - a posting, a movement, a cost layer, an audit row and three chain links per stock
row - which the batch writes too).

It runs 10,000 rows unless told (``make bench`` runs it so): the per-row run is slow on
PostgreSQL (100,000 rows took 15 minutes here, 4 to 9 ms a row); ``--rows 10000 100000``
measures both sizes, ``--only batch`` the batch alone.

    python -m bench.stock_import [--rows N [N ...]] [--backend sqlite|postgresql|both] [--only batch|per-row]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench._results import record
from bench.transfer_import import ACTOR, Backend
from ims_tui.db.engine import Store
from ims_tui.services import catalogue, ledger
from ims_tui.services.errors import ImsError
from ims_tui.services.transfer import importers, run_import
from ims_tui.services.transfer.report import Problem

GOALS = {"sqlite": 0.5, "postgresql": 0.2}

WATCHER = r"""
import sqlite3, sys, time, os
path, stop = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(path, timeout=0, isolation_level=None)
last_free = time.monotonic()
longest = 0.0
while not os.path.exists(stop):
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        now = time.monotonic()
        longest = max(longest, now - last_free)
        last_free = now
    except sqlite3.OperationalError:
        pass
    time.sleep(0.002)
print(f"{max(longest, time.monotonic() - last_free):.3f}")
"""


def must_commit(report) -> None:  # type: ignore[no-untyped-def]
    if not report.committed:
        raise SystemExit(f"benchmark import refused: {report.render(problem_limit=5)}")


def make_files(folder: Path, rows: int) -> tuple[Path, Path]:
    products, stock = folder / f"products-{rows}.csv", folder / f"stock-{rows}.csv"
    with products.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "unit_cost"])
        for i in range(rows):
            writer.writerow([f"S-{i:07d}", f"Stocked part {i}", f"{(i % 89) * 0.25:.2f}"])
    with stock.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "location", "lot", "qty", "unit_cost"])
        for i in range(rows):
            writer.writerow([f"S-{i:07d}", f"BIN-{i % 20:02d}", f"L{i:07d}" if i % 4 == 0 else "", str(1 + i % 37),
                             f"{(i % 251) * 0.37:.2f}" if i % 5 else ""])
    return products, stock


def per_row_apply(self, batch) -> None:  # type: ignore[no-untyped-def]
    """``StockImporter.apply`` as it was before the batch path: one ``ledger.post`` per row."""
    for row in batch:
        if row.action != "create":
            continue
        key, move = row.plan
        try:
            ledger.post(self.session, self.actor, "adjust", [move], key=key, reason=importers.OPENING_STOCK_REASON,
                        reference=move.reference)
        except ImsError as exc:
            raise importers.WriteAborted([Problem.make(row.number, "", "", str(exc), conflict=exc.exit_code == 1)]) from None


@contextmanager
def per_row_posting():  # type: ignore[no-untyped-def]
    batch_apply = importers.StockImporter.apply
    importers.StockImporter.apply = per_row_apply
    try:
        yield
    finally:
        importers.StockImporter.apply = batch_apply


@contextmanager
def timing_writes(found: list[float]):  # type: ignore[no-untyped-def]
    """Time each ``long_write`` (the import's write transaction, through its commit)."""
    original = Store.long_write

    @contextmanager
    def timed(self, what):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        with original(self, what):
            yield
        found.append(time.perf_counter() - started)

    Store.long_write = timed
    try:
        yield
    finally:
        Store.long_write = original


def one_run(backend: Backend, products: Path, stock: Path, folder: Path, per_row: bool) -> tuple[float, float, float | None]:
    """(whole import, write transaction, longest wait another connection saw or None) in seconds."""
    store = backend.new_store()
    try:
        with store.write() as session:
            for n in range(20):
                catalogue.save_location(session, ACTOR, f"BIN-{n:02d}")
        must_commit(run_import(store, ACTOR, "products", products))
        watcher = stop = None
        if backend.name == "sqlite":
            stop = folder / "stop-watcher"
            stop.unlink(missing_ok=True)
            watcher = subprocess.Popen([sys.executable, "-c", WATCHER, store.url.removeprefix("sqlite:///"), str(stop)],
                                       stdout=subprocess.PIPE, text=True)
            time.sleep(0.3)
        writes: list[float] = []
        started = time.perf_counter()
        with timing_writes(writes):
            if per_row:
                with per_row_posting():
                    report = run_import(store, ACTOR, "stock", stock)
            else:
                report = run_import(store, ACTOR, "stock", stock)
        total = time.perf_counter() - started
        must_commit(report)
        waited = None
        if watcher is not None and stop is not None:
            stop.touch()
            waited = float(watcher.communicate(timeout=60)[0])
        return total, writes[-1], waited
    finally:
        store.dispose()


def run(backend_name: str, rows: int, folder: Path, only: str | None) -> None:
    backend = Backend(backend_name, folder)
    try:
        products, stock = make_files(folder, rows)
        results = {}
        for mode in ("per-row", "batch"):
            if only and mode != only:
                continue
            total, write, waited = one_run(backend, products, stock, folder, per_row=mode == "per-row")
            results[mode] = (total, write, waited)
            seen = "" if waited is None else f"   another connection waited up to {waited:6.2f} s"
            print(f"{backend_name} {rows:>7,} rows {mode:>7}: import {total:6.2f} s   write transaction {write:6.2f} s{seen}",
                  flush=True)
        if len(results) == 2:
            (_t0, w0, l0), (_t1, w1, l1) = results["per-row"], results["batch"]
            goal = GOALS[backend_name]
            record("stock_import", f"{backend_name} write of {rows:,} stock rows, batch / per-row", w1 / w0,
                   at_most=goal, detail=f"{w1:.2f} s vs {w0:.2f} s")
            if l0 and l1:
                record("stock_import", f"{backend_name} longest wait for the lock, {rows:,} rows, batch / per-row", l1 / l0,
                       at_most=goal, detail=f"{l1:.2f} s vs {l0:.2f} s")
    finally:
        backend.drop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--only", choices=("batch", "per-row"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            for rows in args.rows:
                run(name, rows, Path(folder), args.only)


if __name__ == "__main__":
    main()
