"""Building a pick list for 50 orders x 4 lines in a store of 1,000,000 products.

The store is made with bulk inserts (``bench/_sales_store.py``): a million plain products, each
with a balance in one of 640 bins, then batches of 50 confirmed four-line orders.  Measured:
``picking.create_pick`` for one batch (permission check, order locks, the batch's unpicked
allocations, the walking order of every bin, 200 pick lines written, the list read back)
against the raw query that reads the same allocations with their balances, bins and products
in bin order.  Median of ``--batches`` runs each after one warm-up batch.  Figures are printed, not asserted.

    python -m bench.sales_picklist [--products N] [--batches N] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, text

from bench._results import record
from bench._sales_store import bulk_draft_orders, bulk_locations, bulk_products
from bench.ledger_postings import new_pg_database
from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.db.models import Product, SalesOrder
from ims_tui.services import picking, sales
from ims_tui.services.actor import Actor

ACTOR = Actor("bench", "admin", "bench")
ORDERS = 50
LINES = 4

RAW_QUERY = """
SELECT a.id, a.order_id, a.line_id, a.product_id, a.location_id, a.lot_id, a.qty, b.on_hand, b.reserved,
       l.code, l.pick_seq, p.sku, p.name
FROM allocations a
JOIN balances b ON b.product_id = a.product_id AND b.location_id = a.location_id AND b.lot_key = a.lot_key
JOIN locations l ON l.id = a.location_id
JOIN products p ON p.id = a.product_id
WHERE a.order_id IN ({ids}) AND a.stage = 'reserved' AND a.qty > 0
ORDER BY l.pick_seq, l.code
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=4, help="the first warms up and is not counted")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.backend == "sqlite":
        url, cleanup = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ims-bench-')) / 'big.db'}", (lambda: None)
    else:
        url, cleanup = new_pg_database()
    try:
        store = Store(url)
        schema.upgrade(store)
        started = time.perf_counter()
        bins = bulk_locations(store, "ABCDEFGH", 20, 4)
        bulk_products(store, args.products, bins, Decimal(50))
        print(f"{args.products:,} products in {len(bins)} bins made in {time.perf_counter() - started:.0f} s ({args.backend})")
        with store.read() as session:
            last = session.scalar(select(Product.id).order_by(Product.id.desc()).limit(1))
        rng = random.Random(9)
        batches = []
        for _ in range(args.batches):
            numbers = bulk_draft_orders(store, [[(rng.randint(1, last), Decimal(1)) for _ in range(LINES)] for _ in range(ORDERS)])
            for number in numbers:
                sales.confirm_so(store, ACTOR, number)
            batches.append(numbers)
        raw_times, service_times = [], []
        for index, numbers in enumerate(batches):
            with store.read() as session:
                ids = ", ".join(str(i) for i in session.scalars(select(SalesOrder.id).where(SalesOrder.number.in_(numbers))))
            with store.read() as session:
                start = time.perf_counter()
                rows = session.execute(text(RAW_QUERY.format(ids=ids))).all()
                raw_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            pick = picking.create_pick(store, ACTOR, numbers)
            service_times.append(time.perf_counter() - start)
            assert len(pick.lines) == len(rows) == ORDERS * LINES
            if index == 0:  # the first batch warms both paths up (statement caches, pages); not counted
                raw_times.clear()
                service_times.clear()
        raw, service = statistics.median(raw_times), statistics.median(service_times)
        print(f"pick list for {ORDERS} orders x {LINES} lines: create_pick {service * 1000:.0f} ms, "
              f"raw query {raw * 1000:.1f} ms")
        record("sales_picklist", f"create_pick vs raw query, {args.backend}", service / raw, at_most=3,
               detail=f"{ORDERS} orders x {LINES} lines: {service * 1000:.0f} vs {raw * 1000:.1f} ms")
        store.dispose()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
