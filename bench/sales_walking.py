"""Walking: a 50-order batch pick list in pick-sequence order against alphabetical order.

On the demo warehouse (``ims demo``: WH1 aisles A-D x 6 bays x 3 levels, WH2 aisles A-B x 4 x 2)
fifty orders of four lines each are confirmed and put on one pick list.  The picker's walk is
measured for the list's order (serpentine pick sequence) and for the same lines sorted by
location code (what sorting by location name gives): location changes, and path length in
bay widths on a simple layout - aisles 3 bay widths apart, joined by cross aisles in front of
bay 1 and behind the last bay; changing aisles means walking out of one end and into the next
aisle (whichever end is shorter); levels cost no walking.  The walk starts and ends at the
packing location in front of aisle A.  Figures are printed, not asserted.

    python -m bench.sales_walking [--orders N] [--lines N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bench._results import record
from ims_tui.db.engine import Store
from ims_tui.db.models import Product
from ims_tui.services import demo, picking, sales
from ims_tui.services.actor import Actor
from ims_tui.services.inventory import product_detail
from ims_tui.services.pick_sequence import aisle_bay

ACTOR = Actor("bench", "admin", "bench")
AISLE_SPACING = 3
WAREHOUSE_SWITCH = 50
"""Walking from one warehouse to the other (counted the same in both orders)."""


def _position(code: str, aisles: dict[tuple[str, str], int]) -> tuple[str, int, int]:
    parts = aisle_bay(code)
    if parts is None:  # docks, packing: in front of the first aisle
        return code.split("-")[0], 0, 0
    prefix, aisle, bay = parts
    return prefix, aisles[(prefix, aisle)] * AISLE_SPACING, bay


def walk(codes: list[str], depth: dict[str, int]) -> tuple[int, float]:
    """(location changes, path length) of visiting ``codes`` in order from and back to packing."""
    aisle_names = sorted({(p[0], p[1]) for p in (aisle_bay(c) for c in codes) if p})
    aisles = {key: rank for rank, key in enumerate(sorted(aisle_names))}
    changes = sum(1 for a, b in zip(codes, codes[1:]) if a != b)
    here = (codes[0].split("-")[0], 0, 0) if codes else ("", 0, 0)
    length = 0.0
    for point in [_position(code, aisles) for code in codes] + [here]:
        (w1, x1, y1), (w2, x2, y2) = here, point
        if w1 != w2:
            length += WAREHOUSE_SWITCH + y1 + x1 + x2 + y2
        elif x1 == x2:
            length += abs(y1 - y2)
        else:
            back = depth.get(w1, 6) + 1
            length += abs(x1 - x2) + min(y1 + y2, 2 * back - y1 - y2)
        here = point
    return changes, length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--lines", type=int, default=4)
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ims-bench-')) / 'demo.db'}"
    store = Store(url)
    demo.load_demo(store, password="bench-only")
    rng = random.Random(3)
    in_stock = []
    customer = sales.list_customers(store, ACTOR)[0].name
    with store.read() as session:
        skus = list(session.scalars(select(Product.sku).where(Product.tracking != "serial").order_by(Product.sku)))
    for sku in skus:
        rows = product_detail(store, ACTOR, sku, movements=0).stock
        free = sum((r.on_hand - r.reserved for r in rows if r.location.startswith("WH1-") and r.location.count("-") == 3), Decimal(0))
        if free >= 20:
            in_stock.append(sku)
    numbers = []
    for _ in range(args.orders):
        lines = [sales.SOLineInput(sku, Decimal(1)) for sku in rng.sample(in_stock, args.lines)]
        view = sales.create_so(store, ACTOR, customer, lines)
        sales.confirm_so(store, ACTOR, view.number)
        numbers.append(view.number)
    pick = picking.create_pick(store, ACTOR, numbers)
    sequence = [line.location for line in pick.lines]
    alphabetical = sorted(sequence)
    depth = {"WH1": 6, "WH2": 4}
    seq_changes, seq_length = walk(sequence, depth)
    abc_changes, abc_length = walk(alphabetical, depth)
    print(f"{len(pick.lines)} pick lines for {len(numbers)} orders on the demo warehouse")
    print(f"{'order':<14} {'location changes':>16} {'path length':>12}")
    print(f"{'alphabetical':<14} {abc_changes:>16} {abc_length:>12.0f}")
    print(f"{'pick sequence':<14} {seq_changes:>16} {seq_length:>12.0f}")
    print(f"path {100 * (1 - seq_length / abc_length):.0f}% shorter, location changes "
          f"{100 * (1 - seq_changes / abc_changes):.0f}% fewer")
    record("sales_walking", "pick path vs alphabetical order", seq_length / abc_length, at_most=0.75,
           detail=f"{seq_length:.0f} vs {abc_length:.0f} (goal: 25% shorter)")
    store.dispose()


if __name__ == "__main__":
    main()
