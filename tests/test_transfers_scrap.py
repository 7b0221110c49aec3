"""Inter-warehouse transfers through transit, bin-to-bin moves, scrap with approval, the expired sweep."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ims_tui.services import catalogue, scrap, stock, stock_transfers
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, PermissionDenied, RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from ims_tui.services.purchasing import LineInput
from ims_tui.services.stock_settings import change_settings
from tests.conftest import make_product

MANAGER = Actor("mgr", "manager", "office")
PICKER = Actor("pia", "picker", "rf-1")
D = Decimal


def where(store, sku):
    detail = product_detail(store, MANAGER, sku)
    return sorted((row.location, row.lot, row.on_hand) for row in detail.stock if row.on_hand)


@pytest.fixture
def two_sites(store, admin):
    with store.write() as session:
        for code, warehouse in (("N-01", "WH1"), ("N-02", "WH1"), ("S-01", "WH2"), ("S-02", "WH2")):
            catalogue.save_location(session, admin, code, warehouse=warehouse)
    make_product(store, "BOLT", cost="0.50", barcodes=(("05012345678900", 1), ("15012345678907", 12)))
    make_product(store, "MILK", tracking="lot", cost="1.00")
    stock.receive(store, admin, "BOLT", D(100), to="N-01")
    stock.receive(store, admin, "MILK", D(5), to="N-01", lot="L-LATE", expiry=dt.date(2031, 1, 1))
    stock.receive(store, admin, "MILK", D(5), to="N-02", lot="L-SOON", expiry=dt.date(2030, 1, 1))
    return store


def test_inter_warehouse_transfer_in_transit_then_a_short_receipt_reported(two_sites, admin):
    store = two_sites
    made = stock_transfers.create_transfer(store, PICKER, "WH1", "WH2", [LineInput("BOLT", D(48)), LineInput("MILK", D(7))])
    shipped = stock_transfers.ship(store, PICKER, made.number, ["N-01", "N-02"])
    assert shipped.status == "shipped" and shipped.in_transit == 55
    # in transit: out of WH1's bins, in neither warehouse's bins, still stock
    assert where(store, "BOLT") == [("N-01", None, 52), ("TRANSIT-WH2", None, 48)]
    assert where(store, "MILK") == [("N-01", "L-LATE", 3), ("TRANSIT-WH2", "L-LATE", 2), ("TRANSIT-WH2", "L-SOON", 5)]
    stock_transfers.receive(store, PICKER, made.number, "15012345678907", D(3), to="S-01")   # 3 cases of 12
    view = stock_transfers.receive(store, PICKER, made.number, "MILK", D(7), to="S-02")
    assert view.status == "partial"
    with pytest.raises(RuleViolation, match="only 12 BOLT still in transit"):
        stock_transfers.receive(store, PICKER, made.number, "15012345678907", D(2), to="S-01")
    with pytest.raises(RuleViolation, match="not a bin of the receiving warehouse"):
        stock_transfers.receive(store, PICKER, made.number, "BOLT", D(1), to="N-02")
    view = stock_transfers.get_transfer(store, MANAGER, made.number)
    assert view.differences() == ["line 1 BOLT: received 36 of 48 shipped, 12 in transit"]
    assert where(store, "BOLT") == [("N-01", None, 52), ("S-01", None, 36), ("TRANSIT-WH2", None, 12)]
    assert run_check(store).clean
    with pytest.raises(PermissionDenied):
        stock_transfers.close(store, PICKER, made.number)
    closed = stock_transfers.close(store, MANAGER, made.number)
    assert closed.differences() == ["line 1 BOLT: received 36 of 48 shipped, 12 written off"]
    assert where(store, "BOLT") == [("N-01", None, 52), ("S-01", None, 36)]
    assert run_check(store).clean


def test_shipping_more_than_the_bins_hold_ships_nothing(two_sites):
    store = two_sites
    made = stock_transfers.create_transfer(store, PICKER, "WH1", "WH2", [LineInput("BOLT", D(10)), LineInput("MILK", D(50))])
    with pytest.raises(RuleViolation, match="MILK: 10 available in N-01, N-02, need 50"):
        stock_transfers.ship(store, PICKER, made.number, ["N-01", "N-02"])
    assert where(store, "BOLT") == [("N-01", None, 100)]


def test_bin_to_bin_moves_every_scanned_item_in_one_posting(two_sites):
    store = two_sites
    result = stock_transfers.move_bin_to_bin(store, PICKER, "N-01", "N-02", [
        stock_transfers.BinItem("15012345678907", D(2)), stock_transfers.BinItem("MILK", D(1), lot="L-LATE")])
    assert not result.already_posted and len(result.movement_ids) == 2
    assert where(store, "BOLT") == [("N-01", None, 76), ("N-02", None, 24)]


def test_scrap_needs_a_manager_above_the_value_setting(two_sites):
    store = two_sites
    change_settings(store, MANAGER, {"scrap.approval_value": "10"})
    small = scrap.scrap(store, PICKER, "BOLT", D(4), source="N-01", reason="damaged")
    assert (small.value, small.reason) == (D("2.00"), "damaged")
    with pytest.raises(RuleViolation, match="scrap worth 25.00 is above 10.00: a manager must approve it"):
        scrap.scrap(store, PICKER, "BOLT", D(50), source="N-01", reason="lost")
    assert where(store, "BOLT") == [("N-01", None, 96)]
    with pytest.raises(BadInput, match="reason must be one of damaged, expired, lost, sample"):
        scrap.scrap(store, PICKER, "BOLT", D(1), source="N-01", reason="broken")
    big = scrap.scrap(store, PICKER, "BOLT", D(50), source="N-01", reason="lost", approved_by="mgr")
    assert big.value == D("25.00") and where(store, "BOLT") == [("N-01", None, 46)]
    assert run_check(store).clean


def test_expired_sweep_lists_every_expired_lot_and_scraps_the_chosen_in_one_step(two_sites, admin):
    store = two_sites
    stock.move(store, admin, "MILK", D(2), source="N-02", to="N-01", lot="L-SOON")
    sweep = scrap.expired_lots(store, MANAGER, as_of=dt.date(2030, 6, 1))
    assert [row.choice for row in sweep] == ["MILK:L-SOON@N-01", "MILK:L-SOON@N-02"]
    with pytest.raises(PermissionDenied):
        scrap.scrap_expired(store, PICKER, [("MILK", "L-SOON", "N-01")], as_of=dt.date(2030, 6, 1))
    with pytest.raises(RuleViolation, match="MILK:L-LATE@N-01: not an expired lot"):
        scrap.scrap_expired(store, MANAGER, [("MILK", "L-SOON", "N-01"), ("MILK", "L-LATE", "N-01")], as_of=dt.date(2030, 6, 1))
    result = scrap.scrap_expired(store, MANAGER, [("MILK", "L-SOON", "N-01"), ("MILK", "L-SOON", "N-02")], as_of=dt.date(2030, 6, 1))
    assert (result.qty, result.value, result.approved_by) == (5, D("5.00"), "mgr")
    assert where(store, "MILK") == [("N-01", "L-LATE", 5)]
    assert run_check(store).clean


def test_goods_in_transit_are_not_in_a_product_count(two_sites):
    from ims_tui.services import counts

    made = stock_transfers.create_transfer(store := two_sites, PICKER, "WH1", "WH2", [LineInput("BOLT", D(10))])
    stock_transfers.ship(store, PICKER, made.number, ["N-01"])
    task = counts.create_count(store, MANAGER, products=["BOLT"])
    assert [b.location for b in task.bins] == ["N-01"]
