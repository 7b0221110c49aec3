"""Reorder settings, alerts kept with every change, suggested quantities worked out by hand,
and draft POs created once - on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import AuditEntry, PurchaseOrder, ReorderSetting
from ims_tui.services import catalogue, inventory, purchasing, replenishment, sales, stock
from ims_tui.services.errors import BadInput, NotFound, PermissionDenied, RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.purchasing import LineInput
from ims_tui.services.replenishment import order_quantity
from ims_tui.services.sales import SOLineInput
from tests.replenish_support import SETUP, make_item, make_store

TODAY = dt.date.today()


def alert(store, sku):
    return next((row for row in replenishment.list_alerts(store, SETUP) if row.sku == sku), None)


def po_count(store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(PurchaseOrder))


# --- the arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("projected", "point", "reorder_qty", "maximum", "moq", "pack", "expected", "why"),
    [
        (8, 10, 5, 0, 1, 1, 5, "the reorder quantity"),
        (8, 10, 5, 0, 12, 1, 12, "at least the MOQ"),
        (4, 10, 7, 0, 1, 6, 12, "7 rounded up to the pack of 6"),
        (15, 20, 10, 50, 1, 1, 35, "up to the maximum"),
        (-8, 10, 0, 30, 1, 1, 38, "the maximum over a backorder"),
        (-8, 10, 5, 0, 1, 1, 18, "never less than lifts it back to the point"),
        (3, 10, 0, 0, 5, 4, 8, "point - projected = 7, MOQ 5, pack 4 -> 8"),
    ],
)
def test_order_quantity(projected, point, reorder_qty, maximum, moq, pack, expected, why):
    qty = order_quantity(Decimal(projected), Decimal(point), Decimal(reorder_qty), Decimal(maximum), Decimal(moq), Decimal(pack))
    assert qty == Decimal(expected), why


def test_order_by_is_the_run_out_date_less_the_lead_time():
    run_out, order_by = replenishment.order_by_date(Decimal(30), Decimal(2), 5, TODAY)
    assert run_out == TODAY + dt.timedelta(days=15)
    assert order_by == TODAY + dt.timedelta(days=10)
    assert replenishment.order_by_date(Decimal(30), Decimal(0), 5, TODAY) == (None, TODAY)


# --- hand-computed cases on a real store -------------------------------------------------------


@pytest.fixture
def cases(store):
    """Four products below their points, one at its point, from two suppliers:

    P-MOQ   Acme, MOQ 12           point 10, order 5          on hand 8            -> 12
    P-PACK  Acme, pack 6           point 10, order 7          on hand 4            -> 12
    P-PO    Bolt, lead 10          point 20, order 10, max 50 on hand 5, PO 10 due in 3 days,
                                                              PO 30 due in 20 days -> projected 15 -> 35
    P-RES   Bolt                   point 10, max 30           on hand 20, an order for 28:
                                                              20 reserved, 8 backordered -> projected -8 -> 38
    P-OK    Acme                   point 10, order 5          on hand 10 (at its point, not below)
    """
    make_store(store)
    make_item(store, "P-MOQ", "Acme", reorder_point=10, reorder_qty=5, moq=12)
    make_item(store, "P-PACK", "Acme", reorder_point=10, reorder_qty=7, pack=6)
    make_item(store, "P-PO", "Bolt", reorder_point=20, reorder_qty=10, max_qty=50, lead=10)
    make_item(store, "P-RES", "Bolt", reorder_point=10, max_qty=30)
    make_item(store, "P-OK", "Acme", reorder_point=10, reorder_qty=5)
    for sku, qty in (("P-MOQ", 8), ("P-PACK", 4), ("P-PO", 5), ("P-RES", 20), ("P-OK", 10)):
        stock.receive(store, SETUP, sku, Decimal(qty), to="A-01")
    purchasing.create_po(store, SETUP, "Bolt", [LineInput("P-PO", Decimal(10), expected_date=TODAY + dt.timedelta(days=3))])
    purchasing.create_po(store, SETUP, "Bolt", [LineInput("P-PO", Decimal(30), expected_date=TODAY + dt.timedelta(days=20))])
    sales.add_customer(store, SETUP, "Corner Shop")
    order = sales.create_so(store, SETUP, "Corner Shop", [SOLineInput("P-RES", Decimal(28))])
    sales.confirm_so(store, SETUP, order.number)
    return store


def test_alerts_show_the_figures_projected_stock_is_made_of(cases):
    store = cases
    assert replenishment.count_open_alerts(store, SETUP) == 4
    assert alert(store, "P-OK") is None, "at its point is not below it"
    moq = alert(store, "P-MOQ")
    assert (moq.on_hand, moq.projected, moq.reorder_point, moq.suggested_qty, moq.supplier) == (8, 8, 10, 12, "Acme")
    po = alert(store, "P-PO")
    assert (po.on_hand, po.incoming, po.on_order, po.projected, po.suggested_qty) == (5, 10, 40, 15, 35)
    res = alert(store, "P-RES")
    assert (res.on_hand, res.reserved, res.backordered, res.projected, res.suggested_qty) == (20, 20, 8, -8, 38)
    assert res.order_by == TODAY, "no demand yet: order today"
    assert run_check(store).clean


def test_suggestions_are_grouped_by_supplier(cases):
    groups = replenishment.suggest(cases, SETUP)
    assert [(g.supplier, [(ln.sku, ln.qty) for ln in g.lines]) for g in groups] == [
        ("Acme", [("P-MOQ", 12), ("P-PACK", 12)]),
        ("Bolt", [("P-PO", 35), ("P-RES", 38)]),
    ]
    pack = groups[0].lines[1]
    assert (pack.pack_qty, pack.min_order_qty, pack.lead_time_days, pack.reorder_qty) == (6, 1, 5, 7)
    po = groups[1].lines[0]
    assert (po.lead_time_days, po.max_qty, po.on_order, po.projected) == (10, 50, 40, 15)
    assert groups[0].value == Decimal("60")  # 24 units at 2.50


def test_order_creates_one_draft_per_supplier_and_running_it_again_creates_nothing(cases):
    store = cases
    before = po_count(store)
    created = replenishment.create_orders(store, SETUP)
    assert [(order.supplier, order.lines) for order in created] == [
        ("Acme", (("P-MOQ", Decimal(12)), ("P-PACK", Decimal(12)))),
        ("Bolt", (("P-PO", Decimal(35)), ("P-RES", Decimal(38)))),
    ]
    assert po_count(store) == before + 2
    acme = purchasing.get_po(store, SETUP, created[0].number)
    assert acme.status == "draft" and acme.supplier == "Acme"
    assert [line.expected_date for line in acme.lines] == [TODAY + dt.timedelta(days=5)] * 2, "due within the lead time"
    assert replenishment.count_open_alerts(store, SETUP) == 0, "the drafts lift every alert"
    assert replenishment.create_orders(store, SETUP) == []
    assert replenishment.create_orders(store, SETUP, only_alerts=False) == []
    assert po_count(store) == before + 2
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "replenish.order")) == 1
    assert run_check(store).clean


def test_a_changed_quantity_is_ordered_and_a_zero_leaves_the_product_for_later(cases):
    store = cases
    created = replenishment.create_orders(store, SETUP, {"P-MOQ": "24", "P-PACK": "0", "P-PO": "35", "P-RES": "38"})
    assert [(order.supplier, order.lines) for order in created] == [
        ("Acme", (("P-MOQ", Decimal(24)),)),
        ("Bolt", (("P-PO", Decimal(35)), ("P-RES", Decimal(38)))),
    ]
    assert [row.sku for row in replenishment.list_alerts(store, SETUP)] == ["P-PACK"]
    again = replenishment.create_orders(store, SETUP)
    assert [(order.supplier, order.lines) for order in again] == [("Acme", (("P-PACK", Decimal(12)),))]
    with pytest.raises(BadInput, match="nothing is suggested for P-OK"):
        replenishment.create_orders(store, SETUP, {"P-OK": "5"})
    with pytest.raises(BadInput):
        replenishment.create_orders(store, SETUP, {"P-MOQ": "-1"})


def test_a_po_line_due_beyond_the_lead_time_does_not_lift_the_alert(cases):
    store = cases
    # 10 more due in 30 days: still outside the lead time of 10 days
    purchasing.create_po(store, SETUP, "Bolt", [LineInput("P-PO", Decimal(10), expected_date=TODAY + dt.timedelta(days=30))])
    assert alert(store, "P-PO").projected == 15
    assert alert(store, "P-PO").on_order == 50
    # 5 due in 7 days lifts projected to 20: at its point
    purchasing.create_po(store, SETUP, "Bolt", [LineInput("P-PO", Decimal(5), expected_date=TODAY + dt.timedelta(days=7))])
    assert alert(store, "P-PO") is None


# --- the alert follows every change ------------------------------------------------------------


def test_alert_is_raised_and_cleared_in_the_transaction_of_each_change(store):
    make_store(store)
    make_item(store, "W-1", "Acme", reorder_point=10, reorder_qty=10)
    assert replenishment.count_open_alerts(store, SETUP) == 1, "nothing in stock is below the point"
    stock.receive(store, SETUP, "W-1", Decimal(12), to="A-01")
    assert replenishment.count_open_alerts(store, SETUP) == 0
    stock.issue(store, SETUP, "W-1", Decimal(3), source="A-01")
    first = alert(store, "W-1")
    assert first is not None and first.projected == 9
    stock.issue(store, SETUP, "W-1", Decimal(1), source="A-01")
    assert replenishment.count_open_alerts(store, SETUP) == 1
    assert alert(store, "W-1").since == first.since, "still the same alert"
    stock.move(store, SETUP, "W-1", Decimal(2), source="A-01", to="A-02")
    assert alert(store, "W-1").since == first.since, "a move inside the warehouse changes nothing"
    stock.receive(store, SETUP, "W-1", Decimal(5), to="A-01")
    assert replenishment.count_open_alerts(store, SETUP) == 0, "a receipt lifted it"
    sales.add_customer(store, SETUP, "Corner Shop")
    order = sales.create_so(store, SETUP, "Corner Shop", [SOLineInput("W-1", Decimal(6))])
    assert replenishment.count_open_alerts(store, SETUP) == 0, "a draft order reserves nothing"
    sales.confirm_so(store, SETUP, order.number)
    assert alert(store, "W-1").reserved == 6
    sales.cancel_so(store, SETUP, order.number)
    assert replenishment.count_open_alerts(store, SETUP) == 0, "cancelling released it"
    stock.issue(store, SETUP, "W-1", Decimal(4), source="A-01")
    assert alert(store, "W-1").projected == 9, "13 on hand in two bins, 4 issued"
    po = purchasing.create_po(store, SETUP, "Acme", [LineInput("W-1", Decimal(20))])
    assert replenishment.count_open_alerts(store, SETUP) == 0, "a PO due within the lead time lifts it"
    purchasing.cancel_po(store, SETUP, po.number)
    assert replenishment.count_open_alerts(store, SETUP) == 1, "cancelling the PO brings it back"
    assert run_check(store).clean


# --- settings -----------------------------------------------------------------------------------


def test_settings_are_refused_in_one_line_when_they_do_not_hang_together(store):
    make_store(store)
    make_item(store, "S-1", "Acme", reorder_point=10, reorder_qty=5)
    with pytest.raises(BadInput, match="reorder point"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", reorder_point="-1")
    with pytest.raises(BadInput, match="reorder quantity is not a number"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", reorder_qty="lots")
    with pytest.raises(RuleViolation, match=r"the maximum \(8\) of S-1 is below its reorder point \(10\)"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", max_qty=8)
    with pytest.raises(RuleViolation, match="safety stock"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", safety_stock=11)
    with pytest.raises(NotFound, match="unknown warehouse 'WH9'"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", warehouse="WH9", reorder_point=1)
    with pytest.raises(NotFound, match="unknown supplier"):
        replenishment.set_reorder_settings(store, SETUP, "S-1", supplier="Nobody")
    with pytest.raises(NotFound, match="unknown product"):
        replenishment.set_reorder_settings(store, SETUP, "NOPE", reorder_point=1)
    [view] = replenishment.get_reorder_settings(store, SETUP, "S-1")
    assert (view.reorder_point, view.reorder_qty, view.max_qty, view.safety_stock, view.supplier) == (10, 5, 0, 0, "Acme")
    picker = SETUP.__class__("pick", "picker", "test")
    with pytest.raises(PermissionDenied):
        replenishment.set_reorder_settings(store, picker, "S-1", reorder_point=1)
    with pytest.raises(PermissionDenied):
        replenishment.list_alerts(store, picker)


def test_settings_are_audited_and_the_product_keeps_its_home_warehouse_values(store):
    make_store(store)
    make_item(store, "S-2", "Acme", reorder_point=10, reorder_qty=5, moq=6, pack=3, lead=4)
    view = replenishment.set_reorder_settings(store, SETUP, "S-2", reorder_point=12, max_qty=40, safety_stock=4)
    assert (view.warehouse, view.home, view.reorder_point, view.max_qty, view.safety_stock) == ("WH1", True, 12, 40, 4)
    assert (view.lead_time_days, view.min_order_qty, view.pack_qty, view.in_alert) == (4, 6, 3, True)
    detail = inventory.product_detail(store, SETUP, "S-2")
    assert (detail.reorder_point, detail.reorder_qty) == (12, 5), "the product shows its home warehouse's settings"
    with store.read() as session:
        summary = session.scalars(select(AuditEntry.summary).where(AuditEntry.action == "replenish.settings")
                                  .order_by(AuditEntry.id.desc())).first()
    assert "reorder_point: 10 -> 12" in summary and "max_qty: 0 -> 40" in summary
    with store.write() as session:  # the product form (and the import) change the product's own figures
        catalogue.save_product(session, SETUP, "S-2", {"reorder_point": Decimal(2), "reorder_qty": Decimal(9)})
    [view] = replenishment.get_reorder_settings(store, SETUP, "S-2")
    assert (view.reorder_point, view.reorder_qty, view.safety_stock) == (2, 9, 2), "safety stock stays within the point"
    # a second warehouse has settings of its own, and its alert is not ordered from the supplier
    with store.write() as session:
        catalogue.save_location(session, SETUP, "B-01", warehouse="WH2")
    replenishment.set_reorder_settings(store, SETUP, "S-2", warehouse="WH2", reorder_point=3, reorder_qty=3)
    views = replenishment.get_reorder_settings(store, SETUP, "S-2")
    assert [(v.warehouse, v.home, v.reorder_point) for v in views] == [("WH1", True, 2), ("WH2", False, 3)]
    wh2 = next(row for row in replenishment.list_alerts(store, SETUP, warehouse="WH2"))
    assert (wh2.sku, wh2.suggested_qty) == ("S-2", 0), "another warehouse is filled by a transfer"
    assert [ln.sku for g in replenishment.suggest(store, SETUP) for ln in g.lines] == ["S-2"]
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(ReorderSetting).where(ReorderSetting.alert_since.is_not(None))) == 2


# --- import and export carry the settings --------------------------------------------------------


def test_products_import_and_export_carry_the_reorder_settings(store, tmp_path):
    from ims_tui.services.transfer import export, run_import

    make_store(store)
    make_item(store, "T-1", "Acme", reorder_point=10, reorder_qty=5)
    path = tmp_path / "products.csv"
    path.write_text("sku,name,default_location,reorder_point,reorder_qty,max_qty,safety_stock,supplier\n"
                    "T-1,Widget,A-01,20,5,60,4,\n"
                    "T-2,Gadget,A-01,8,12,,,Bolt\n")
    report = run_import(store, SETUP, "products", path)
    assert report.ok, report.problems
    [one] = replenishment.get_reorder_settings(store, SETUP, "T-1")
    assert (one.reorder_point, one.reorder_qty, one.max_qty, one.safety_stock, one.supplier) == (20, 5, 60, 4, "Acme")
    [two] = replenishment.get_reorder_settings(store, SETUP, "T-2")
    assert (two.reorder_point, two.reorder_qty, two.supplier, two.in_alert) == (8, 12, "Bolt", True)
    assert replenishment.count_open_alerts(store, SETUP) == 2, "nothing in stock: both below their points"

    out = tmp_path / "out.csv"
    export(store, SETUP, "products", out)
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, next(line for line in lines if line.startswith("T-1,")).split(","), strict=False))
    assert (row["reorder_point"], row["reorder_qty"], row["max_qty"], row["safety_stock"]) == ("20", "5", "60", "4")

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,reorder_point,max_qty,safety_stock\nT-1,Widget,20,10,\nT-2,Gadget,8,,9\n")
    report = run_import(store, SETUP, "products", bad)
    assert not report.ok
    assert [(p.row, p.column) for p in report.sorted_problems()] == [(2, "max_qty"), (3, "safety_stock")]
    [one] = replenishment.get_reorder_settings(store, SETUP, "T-1")
    assert one.max_qty == 60, "nothing was written"
