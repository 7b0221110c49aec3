"""A return to the supplier takes back the cost the goods came in at, not the FIFO layer."""

from __future__ import annotations

from decimal import Decimal

from ims_tui.services import catalogue, stock
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from ims_tui.services.purchasing import LineInput, create_po, order_po
from ims_tui.services.receiving import receive_po, return_to_supplier
from tests.conftest import make_locations, make_product

D = Decimal


def test_return_against_a_po_reverses_that_receipts_cost(store, admin):
    make_product(store, "BOLT")
    make_locations(store, "BIN-1")
    with store.write() as session:
        catalogue.save_supplier(session, admin, "Nordic Fasteners", {"code": "NORD"})
    # older stock at 2.00 sits in the first (FIFO) layer
    stock.receive(store, admin, "BOLT", D(10), to="BIN-1", cost=D("2.00"))
    po = create_po(store, admin, "Nordic Fasteners", [LineInput("BOLT", D(10), D("5.00"))])
    order_po(store, admin, po.number)
    receive_po(store, admin, po.number, "BOLT", D(10), to="BIN-1")

    result = return_to_supplier(store, admin, "BOLT", D(4), source="BIN-1", reason="damaged in transit", po=po.number)

    assert result.unit_cost == D("5.0000")
    assert result.po.status == "partial"
    assert product_detail(store, admin, "BOLT").on_hand == D(16)
    # what stays is 10 at 2.00 and 6 at 5.00: the next FIFO issue still costs 2.00
    stock.issue(store, admin, "BOLT", D(10), source="BIN-1", key="after-return")
    assert run_check(store).clean


def test_a_return_without_a_po_takes_the_valuation_order(store, admin):
    make_product(store, "NUT")
    make_locations(store, "BIN-1")
    stock.receive(store, admin, "NUT", D(5), to="BIN-1", cost=D("1.00"))
    stock.receive(store, admin, "NUT", D(5), to="BIN-1", cost=D("3.00"))
    result = return_to_supplier(store, admin, "NUT", D(2), source="BIN-1", reason="wrong item")
    assert result.unit_cost == D("1.0000")
