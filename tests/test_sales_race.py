"""Racing real processes through the CLI: 16 confirm orders on the same hot items (plain, lot,
serial) while 8 issue from the same bins.  Nothing is reserved twice, no order holds more than
it asked, no reserved unit is issued, every refusal is exit 1, and ``ims check`` stays clean.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import Balance, Product, SalesOrderLine
from ims_tui.services import sales, stock
from ims_tui.services.integrity import run_check
from tests.conftest import make_locations, make_product, open_store
from tests.sales_support import ADMIN

CONFIRMERS = 16
ISSUERS = 8
ISSUES_EACH = 4
TODAY = dt.date.today()
STOCK = {"HOT-P": 20, "HOT-L": 16, "HOT-S": 6}


def _cli(url: str, argv: list[str]) -> int:
    from ims_tui.cli.main import main

    return main(["--db", url, "--station", "racer", *argv])


def _confirm(url: str, numbers: list[str], barrier, results) -> None:
    barrier.wait()
    results.put(("confirm", [(number, _cli(url, ["so", "confirm", number])) for number in numbers]))


def _issue(url: str, worker: int, barrier, results) -> None:
    barrier.wait()
    codes = []
    for attempt in range(ISSUES_EACH):
        sku, bin_ = (("HOT-P", "HOT-1"), ("HOT-L", "HOT-2"))[(worker + attempt) % 2]
        lot = ["--lot", "SOON"] if sku == "HOT-L" else []
        codes.append((sku, _cli(url, ["stock", "issue", sku, "1", "--from", bin_, *lot, "--key", f"i{worker}-{attempt}"])))
    results.put(("issue", codes))


@pytest.mark.slow
def test_racing_confirms_and_issues_never_hold_or_take_a_unit_twice(store_url):
    store = open_store(store_url)
    make_locations(store, "HOT-1", "HOT-2", "HOT-3")
    make_product(store, "HOT-P")
    make_product(store, "HOT-L", tracking="lot")
    make_product(store, "HOT-S", tracking="serial")
    stock.receive(store, ADMIN, "HOT-P", Decimal(12), to="HOT-1")
    stock.receive(store, ADMIN, "HOT-P", Decimal(8), to="HOT-3")
    stock.receive(store, ADMIN, "HOT-L", Decimal(8), to="HOT-2", lot="SOON", expiry=TODAY + dt.timedelta(days=20))
    stock.receive(store, ADMIN, "HOT-L", Decimal(8), to="HOT-3", lot="LATER", expiry=TODAY + dt.timedelta(days=90))
    stock.receive(store, ADMIN, "HOT-S", Decimal(6), to="HOT-3", serials=tuple(f"HS{i}" for i in range(6)))
    orders: list[list[str]] = []
    asked: dict[str, dict[str, int]] = {}
    for worker in range(CONFIRMERS):
        sales.add_customer(store, ADMIN, f"Racer {worker}")
        lines = {"HOT-P": 1 + worker % 3, "HOT-L": 1 + worker % 2, "HOT-S": 1 if worker % 3 else 0}
        mine = []
        for sku, qty in lines.items():
            if qty:
                view = sales.create_so(store, ADMIN, f"Racer {worker}", [sales.SOLineInput(sku, Decimal(qty))])
                mine.append(view.number)
                asked[view.number] = {sku: qty}
        orders.append(mine)
    shared = sales.create_so(store, ADMIN, "Racer 0", [sales.SOLineInput("HOT-P", Decimal(1))]).number
    asked[shared] = {"HOT-P": 1}
    for mine in orders:
        mine.append(shared)  # all sixteen confirm this one: one wins, fifteen are refused
    store.dispose()

    barrier = multiprocessing.Barrier(CONFIRMERS + ISSUERS)
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_confirm, args=(store_url, mine, barrier, results)) for mine in orders]
    processes += [multiprocessing.Process(target=_issue, args=(store_url, worker, barrier, results)) for worker in range(ISSUERS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0

    confirms = [item for kind, items in outcomes if kind == "confirm" for item in items]
    issues = [item for kind, items in outcomes if kind == "issue" for item in items]
    assert {code for _, code in confirms} <= {0, 1} and {code for _, code in issues} <= {0, 1}
    assert sorted(code for number, code in confirms if number == shared) == [0] + [1] * (CONFIRMERS - 1)
    assert all(code == 0 for number, code in confirms if number != shared)

    store = open_store(store_url)
    try:
        report = run_check(store)
        assert report.clean, report.violations
        with store.read() as session:
            for sku, initial in STOCK.items():
                product_id = session.scalar(select(Product.id).where(Product.sku == sku))
                on_hand, reserved = session.execute(
                    select(func.sum(Balance.on_hand), func.sum(Balance.reserved)).where(Balance.product_id == product_id)
                ).one()
                issued = sum(1 for s, code in issues if s == sku and code == 0)
                assert on_hand == initial - issued  # every accepted issue took one unit, no more
                assert reserved <= on_hand
                demand = sum(q.get(sku, 0) for q in asked.values())
                waiting = session.scalar(select(func.sum(SalesOrderLine.qty_waiting)).where(SalesOrderLine.product_id == product_id)) or 0
                # nothing waits while free stock is left, and nothing is held beyond what was asked
                assert reserved == min(demand, on_hand) or (waiting and reserved == on_hand)
                assert reserved + waiting == demand
            for number, wanted in asked.items():
                view = sales.view_so(session, sales.load_so(session, number).id)
                for line in view.lines:
                    assert line.qty_reserved + line.qty_waiting == wanted[line.sku]
    finally:
        store.dispose()
