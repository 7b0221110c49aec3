"""Reports on a generated store of 100,000 products and 1,000,000+ movements over two years.

In the same run, on each backend:

* valuation of all stock (quantity, ledger value, FIFO, LIFO and average per product, by
  warehouse and by product) as of today and as of a year back, against a plain ``SELECT SUM(qty)``
  over the same movements (goal: <= 3x).  The generator builds the valuation snapshots as
  ``ims report snapshot`` does (the first of each month, and today); the first valuation as of a
  year back builds that day's snapshot, which is recorded on its own (no goal);
* the time of each report's first page (the whole aggregation runs for it), its totals and chart,
  as a ratio to the plain SUM as of today;
* the peak Python heap of exporting the movement history to XLSX: every movement (1M+ rows)
  against about 10,000 rows (the last week) - goal: within 1.2x.

The store lives in a temporary directory (SQLite) or a database named ``ims_reports_bench_*``
(PostgreSQL), dropped at the end.

    python -m bench.reports [--products 100000] [--movements 1000000] [--backend sqlite|postgresql|both]
                            [--no-export] [--only-valuation] [--store URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import make_url, text

from bench._bigstore import best, generate, pg_admin, timed
from bench._results import record
from bench.transfer_import import peak_heap
from ims_tui.db.engine import Store
from ims_tui.services import reports
from ims_tui.services.actor import Actor
from ims_tui.services.reports import ReportParams
from ims_tui.services.reports.core import midnight
from ims_tui.services.reports.export import export_report

PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = Actor("bench", "admin", "bench")



def run(backend: str, products: int, movements: int, workdir: Path, export: bool, store_url: str | None = None,
        only_valuation: bool = False) -> None:
    if store_url:
        url = store_url
    elif backend == "sqlite":
        url = f"sqlite:///{workdir / 'big.db'}"
    else:
        database = f"ims_reports_bench_{os.getpid()}"
        pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{database}"')
        pg_admin(PG_ADMIN_URL, f'CREATE DATABASE "{database}"')
        url = make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    try:
        if store_url:
            print(f"{backend}: the store at {make_url(url).render_as_string(hide_password=True)}", flush=True)
        else:
            print(f"{backend}: generating {products:,} products, ~{movements:,} movements over two years", flush=True)
            made = generate(url, products, movements, log=lambda line: None)
            print(f"  generated {made['movements']:,} movements, {made['layers']:,} cost layers and "
                  f"{made['snapshots']} valuation snapshots in {made['seconds']:.0f} s "
                  f"(the snapshots {made['snapshot_seconds']:.0f} s)", flush=True)
        store = Store(url)
        today = dt.datetime.now(dt.timezone.utc).date()
        year_back = today - dt.timedelta(days=365)
        baselines = {}
        for label, day in (("today", today), ("a year back", year_back)):
            cut = midnight(day + dt.timedelta(days=1))

            def plain_sum(cut=cut, table="movements") -> None:
                with store.read() as session:
                    session.execute(text(f"SELECT SUM(qty) FROM {table} WHERE created_at < :cut")
                                    .bindparams(cut=cut)).scalar()

            # the faster of the planner's choice and (SQLite) a plain scan: the date index must not
            # slow the baseline down
            plans = [plain_sum] + ([lambda cut=cut: plain_sum(cut, "movements NOT INDEXED")] if backend == "sqlite" else [])
            baseline = baselines[label] = min(best(plan, runs=3) for plan in plans)
            first, _ = timed(lambda d=day: reports.page(store, ACTOR, "valuation", ReportParams(as_of=d, by="warehouse")))
            record("reports", f"{backend}: valuation as of {label}, first ask, vs plain SUM", first / baseline,
                   detail=f"{first:.2f} s vs {baseline:.3f} s (builds the day's snapshot when missing)")
            for by in ("warehouse", "product"):
                seconds = best(lambda d=day, b=by: reports.page(store, ACTOR, "valuation", ReportParams(as_of=d, by=b)),
                               runs=3)
                record("reports", f"{backend}: valuation as of {label} by {by} vs plain SUM", seconds / baseline,
                       at_most=3, detail=f"{seconds:.3f} s vs {baseline:.3f} s")
        if only_valuation:
            store.dispose()
            return
        period = {"date_from": today - dt.timedelta(days=364), "date_to": today}
        cases = {
            "stock": ReportParams(), "cogs": ReportParams(**period), "turnover": ReportParams(**period),
            "abc": ReportParams(**period), "aging": ReportParams(), "expiring": ReportParams(days=30),
            "performance": ReportParams(**period), "suppliers": ReportParams(**period),
            "moves": ReportParams(**period), "trace": ReportParams(lot="L0000100"),
            "valuation": ReportParams(by="category"),
        }
        for name, params in cases.items():
            first, _ = timed(lambda n=name, p=params: reports.page(store, ACTOR, n, p))
            total, _ = timed(lambda n=name, p=params: reports.totals(store, ACTOR, n, p))
            series, _ = timed(lambda n=name, p=params: reports.core.chart_series(store, ACTOR, n, p))
            record("reports", f"{backend}: report {name} first page vs plain SUM", first / baselines["today"],
                   detail=f"first page {first:.2f} s, totals {total:.2f} s, chart {series:.2f} s")
        if export:
            everything = ReportParams(date_from=today - dt.timedelta(days=800), date_to=today)
            days, week = 7, None
            while True:  # the last N days holding about 10,000 movements
                week = ReportParams(date_from=today - dt.timedelta(days=days - 1), date_to=today)
                small_rows = reports.count(store, ACTOR, "moves", week)
                if small_rows >= 10_000 or days > 800:
                    break
                days = int(days * max(1.2, 10_000 / max(small_rows, 1)))
            target = workdir / "moves.xlsx"
            small = peak_heap(lambda: export_report(store, ACTOR, "moves", week, target, fmt="xlsx"))
            started = time.perf_counter()
            result = []
            large = peak_heap(lambda: result.append(export_report(store, ACTOR, "moves", everything, target, fmt="xlsx")))
            seconds = time.perf_counter() - started
            record("reports", f"{backend}: peak heap, {result[0].rows:,}-row moves XLSX vs {small_rows:,} rows",
                   large / small, at_most=1.2,
                   detail=f"{large / 1e6:.1f} MB vs {small / 1e6:.1f} MB; {seconds:.0f} s under tracemalloc, "
                          f"{target.stat().st_size / 1e6:.0f} MB file")
        store.dispose()
    finally:
        if backend == "postgresql" and not store_url:
            pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--no-export", action="store_true", help="skip the (long) XLSX memory measurement")
    parser.add_argument("--store", metavar="URL", help="measure this already generated store (kept) instead of a new one")
    parser.add_argument("--only-valuation", action="store_true", help="valuation against the plain SUM only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ims-reports-bench-") as workdir:
        if args.store:
            backend = "postgresql" if args.store.startswith("postgresql") else "sqlite"
            run(backend, args.products, args.movements, Path(workdir), not args.no_export, args.store,
                args.only_valuation)
            return
        for name in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            run(name, args.products, args.movements, Path(workdir), not args.no_export, None, args.only_valuation)


if __name__ == "__main__":
    main()
