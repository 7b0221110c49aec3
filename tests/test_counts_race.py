"""A count racing with picks, issues, moves and receipts in the same bins, in real processes.

While three processes keep posting in the bins being counted, a counter process counts them.
Every line's expected quantity must be exactly the ledger's balance at the line's recorded
position (the sum of that balance's movements up to that movement id), and the posted
adjustment exactly counted - expected: the true difference at the moment of counting, however
the postings interleaved.
"""

from __future__ import annotations

import multiprocessing
import random
from decimal import Decimal

import pytest
from sqlalchemy import case, func, select

from ims_tui.db.engine import Store
from ims_tui.db.models import Movement, Posting, StockCount, StockCountLine
from ims_tui.services import counts, stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.stock_settings import change_settings
from tests.conftest import make_locations, make_product

BINS = ("R-01", "R-02", "R-03")
PRODUCTS = ("HOT-A", "HOT-B", "HOT-C")
RACERS = 3
POSTINGS = 25
MANAGER = Actor("mgr", "manager", "office")


def _racer(url: str, worker: int, barrier) -> None:
    store = Store(url)
    actor = Actor(f"racer-{worker}", "admin", f"station-{worker}")
    rng = random.Random(worker)
    barrier.wait()
    for _ in range(POSTINGS):
        sku, where = rng.choice(PRODUCTS), rng.choice(BINS)
        kind = rng.choice(("pick", "receive", "move"))
        try:
            if kind == "pick":
                stock.issue(store, actor, sku, Decimal(rng.randint(1, 3)), source=where)
            elif kind == "receive":
                stock.receive(store, actor, sku, Decimal(rng.randint(1, 3)), to=where)
            else:
                stock.move(store, actor, sku, Decimal(1), source=where, to=rng.choice([b for b in BINS if b != where]))
        except RuleViolation:
            pass
    store.dispose()


def _counter(url: str, number: str, barrier) -> None:
    store = Store(url)
    counter = Actor("counter", "picker", "rf-9")
    rng = random.Random(99)
    barrier.wait()
    for where in BINS:
        for sku in PRODUCTS:
            for _ in range(2):   # counted in two goes, stock moving in between
                counts.record(store, counter, number, where, sku, Decimal(rng.randint(5, 15)))
        counts.bin_done(store, counter, number, where)
    store.dispose()


@pytest.mark.slow
def test_a_count_racing_with_postings_posts_exactly_the_difference_at_its_position(store, store_url, admin):
    make_locations(store, *BINS)
    for sku in PRODUCTS:
        make_product(store, sku, cost="1.00")
        for where in BINS:
            stock.receive(store, admin, sku, Decimal(40), to=where)
    change_settings(store, MANAGER, {"count.tolerance_pct": "1000", "count.tolerance_value": "100000"})
    task = counts.create_count(store, MANAGER, locations=list(BINS))

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS + 1)
    processes = [context.Process(target=_racer, args=(store_url, i, barrier)) for i in range(RACERS)]
    processes.append(context.Process(target=_counter, args=(store_url, task.number, barrier)))
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
        assert process.exitcode == 0
    counts.submit(store, MANAGER, task.number)

    with store.read() as session:
        count_id = session.scalar(select(StockCount.id).where(StockCount.number == task.number))
        lines = list(session.scalars(select(StockCountLine).where(StockCountLine.count_id == count_id)))
        assert len(lines) == len(BINS) * len(PRODUCTS) and all(line.status == "posted" for line in lines)
        for line in lines:
            signed = case((Movement.to_location_id == line.location_id, Movement.qty), else_=-Movement.qty)
            at_position = session.scalar(
                select(func.coalesce(func.sum(signed), 0)).where(
                    Movement.product_id == line.product_id, Movement.id <= line.position, Movement.lot_id.is_(None),
                    (Movement.from_location_id == line.location_id) | (Movement.to_location_id == line.location_id))
            )
            assert Decimal(at_position) == line.expected_qty, f"line {line.line_no}: expected is not the ledger at its position"
            posted = session.execute(
                select(Movement.qty, Movement.to_location_id).join(Posting, Posting.id == Movement.posting_id)
                .where(Posting.kind == "count", Movement.reference == f"line {line.line_no}")
            ).all()
            net = sum((qty if to == line.location_id else -qty for qty, to in posted), Decimal(0))
            assert net == line.counted_qty - line.expected_qty
    assert run_check(store).clean
