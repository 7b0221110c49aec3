"""A large, realistic store for measuring reports: N products and M movements over two years.

Receipts on purchase orders (about a tenth short, some late), shipments to customers, moves
between bins, count corrections and customer returns; one product in twenty is lot-tracked with
expiry dates.  The history is simulated per product in Python (FIFO cost layers, moving average)
and written with bulk inserts - ``executemany`` on SQLite, ``COPY`` on PostgreSQL - so the store
keeps the ledger's invariants (``ims check`` is clean): balances equal the movements, cost layers
hold exactly the stock on hand, every movement has its posting.  Then the valuation snapshots are
built as ``ims report snapshot`` builds them (the first of each month, and the start of today).

    python -m bench._bigstore --url sqlite:////tmp/reports/big.db [--products 100000] [--movements 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import create_engine, text

from ims_tui.db import schema
from ims_tui.db.engine import Store
from ims_tui.services.reports import snapshots

CATEGORIES = ("Fasteners", "Electrical", "Plumbing", "Safety", "Power Tools", "Hand Tools", "Packaging", "Cleaning",
              "Paint", "Garden", "Lighting", "Adhesives", "Abrasives", "Storage", "Food & Beverage", "First Aid",
              "Office", "HVAC", "Welding", "Ladders")
DAYS = 730
BINS_PER_WAREHOUSE = 100


def _money(value: float) -> int:
    return int(round(value * 10_000))


def generate(url: str, products: int = 100_000, movements: int = 1_000_000, seed: int = 11,
             today: dt.date | None = None, log=print) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Build the store at ``url`` (must be empty); returns counts and seconds taken."""
    started = time.perf_counter()
    rng = random.Random(seed)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    origin = dt.datetime.combine(today - dt.timedelta(days=DAYS), dt.time(7), tzinfo=dt.timezone.utc)
    store = Store(url)
    schema.upgrade(store)
    pg = store.engine.dialect.name == "postgresql"
    with store.read() as session:
        virtual = dict(session.execute(text("SELECT kind, id FROM locations WHERE kind <> 'internal'")).all())
    supplier_loc, customer_loc, adjust_loc = virtual["supplier"], virtual["customer"], virtual["adjustment"]

    # --- catalogue ----------------------------------------------------------------------------
    loc_rows, wh_rows, bins = [], [], []
    next_loc = 1000
    for wh in (1, 2):
        wh_rows.append((wh, f"WH{wh}", f"Warehouse {wh}"))
        for n in range(BINS_PER_WAREHOUSE):
            code = f"WH{wh}-{n // 10:02d}-{n % 10}"
            loc_rows.append((next_loc, code, f"Bin {code}", "internal", wh, True))
            bins.append(next_loc)
            next_loc += 1
    supplier_rows = [(s, f"S{s:03d}", f"Supplier {s:03d}", 3 + s % 12, True) for s in range(1, 51)]
    product_rows, item_rows = [], []
    for p in range(1, products + 1):
        cost = round(rng.uniform(0.2, 150), 2)
        product_rows.append((p, f"SKU-{p:07d}", f"Product {p:07d} {rng.choice(CATEGORIES).lower()}",
                             CATEGORIES[p % len(CATEGORIES)], "ea", _money(cost * rng.uniform(1.2, 1.9)),
                             _money(cost), "lot" if p % 20 == 0 else "none", True, "", 0, 0, 0))
        item_rows.append((p, 1 + p % 50, p, f"V-{p:07d}", _money(cost), 1000))

    # --- history, per product, then in time order ----------------------------------------------
    per_product = max(-(-movements // products), 3)
    gap = (DAYS - 45) / (per_product + 1)  # mean days between a product's events
    events: list[tuple] = []  # (at, product, qty, from, to, lot, unit_cost, reason, reference, kind)
    layers: list[tuple] = []  # (product, event index, cost, original, remaining, at)
    balances: dict[tuple[int, int, int], int] = defaultdict(int)
    lots: list[tuple] = []
    po_rows, po_line_rows = [], []
    averages: dict[int, int] = {}
    for p, _sku, _name, _cat, _uom, _price, cost, tracking, *_rest in product_rows:
        at = origin + dt.timedelta(days=rng.uniform(0, 60), hours=rng.uniform(0, 9))
        open_layers: list[list] = []  # [layer index, cost, remaining]
        first_layer = len(layers)
        held: list[list] = []  # [bin, lot id, qty]
        supplier = 1 + p % 50
        average_num, average_den = 0, 0
        budget = per_product + rng.randint(0, 2)
        while budget > 0 and at.date() < today:
            stock = sum(h[2] for h in held)
            choice = rng.random()
            if stock < 5 or choice < 0.12:
                qty = rng.choice((12, 24, 48, 60, 100, 120)) * 1000
                unit = int(cost * rng.uniform(0.9, 1.1))
                lot_id = None
                if tracking == "lot":
                    lot_id = len(lots) + 1
                    lots.append((lot_id, p, f"L{len(lots):07d}", (at + dt.timedelta(days=rng.randint(60, 420))).date(), at))
                number = f"PO-{len(po_rows) + 1:07d}"
                lead = 3 + supplier % 12
                ordered = at - dt.timedelta(days=lead + rng.choice((-1, 0, 0, 0, 1, 3, 6)))
                short = rng.random() < 0.1
                po_rows.append((len(po_rows) + 1, number, supplier, "received" if not short else "partial",
                                (ordered + dt.timedelta(days=lead)).date(), ordered, ordered))
                po_line_rows.append((len(po_line_rows) + 1, len(po_rows), 1, p, qty + (12000 if short else 0), qty, unit))
                bin_ = rng.choice(bins)
                events.append((at, p, qty, supplier_loc, bin_, lot_id, unit, "", f"{number}/1", "receive"))
                open_layers.append([len(layers), unit, qty])
                layers.append([p, len(events) - 1, unit, qty, qty, at])
                held.append([bin_, lot_id, qty])
                average_num, average_den = average_num + unit * qty, average_den + qty
            else:
                entry = next(h for h in held if h[2] > 0)
                if choice < 0.80:
                    qty = min(entry[2], rng.randint(1, 12) * 1000)
                    kind, target, reason, ref = "issue", customer_loc, "", f"SO-{rng.randint(1, 900_000):07d}"
                elif choice < 0.90:
                    qty = min(entry[2], rng.randint(1, 6) * 1000)
                    kind, target, reason, ref = "move", rng.choice(bins), "", ""
                    if target == entry[0]:
                        continue
                elif choice < 0.96:
                    qty = 1000
                    kind, target, reason, ref = "adjust", adjust_loc, "count", "count"
                else:  # a customer return into the bin it left from, at the layer's cost
                    qty = rng.randint(1, 3) * 1000
                    unit = open_layers[-1][1] if open_layers else int(cost)
                    events.append((at, p, qty, customer_loc, entry[0], entry[1], unit, "customer return", "", "return"))
                    open_layers.append([len(layers), unit, qty])
                    layers.append([p, len(events) - 1, unit, qty, qty, at])
                    entry[2] += qty
                    average_num, average_den = average_num + unit * qty, average_den + qty
                    budget -= 1
                    at += dt.timedelta(days=rng.expovariate(1 / gap), minutes=rng.randint(1, 600))
                    continue
                entry[2] -= qty
                if kind == "move":
                    events.append((at, p, qty, entry[0], target, entry[1], 0, reason, ref, kind))
                    held.append([target, entry[1], qty])
                else:  # out of stock: FIFO layers
                    need, value = qty, 0
                    for layer in open_layers:
                        take = min(layer[2], need)
                        layer[2] -= take
                        value += take * layer[1]
                        need -= take
                        if need == 0:
                            break
                    open_layers = [layer for layer in open_layers if layer[2] > 0]
                    events.append((at, p, qty, entry[0], target, entry[1], value // qty, reason, ref, kind))
                held = [h for h in held if h[2] > 0]
            budget -= 1
            at += dt.timedelta(days=rng.expovariate(1 / gap), minutes=rng.randint(1, 600))
        for layer_index in range(first_layer, len(layers)):
            layers[layer_index][4] = 0
        for layer_index, _cost, remaining in open_layers:
            layers[layer_index][4] = remaining
        for bin_, lot_id, qty in held:
            balances[(p, bin_, lot_id or 0)] += qty
        averages[p] = average_num // average_den if average_den else 0
    # closed layers: remaining 0
    open_remaining = {}
    for index, layer in enumerate(layers):
        open_remaining[index] = layer[4]
    log(f"  simulated {len(events):,} movements, {len(layers):,} layers in {time.perf_counter() - started:.1f} s")
    order = sorted(range(len(events)), key=lambda i: events[i][0])
    movement_id = {index: n for n, index in enumerate(order, start=1)}

    def stamp(value: dt.datetime) -> object:
        return value if pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    posting_rows = ((n, f"gen-{n}", events[i][9], events[i][7], events[i][8], "generator", "bench", stamp(events[i][0]))
                    for n, i in enumerate(order, start=1))
    movement_rows = ((n, n, e[1], e[2], e[3], e[4], e[5], None, e[6], e[7], e[8], "generator", "bench", stamp(e[0]))
                     for n, i in enumerate(order, start=1) for e in (events[i],))
    layer_rows = ((n, layer[0], movement_id[layer[1]], layer[2], layer[3], open_remaining[n - 1], stamp(layer[5]))
                  for n, layer in enumerate(layers, start=1))
    balance_rows = ((n, p, loc, key, key or None, qty, 0) for n, ((p, loc, key), qty) in
                    enumerate(((k, v) for k, v in balances.items() if v), start=1))

    tables: list[tuple[str, Sequence[str], Iterable[tuple]]] = [
        ("warehouses", ("id", "code", "name"), wh_rows),
        ("locations", ("id", "code", "name", "kind", "warehouse_id", "active"), loc_rows),
        ("suppliers", ("id", "code", "name", "lead_time_days", "active"), supplier_rows),
        ("products", ("id", "sku", "name", "category", "uom", "unit_price", "standard_cost", "tracking", "active",
                      "description", "average_cost", "reorder_point", "reorder_qty"), product_rows),
        ("supplier_items", ("id", "supplier_id", "product_id", "supplier_sku", "cost", "min_order_qty"), item_rows),
        ("lots", ("id", "product_id", "code", "expiry", "created_at"), [(a, b, c, d, stamp(e)) for a, b, c, d, e in lots]),
        ("purchase_orders", ("id", "number", "supplier_id", "status", "expected_date", "created_at", "ordered_at",
                             "note", "created_by"),
         [(a, b, c, d, e, stamp(f), stamp(g), "", "generator") for a, b, c, d, e, f, g in po_rows]),
        ("purchase_order_lines", ("id", "order_id", "line_no", "product_id", "qty_ordered", "qty_received", "unit_cost"),
         po_line_rows),
        ("postings", ("id", "idempotency_key", "kind", "reason", "reference", "username", "station", "created_at"),
         posting_rows),
        ("movements", ("id", "posting_id", "product_id", "qty", "from_location_id", "to_location_id", "lot_id",
                       "serial_id", "unit_cost", "reason", "reference", "username", "station", "created_at"), movement_rows),
        ("cost_layers", ("id", "product_id", "movement_id", "unit_cost", "original_qty", "remaining_qty", "created_at"),
         layer_rows),
        ("balances", ("id", "product_id", "location_id", "lot_key", "lot_id", "on_hand", "reserved"), balance_rows),
    ]
    with store.engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        for table, columns, rows in tables:
            if pg:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                batch: list[tuple] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == 50_000:
                        cursor.executemany(sql, batch)
                        batch.clear()
                cursor.executemany(sql, batch)
            log(f"  {table} written ({time.perf_counter() - started:.1f} s)")
        sql = "UPDATE products SET average_cost = %s WHERE id = %s" if pg else "UPDATE products SET average_cost = ? WHERE id = ?"
        cursor.executemany(sql, [(value, p) for p, value in averages.items()])
        meta = "INSERT INTO store_meta (key, value) VALUES (%s, %s)" if pg else "INSERT INTO store_meta (key, value) VALUES (?, ?)"
        cursor.executemany(meta, [("valuation_method", "fifo"), ("generated", f"{products} products")])
        if pg:
            for table, _, _ in tables:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    with store.engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    ledger_seconds = time.perf_counter() - started
    log(f"  ledger written in {ledger_seconds:.1f} s; valuation snapshots (the first of each month, and today) ...")
    built = snapshots.build_periods(store, today)
    with store.engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    store.dispose()
    seconds = time.perf_counter() - started
    log(f"  {len(built)} snapshots in {seconds - ledger_seconds:.1f} s; done in {seconds:.1f} s")
    return {"products": products, "movements": len(events), "layers": len(layers), "seconds": seconds,
            "snapshots": len(built), "snapshot_seconds": seconds - ledger_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="an empty store (SQLite file or PostgreSQL database)")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=1_000_000)
    args = parser.parse_args()
    generate(args.url, args.products, args.movements)


if __name__ == "__main__":
    main()


def timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Seconds ``fn`` took, and what it returned."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def best(fn, runs: int = 2) -> float:  # type: ignore[no-untyped-def]
    """The fastest of ``runs`` calls: the figure least disturbed by a shared machine's load."""
    return min(timed(fn)[0] for _ in range(runs))


def pg_admin(url: str, statement: str) -> None:
    """Run ``statement`` (CREATE or DROP DATABASE) outside a transaction on the server at ``url``."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()
