"""Eight processes issuing (and putting back) the same product across its reorder point at once:
exactly one open alert while it is below, none once a receipt lifts it - SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal

import pytest
from sqlalchemy import select

from ims_tui.db.engine import Store
from ims_tui.db.models import ChangeEvent, ReorderSetting
from ims_tui.services import replenishment, stock
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from tests.replenish_support import SETUP, make_item, make_store

PROCESSES = 8
ROUNDS = 6
START = 12
POINT = 12


def _race(url: str, worker: int, barrier, results) -> None:
    store = Store(url)
    actor = Actor(f"racer-{worker}", "admin", f"station-{worker}")
    barrier.wait()
    for round_no in range(ROUNDS):  # each round takes one unit out and puts it back: across the point and back
        stock.issue(store, actor, "HOT", Decimal(1), source="A-01", key=f"w{worker}-out{round_no}")
        stock.receive(store, actor, "HOT", Decimal(1), to="A-01", key=f"w{worker}-in{round_no}")
    stock.issue(store, actor, "HOT", Decimal(1), source="A-01", key=f"w{worker}-last")
    store.dispose()
    results.put(worker)


def open_alerts(store: Store) -> list:
    with store.read() as session:
        return session.execute(select(ReorderSetting.product_id, ReorderSetting.alert_since)
                               .where(ReorderSetting.alert_since.is_not(None))).all()


@pytest.mark.slow
def test_racing_stations_leave_exactly_one_alert_and_a_receipt_clears_it(store, store_url, backend):
    make_store(store)
    make_item(store, "HOT", "Acme", reorder_point=POINT, reorder_qty=24)
    stock.receive(store, SETUP, "HOT", Decimal(START), to="A-01")
    assert open_alerts(store) == [], "at its point, not below"
    with store.read() as session:
        events_before = len(session.scalars(select(ChangeEvent.id).where(ChangeEvent.topic == "alerts")).all())

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=_race, args=(store_url, i, barrier, results)) for i in range(PROCESSES)]
    for process in processes:
        process.start()
    done = sorted(results.get(timeout=180) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert done == list(range(PROCESSES))

    [(_, since)] = open_alerts(store)
    assert replenishment.count_open_alerts(store, SETUP) == 1
    [row] = replenishment.list_alerts(store, SETUP)
    assert (row.sku, row.on_hand, row.projected) == ("HOT", START - PROCESSES, START - PROCESSES)
    report = run_check(store)
    assert report.clean, report.violations  # includes: open alerts are exactly the products below their points
    if backend == "sqlite":  # every raise and clear was announced (PostgreSQL announces by NOTIFY, not rows)
        with store.read() as session:
            assert len(session.scalars(select(ChangeEvent.id).where(ChangeEvent.topic == "alerts")).all()) > events_before

    stock.receive(store, SETUP, "HOT", Decimal(PROCESSES), to="A-01")
    assert open_alerts(store) == [], "the receipt lifted it back to its point"
    assert replenishment.count_open_alerts(store, SETUP) == 0
    assert run_check(store).clean
