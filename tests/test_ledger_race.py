"""Racing real processes against one store: no oversell, no negative stock, no double post.

Eight processes, each with its own engine, issue from the same few hot items whose stock is
less than the total demand, and all post one receipt under the same idempotency key.
"""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

import pytest

from ims_tui.db.engine import Store
from ims_tui.services import stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from tests.conftest import make_locations, make_product

PROCESSES = 8
HOT_ITEMS = {"HOT-1": 15, "HOT-2": 10, "HOT-3": 5}
ATTEMPTS_PER_PROCESS = 12


def _race(url: str, worker: int, barrier, results) -> None:
    store = Store(url)
    actor = Actor(f"racer-{worker}", "admin", f"station-{worker}")
    accepted = dict.fromkeys(HOT_ITEMS, 0)
    barrier.wait()
    stock.receive(store, actor, "HOT-1", Decimal(100), to="DUPLICATE-TARGET", key="one-delivery")
    for attempt in range(ATTEMPTS_PER_PROCESS):
        sku = list(HOT_ITEMS)[(worker + attempt) % len(HOT_ITEMS)]
        try:
            stock.issue(store, actor, sku, Decimal(1), source="HOT-BIN", key=f"w{worker}-a{attempt}")
            accepted[sku] += 1
        except RuleViolation:
            pass
    store.dispose()
    results.put(accepted)


@pytest.mark.slow
def test_racing_issues_never_oversell(store, store_url, admin):
    for sku, qty in HOT_ITEMS.items():
        make_product(store, sku)
    make_locations(store, "HOT-BIN", "DUPLICATE-TARGET")
    for sku, qty in HOT_ITEMS.items():
        stock.receive(store, admin, sku, Decimal(qty), to="HOT-BIN")
    demand_per_item = PROCESSES * ATTEMPTS_PER_PROCESS // len(HOT_ITEMS)
    assert all(demand_per_item > qty for qty in HOT_ITEMS.values())

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=_race, args=(store_url, i, barrier, results)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    totals = dict.fromkeys(HOT_ITEMS, 0)
    for _ in processes:
        for sku, count in results.get(timeout=120).items():
            totals[sku] += count
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert totals == HOT_ITEMS, "accepted issues must equal the stock there was"
    for sku in HOT_ITEMS:
        detail = product_detail(store, admin, sku)
        assert [(row.location, row.on_hand) for row in detail.stock if row.location == "HOT-BIN"] == []
    hot1 = product_detail(store, admin, "HOT-1")
    assert hot1.on_hand == Decimal(100), "eight posts under one idempotency key received once"
    report = run_check(store)
    assert report.clean, report.violations
