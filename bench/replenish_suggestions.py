"""Suggested purchase orders for 100,000 products with 1,000,000 movements of history.

On the generated store of ``bench/_bigstore.py`` every product gets reorder settings in its home
warehouse (a third of them set above their stock), a preferred supplier with MOQs and pack
multiples, and 10,000 confirmed sales-order lines wait for stock; some POs are still open.  In
the same run, on each backend:

* ``replenishment.suggest`` for every product below its point (projected stock, suggested
  quantity, order-by date from the demand of the last 90 days, grouped by supplier)
* against one raw SQL aggregate reading the same figures (on hand and reserved per warehouse,
  backorders, open PO quantity, the settings and supplier terms, and the window's demand),
  fetched whole - goal: <= 3x.

Also timed, without a goal: recomputing every alert (``refresh_alerts``) and the first page of
the alert list.

    python -m bench.replenish_suggestions [--products 100000] [--movements 1000000]
                                          [--backend sqlite|postgresql|both]
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
from ims_tui.db.engine import Store
from ims_tui.services import replenishment
from ims_tui.services.actor import Actor

PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = Actor("bench", "admin", "bench")
WAITING_LINES = 10_000

RAW_AGGREGATE = """
WITH stock AS (
    SELECT b.product_id, l.warehouse_id, SUM(b.on_hand) AS on_hand, SUM(b.reserved) AS reserved
    FROM balances b JOIN locations l ON l.id = b.location_id
    WHERE l.kind = 'internal' GROUP BY b.product_id, l.warehouse_id),
waiting AS (
    SELECT sol.product_id, SUM(sol.qty_waiting) AS qty
    FROM sales_order_lines sol JOIN sales_orders so ON so.id = sol.order_id
    WHERE so.status IN ('confirmed', 'picking', 'partial') AND sol.qty_waiting > 0 GROUP BY sol.product_id),
incoming AS (
    SELECT pol.product_id, SUM(pol.qty_ordered - pol.qty_received) AS qty
    FROM purchase_order_lines pol JOIN purchase_orders po ON po.id = pol.order_id
    WHERE po.status IN ('draft', 'ordered', 'partial') AND pol.qty_ordered > pol.qty_received
    GROUP BY pol.product_id),
demand AS (
    SELECT m.product_id, s.warehouse_id, SUM(m.qty) AS qty
    FROM movements m JOIN locations s ON s.id = m.from_location_id JOIN locations d ON d.id = m.to_location_id
    WHERE d.kind = 'customer' AND s.kind = 'internal' AND m.created_at >= :since
    GROUP BY m.product_id, s.warehouse_id)
SELECT r.product_id, r.warehouse_id, r.reorder_point, r.reorder_qty, r.max_qty, si.min_order_qty, si.pack_qty,
       COALESCE(si.lead_time_days, sup.lead_time_days), COALESCE(st.on_hand, 0), COALESCE(st.reserved, 0),
       COALESCE(w.qty, 0), COALESCE(i.qty, 0), COALESCE(d.qty, 0)
FROM reorder_settings r
LEFT JOIN supplier_items si ON si.product_id = r.product_id AND si.supplier_id = r.supplier_id
LEFT JOIN suppliers sup ON sup.id = r.supplier_id
LEFT JOIN stock st ON st.product_id = r.product_id AND st.warehouse_id = r.warehouse_id
LEFT JOIN waiting w ON w.product_id = r.product_id
LEFT JOIN incoming i ON i.product_id = r.product_id
LEFT JOIN demand d ON d.product_id = r.product_id AND d.warehouse_id = r.warehouse_id
"""



def add_replenishment(store: Store) -> None:
    """Reorder settings for every product (home warehouse WH1, a third set above their stock there),
    supplier terms, and confirmed orders waiting for stock - set-based, like the generator."""
    with store.engine.begin() as connection:
        connection.execute(text("""
            INSERT INTO reorder_settings (product_id, warehouse_id, reorder_point, reorder_qty, max_qty, safety_stock,
                                          supplier_id, updated_at)
            SELECT p.id, 1,
                   CASE WHEN p.id % 3 = 0 THEN COALESCE(s.on_hand, 0) + 10000 ELSE 5000 END,
                   24000, CASE WHEN p.id % 2 = 0 THEN 200000 ELSE 0 END, 0, si.supplier_id, CURRENT_TIMESTAMP
            FROM products p
            JOIN supplier_items si ON si.product_id = p.id
            LEFT JOIN (SELECT b.product_id, SUM(b.on_hand) AS on_hand FROM balances b
                       JOIN locations l ON l.id = b.location_id WHERE l.warehouse_id = 1 GROUP BY b.product_id) s
                   ON s.product_id = p.id
        """))
        connection.execute(text("UPDATE supplier_items SET min_order_qty = 12000 WHERE id % 4 = 0"))
        connection.execute(text("UPDATE supplier_items SET pack_qty = 6000 WHERE id % 5 = 0"))
        connection.execute(text("INSERT INTO customers (id, code, name, active, min_shelf_days, created_at) "
                                "VALUES (1, 'C0001', 'Bench customer', :yes, 0, CURRENT_TIMESTAMP)"), {"yes": True})
        connection.execute(text(
            "INSERT INTO sales_orders (id, number, customer_id, status, policy, hold_reason, note, created_by, created_at) "
            "VALUES (1, 'SO-0000001', 1, 'confirmed', 'as-available', '', '', 'bench', CURRENT_TIMESTAMP)"))
        products = connection.execute(text("SELECT MAX(id) FROM products")).scalar_one()
        step = max(products // WAITING_LINES, 1)
        connection.execute(text(
            "INSERT INTO sales_order_lines (order_id, line_no, product_id, qty_ordered, qty_reserved, qty_shipped, "
            "unit_price, qty_waiting, qty_picked, qty_returned) VALUES (1, :line, :product, 7000, 0, 0, 0, 7000, 0, 0)"),
            [{"line": n, "product": product} for n, product in enumerate(range(1, products + 1, step), start=1)])
        if connection.dialect.name == "postgresql":
            for table in ("customers", "sales_orders", "sales_order_lines", "reorder_settings"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))
        connection.execute(text("ANALYZE"))


def run(backend: str, products: int, movements: int, workdir: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'big.db'}"
    else:
        database = f"ims_replenish_bench_{os.getpid()}"
        pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{database}"')
        pg_admin(PG_ADMIN_URL, f'CREATE DATABASE "{database}"')
        url = make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    try:
        print(f"{backend}: generating {products:,} products, ~{movements:,} movements over two years", flush=True)
        made = generate(url, products, movements, log=lambda line: None)
        store = Store(url)
        add_replenishment(store)
        print(f"  generated {made['movements']:,} movements in {made['seconds']:.0f} s; reorder settings for every "
              f"product, {WAITING_LINES:,} order lines waiting", flush=True)
        since = dt.datetime.combine(dt.date.today() - dt.timedelta(days=90), dt.time(), tzinfo=dt.timezone.utc)
        if backend == "sqlite":
            since = since.strftime("%Y-%m-%d %H:%M:%S.%f")

        def raw() -> int:
            with store.read() as session:
                return len(session.execute(text(RAW_AGGREGATE), {"since": since}).all())

        def suggest() -> list:
            return replenishment.suggest(store, ACTOR, only_alerts=False)

        rows = raw()
        groups = suggest()
        lines = sum(len(group.lines) for group in groups)
        baseline = best(raw, runs=3)
        suggestions = best(suggest, runs=3)
        refresh, changed = timed(lambda: replenishment.refresh_alerts(store, ACTOR))
        page = best(lambda: replenishment.list_alerts(store, ACTOR, limit=50), runs=3)
        count = replenishment.count_open_alerts(store, ACTOR)
        print(f"  suggestions: {lines:,} lines for {len(groups)} suppliers from {rows:,} settings in {suggestions:.2f} s; "
              f"raw SQL aggregate {baseline:.2f} s", flush=True)
        print(f"  refresh every alert {refresh:.2f} s ({changed:,} raised: {count:,} open); "
              f"first page of alerts {page * 1000:.0f} ms", flush=True)
        record("replenish_suggestions", f"{backend}: suggestions for every product vs the raw SQL aggregate",
               suggestions / baseline, at_most=3,
               detail=f"{suggestions:.2f} s vs {baseline:.2f} s, {rows:,} products, {made['movements']:,} movements")
        store.dispose()
    finally:
        if backend == "postgresql":
            pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ims-replenish-bench-") as workdir:
        for name in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            run(name, args.products, args.movements, Path(workdir))


if __name__ == "__main__":
    main()
