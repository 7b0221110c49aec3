"""Every report against figures computed by hand on the small fixed store (tests/reports_store.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ims_tui.db.models import AuditEntry
from ims_tui.services import reports, settings
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, PermissionDenied
from ims_tui.services.reports import ReportParams
from ims_tui.services.reports.core import chart_series
from tests import reports_store
from tests.reports_store import ADMIN, PERIOD, TODAY

START, END = PERIOD


@pytest.fixture
def fixed(store):
    reports_store.build(store)
    return store


def rows(store, name, **params):
    page = reports.page(store, ADMIN, name, ReportParams(today=TODAY, **params), limit=1000)
    names = [column for column, _ in page.columns]
    return [dict(zip(names, row, strict=True)) for row in page.rows]


def by_key(result, key):
    return {row[key]: row for row in result}


def money(text):
    return Decimal(text)


def test_valuation_by_product_as_of_the_period_end(fixed):
    result = by_key(rows(fixed, "valuation", as_of=END), "product")
    # book: the ledger under the method in force at each posting; FIFO/LIFO/average over the same layers
    assert {sku: (r["qty"], r["book_value"], r["fifo_value"], r["lifo_value"], r["average_value"])
            for sku, r in result.items()} == {
        "FIFO-1": (9, money("120.00"), money("120.00"), money("90.00"), money("108.53")),
        "LIFO-1": (9, money("110.00"), money("120.00"), money("90.00"), money("108.53")),
        "AVG-1": (9, money("117.00"), money("120.00"), money("90.00"), money("108.53")),
        "OUT-1": (5, money("15.00"), money("15.00"), money("15.00"), money("15.00")),
        "LOT-1": (2, money("10.00"), money("10.00"), money("10.00"), money("10.00")),
    }


def test_valuation_as_of_a_past_day_and_today(fixed):
    day3 = by_key(rows(fixed, "valuation", as_of=dt.date(2026, 1, 7)), "product")["FIFO-1"]
    assert (day3["qty"], day3["book_value"], day3["fifo_value"], day3["lifo_value"], day3["average_value"]) == (
        4, money("48.00"), money("48.00"), money("40.00"), money("44.00"))
    now = by_key(rows(fixed, "valuation"), "product")["FIFO-1"]  # the receipt of 5 @ 20 after the period
    assert (now["qty"], now["book_value"], now["fifo_value"], now["lifo_value"], now["average_value"]) == (
        14, money("220.00"), money("220.00"), money("148.00"), money("183.08"))


def test_valuation_by_warehouse_and_category_and_filters(fixed):
    by_wh = by_key(rows(fixed, "valuation", as_of=END, by="warehouse"), "warehouse")
    assert (by_wh["WH1"]["qty"], by_wh["WH1"]["book_value"], by_wh["WH1"]["fifo_value"], by_wh["WH1"]["lifo_value"]) == (
        32, money("362.00"), money("375.00"), money("285.00"))
    assert (by_wh["WH2"]["qty"], by_wh["WH2"]["book_value"]) == (2, money("10.00"))
    by_cat = by_key(rows(fixed, "valuation", as_of=END, by="category"), "category")
    assert (by_cat["Tools"]["book_value"], by_cat["Parts"]["book_value"], by_cat["Parts"]["average_value"]) == (
        money("230.00"), money("132.00"), money("123.53"))
    only = rows(fixed, "valuation", as_of=END, warehouse="WH2")
    assert [(r["product"], r["qty"]) for r in only] == [("LOT-1", 2)]
    assert {r["product"] for r in rows(fixed, "valuation", as_of=END, category="Tools")} == {"FIFO-1", "LIFO-1"}
    total = reports.totals(fixed, ADMIN, "valuation", ReportParams(as_of=END, by="warehouse"))
    assert (total["qty"], total["book_value"]) == (34, money("372.00"))


def test_cogs_for_the_period(fixed):
    result = by_key(rows(fixed, "cogs", date_from=START, date_to=END), "product")
    assert {sku: (r["shipped_qty"], r["shipped_cost"], r["returned_cost"], r["cogs"], r["written_off"])
            for sku, r in result.items()} == {
        "FIFO-1": (24, money("278.00"), money("22.00"), money("256.00"), money("12.00")),
        "LIFO-1": (24, money("289.00"), money("22.00"), money("267.00"), money("11.00")),
        "AVG-1": (24, money("280.00"), money("22.00"), money("258.00"), money("13.00")),
        "OUT-1": (5, money("15.00"), money("0.00"), money("15.00"), money("0.00")),
        "LOT-1": (28, money("140.00"), money("0.00"), money("140.00"), money("0.00")),
    }
    by_wh = by_key(rows(fixed, "cogs", date_from=START, date_to=END, by="warehouse"), "warehouse")
    assert by_wh["WH2"]["cogs"] == money("40.00")  # 4 + 4 units of the lot shipped from C1 at 5.00
    assert by_wh["WH1"]["cogs"] == money("896.00")


def test_turnover_and_days_on_hand(fixed):
    result = by_key(rows(fixed, "turnover", date_from=START, date_to=END), "product")
    fifo = result["FIFO-1"]
    assert (fifo["opening_value"], fifo["closing_value"], fifo["average_value"], fifo["cogs"]) == (
        money("0.00"), money("120.00"), money("60.00"), money("256.00"))
    assert (fifo["turnover"], fifo["days_on_hand"]) == (money("4.27"), money("1.64"))
    assert (result["LOT-1"]["turnover"], result["LOT-1"]["days_on_hand"]) == (money("28.00"), money("0.25"))
    trend = chart_series(fixed, ADMIN, "turnover", ReportParams(date_from=START, date_to=END, today=TODAY))
    # one month: COGS 936 x 12 / average of 0 and 372 (the book value at the end)
    assert trend == [("2026-01", money("60.39"))]


def test_abc_xyz_with_boundaries_from_the_settings(fixed):
    result = rows(fixed, "abc", date_from=START, date_to=END)
    assert [(r["sku"], r["consumption_value"], r["cumulative_pct"], r["abc"], r["xyz"]) for r in result] == [
        ("LIFO-1", money("289.00"), money("28.84"), "A", "X"),
        ("AVG-1", money("280.00"), money("56.79"), "A", "X"),
        ("FIFO-1", money("278.00"), money("84.53"), "A", "X"),
        ("LOT-1", money("140.00"), money("98.50"), "B", "X"),
        ("OUT-1", money("15.00"), money("100.00"), "C", "X"),
    ]
    two_weeks = rows(fixed, "abc", date_from=START, date_to=END + dt.timedelta(days=7))
    assert {r["demand_cv"] for r in two_weeks} == {money("1.00")} and {r["xyz"] for r in two_weeks} == {"Y"}
    settings.change(fixed, ADMIN, {"abc_a": "50", "xyz_y": "0.9"})
    again = by_key(rows(fixed, "abc", date_from=START, date_to=END + dt.timedelta(days=7)), "sku")
    assert (again["AVG-1"]["abc"], again["FIFO-1"]["abc"], again["FIFO-1"]["xyz"]) == ("A", "B", "Z")
    pareto = chart_series(fixed, ADMIN, "abc", ReportParams(date_from=START, date_to=END))
    assert pareto[-1] == ("100%", money("100.00")) and pareto[0] == ("20%", money("28.84"))


def test_aging_buckets_from_layer_receipt_dates(fixed):
    params = ReportParams(today=dt.date(2026, 2, 8))
    total = reports.totals(fixed, ADMIN, "aging", params)
    assert (total["d0_30"], total["d31_60"], total["value"]) == (money("159.00"), money("316.00"), money("475.00"))
    lifo = by_key([dict(zip([c for c, _ in page.columns], row, strict=True)) for page in
                   [reports.page(fixed, ADMIN, "aging", params)] for row in page.rows], "sku")["LIFO-1"]
    assert (lifo["d31_60"], lifo["d0_30"], lifo["oldest_days"]) == (money("110.00"), money("0.00"), 34)
    series = chart_series(fixed, ADMIN, "aging", params)
    assert series[:2] == [("0-30", money("159.00")), ("31-60", money("316.00"))]


def test_expiring_and_expired_lots(fixed):
    result = rows(fixed, "expiring", days=30)
    assert [(r["sku"], r["lot"], r["days_left"], r["status"], r["warehouse"], r["location"], r["qty"], r["value"])
            for r in result] == [("LOT-1", "L-A", 19, "expiring", "WH2", "C1", 2, money("10.00"))]
    assert rows(fixed, "expiring", days=10) == []
    late = rows(fixed, "expiring", as_of=dt.date(2026, 2, 21), days=0)
    assert [(r["status"], r["days_left"]) for r in late] == [("expired", -1)]


def test_stock_on_hand(fixed):
    result = rows(fixed, "stock")
    assert [(r["sku"], r["location"], r["lot"], r["on_hand"], r["available"]) for r in result] == [
        ("AVG-1", "B1", "", 9, 9), ("FIFO-1", "B1", "", 9, 9), ("FIFO-1", "B2", "", 5, 5),
        ("LIFO-1", "B1", "", 9, 9), ("LOT-1", "C1", "L-A", 2, 2), ("OUT-1", "B2", "", 5, 5),
    ]
    assert by_key(result, "sku")["LOT-1"]["value"] == money("10.00")
    assert [r["sku"] for r in rows(fixed, "stock", warehouse="WH2")] == ["LOT-1"]


def test_lot_trace_recall_forward_and_backward(fixed):
    forward = rows(fixed, "trace", lot="L-A")
    assert [(r["step"], r["qty"], r["from_location"], r["to_location"], r["supplier"], r["customer"]) for r in forward] == [
        ("received", 30, "SUPPLIER", "B1", "Soup Supplier Ltd", ""),
        ("moved", 10, "B1", "C1", "", ""),
        ("shipped", 5, "B1", "CUSTOMER", "", "Alpha Cafe"),
        ("shipped", 4, "C1", "CUSTOMER", "", "Beta Bistro"),
        ("shipped", 15, "B1", "CUSTOMER", "", "Gamma Deli"),
        ("shipped", 4, "C1", "CUSTOMER", "", ""),  # a walk-in sale: no order named, no customer
        ("on hand", 2, "", "C1", "", ""),
    ]
    backward = rows(fixed, "trace", so="SO-000002")
    assert [(r["step"], r["lot"], r["qty"], r["reference"], r["supplier"], r["customer"]) for r in backward] == [
        ("received", "L-A", 30, "PO-000001/1", "Soup Supplier Ltd", ""),
        ("shipped", "L-A", 4, "SO-000002", "", "Beta Bistro"),
    ]
    with pytest.raises(BadInput, match="no lot"):
        rows(fixed, "trace", lot="NOPE")
    with pytest.raises(BadInput, match="one of --lot"):
        rows(fixed, "trace")


def test_product_performance(fixed):
    result = by_key(rows(fixed, "performance", date_from=START, date_to=END), "sku")
    fifo = result["FIFO-1"]
    assert (fifo["shipped_qty"], fifo["cogs"], fifo["revenue"], fifo["margin"], fifo["margin_pct"],
            fifo["received_qty"], fifo["sell_through_pct"], fifo["stockout_days"]) == (
        22, money("256.00"), money("440.00"), money("184.00"), money("41.82"), 32, money("68.75"), 0)
    out = result["OUT-1"]
    assert (out["margin"], out["sell_through_pct"], out["stockout_days"]) == (money("5.00"), money("50.00"), 2)


def test_supplier_performance(fixed):
    result = rows(fixed, "suppliers", date_from=dt.date(2026, 1, 1), date_to=END)
    assert [(r["code"], r["orders"], r["ordered_qty"], r["received_qty"], r["fill_rate_pct"], r["promised_days"],
             r["actual_days"], r["late_lines"]) for r in result] == [
        ("SOUP", 1, 40, 30, money("75.00"), money("3.00"), money("4.00"), 1)]


def test_movement_history_filters(fixed):
    params = ReportParams(date_from=START, date_to=END)
    assert reports.count(fixed, ADMIN, "moves", params) == 30
    lot = rows(fixed, "moves", date_from=START, date_to=END, product="LOT-1", warehouse="WH2")
    assert [(r["from_location"], r["to_location"], r["qty"]) for r in lot] == [("B1", "C1", 10), ("C1", "CUSTOMER", 4), ("C1", "CUSTOMER", 4)]


def test_refusals_are_clear_and_checked_in_the_service(fixed):
    with pytest.raises(BadInput, match="does not take --warehouse"):
        rows(fixed, "turnover", warehouse="WH1")
    with pytest.raises(BadInput, match="unknown warehouse"):
        rows(fixed, "stock", warehouse="WH9")
    with pytest.raises(BadInput, match="starts"):
        rows(fixed, "cogs", date_from=END, date_to=START)
    with pytest.raises(PermissionDenied):
        reports.page(fixed, Actor("rita", "receiver", "t"), "valuation", ReportParams())
    assert reports.page(fixed, Actor("avery", "auditor", "t"), "valuation", ReportParams()).rows


def test_valuation_method_is_an_audited_admin_setting(fixed):
    with pytest.raises(PermissionDenied):
        settings.set_valuation_method(fixed, Actor("morgan", "manager", "t"), "lifo")
    with pytest.raises(BadInput, match="fifo, lifo or average"):
        settings.set_valuation_method(fixed, ADMIN, "hifo")
    assert settings.set_valuation_method(fixed, ADMIN, "lifo") == ("fifo", "lifo")
    assert settings.set_valuation_method(fixed, ADMIN, "lifo") is None
    with fixed.read() as session:
        changes = [e.summary for e in session.query(AuditEntry).filter(AuditEntry.action == "settings.change")]
    assert changes[-1] == "valuation_method: fifo -> lifo"
    assert settings.show(fixed, ADMIN)["valuation_method"] == "lifo"


def test_textbook_costs_of_each_method_and_the_ledger_stays_clean(fixed):
    """Per method, the unit cost of each movement out of stock (ship 16, count loss 1, ship 8)."""
    from ims_tui.services.integrity import run_check

    outgoing = {}
    for sku in ("FIFO-1", "LIFO-1", "AVG-1"):
        moves = rows(fixed, "moves", date_from=START, date_to=END, product=sku)
        outgoing[sku] = [r["unit_cost"] for r in moves if r["from_location"] == "B1"]
    assert outgoing == {
        "FIFO-1": [money("10.75"), money("12"), money("13.25")],     # 10@10 + 6@12; 1@12; 3@12 + 5@14
        "LIFO-1": [money("11.25"), money("11"), money("13.625")],    # 10@12 + 6@10; 1@11 (the return); 1@11 + 7@14
        "AVG-1": [money("11"), money("13"), money("13")],            # average 11; (4x11 + 12x14 + 2x11) / 18 = 13
    }
    quantities = {r["product"]: r["qty"] for r in rows(fixed, "valuation", as_of=END)}
    assert quantities["FIFO-1"] == quantities["LIFO-1"] == quantities["AVG-1"] == 9
    assert run_check(fixed).clean


def test_average_method_return_to_supplier_leaves_at_its_receipt_cost(store):
    """10 @ 10 and 10 @ 20 (average 15); 5 of the second receipt go back at 20, leaving
    15 units worth 200 (average 13.3333); the next unit out costs 13.3333."""
    from ims_tui.services import catalogue, ledger
    from ims_tui.services.ledger import StockMove

    with store.write() as session:
        catalogue.save_location(session, ADMIN, "B1", warehouse="WH1")
        catalogue.save_product(session, ADMIN, "AVG-R", {"name": "Average with a return"}, create=True)
    settings.set_valuation_method(store, ADMIN, "average")
    ledger.post_moves(store, ADMIN, "receive", [StockMove("AVG-R", Decimal(10), "SUPPLIER", "B1", unit_cost=Decimal(10))])
    second = ledger.post_moves(store, ADMIN, "receive",
                               [StockMove("AVG-R", Decimal(10), "SUPPLIER", "B1", unit_cost=Decimal(20))])
    ledger.post_moves(store, ADMIN, "return", [StockMove("AVG-R", Decimal(5), "B1", "SUPPLIER",
                                                         cost_layers_of=second.movement_ids)])
    ledger.post_moves(store, ADMIN, "issue", [StockMove("AVG-R", Decimal(1), "B1", "CUSTOMER")])
    moves = reports.page(store, ADMIN, "moves", ReportParams(product="AVG-R")).rows
    assert [row[9] for row in moves] == [money("10"), money("20"), money("20"), money("13.3333")]
    valued = {row[0]: row for row in reports.page(store, ADMIN, "valuation", ReportParams()).rows}["AVG-R"]
    assert (valued[3], valued[4]) == (14, money("186.67"))  # 200 - 13.3333
