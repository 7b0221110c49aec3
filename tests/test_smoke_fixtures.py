from decimal import Decimal

from ims_tui.services import stock
from ims_tui.services.integrity import run_check
from tests.conftest import make_locations, make_product


def test_receive_then_issue_keeps_the_ledger_consistent(store, admin):
    make_product(store, "A1")
    make_locations(store, "BIN-1")
    stock.receive(store, admin, "A1", Decimal(5), to="BIN-1")
    stock.issue(store, admin, "A1", Decimal(2), source="BIN-1")
    report = run_check(store)
    assert report.clean, report.violations
    assert report.movements == 2
