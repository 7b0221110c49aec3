"""kill -9 while shipping: after each kill nothing is half-posted (an order shipped whole, with
its shipment, or not at all, its goods still held in packing), and running the same work
again with the same idempotency keys ships every order exactly once."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.engine import Store
from ims_tui.db.models import Posting, Shipment
from ims_tui.services import picking, sales, stock
from ims_tui.services.integrity import run_check
from tests.conftest import make_product, open_store
from tests.sales_support import ADMIN, order, warehouse

ORDERS = 8


def _ship_all(url: str, numbers: list[str]) -> None:
    store = Store(url)
    for number in numbers:
        picking.ship_so(store, ADMIN, number, key=f"ship:{number}")
    store.dispose()


@pytest.mark.slow
def test_kill_minus_nine_while_shipping_leaves_nothing_half_posted(store_url):
    store = open_store(store_url)
    warehouse(store)
    make_product(store, "BOX")
    make_product(store, "TIN", tracking="lot")
    stock.receive(store, ADMIN, "BOX", Decimal(100), to="A-01-1", cost=Decimal("1.5"))
    stock.receive(store, ADMIN, "TIN", Decimal(100), to="A-02-1", lot="T1")
    numbers = []
    for index in range(ORDERS):
        number = order(store, f"Kill {index}", ("BOX", 2 + index % 3), ("TIN", 1 + index % 2))
        pick = picking.create_pick(store, ADMIN, [number])
        for line in pick.lines:
            picking.confirm_pick(store, ADMIN, pick.number, line.line_no, line.qty, source=line.location, lot=line.lot)
        numbers.append(number)
    store.dispose()
    rng = random.Random(11)
    context = multiprocessing.get_context("fork")
    for _ in range(4):
        with Store(store_url).read() as session:
            pending = [n for n in numbers if sales.load_so(session, n).status != "shipped"]
        if not pending:
            break
        child = context.Process(target=_ship_all, args=(store_url, pending))
        child.start()
        time.sleep(rng.uniform(0.05, 0.6))
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        _assert_whole(store_url, numbers)
    _ship_all(store_url, [n for n in numbers if _status(store_url, n) != "shipped"])  # resume: the rest
    _assert_whole(store_url, numbers)
    check = Store(store_url)
    with check.read() as session:
        assert session.scalar(select(func.count()).select_from(Shipment)) == ORDERS
        assert session.scalar(select(func.count()).select_from(Posting).where(Posting.kind == "ship")) == ORDERS
        assert all(sales.load_so(session, n).status == "shipped" for n in numbers)
    check.dispose()


def _status(url: str, number: str) -> str:
    store = Store(url)
    with store.read() as session:
        status = sales.load_so(session, number).status
    store.dispose()
    return status


def _assert_whole(url: str, numbers: list[str]) -> None:
    store = Store(url)
    try:
        report = run_check(store)
        assert report.clean, report.violations
        with store.read() as session:
            for number in numbers:
                view = sales.view_so(session, sales.load_so(session, number).id)
                shipments = session.scalar(select(func.count()).select_from(Shipment).join(
                    Posting, Posting.id == Shipment.posting_id).where(Posting.idempotency_key == f"ship:{number}"))
                if view.status == "shipped":
                    assert shipments == 1 and not view.allocations
                else:
                    assert shipments == 0 and view.status == "picking"
                    assert all(a.stage == "picked" for a in view.allocations)
                    assert sum((a.qty for a in view.allocations), Decimal(0)) == sum((ln.qty_ordered for ln in view.lines), Decimal(0))
    finally:
        store.dispose()
