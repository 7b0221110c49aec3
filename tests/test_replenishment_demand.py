"""Reorder points from demand on a generated history with a known mean and deviation, skipping the
days the product was out of stock; applying them; the backtest - on SQLite and PostgreSQL.

Tolerance: d and sd are the sample mean and (sample) standard deviation of exactly the in-stock
days' demand, to the 0.001 the service rounds to; against the generating distribution (mean 20,
deviation 5, 80 in-stock days) they lie within three standard errors (1.7 for the mean, 1.2 for
the deviation).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from decimal import Decimal

import pytest
from sqlalchemy import select

from ims_tui.db.models import AuditEntry
from ims_tui.services import ledger, replenishment
from ims_tui.services.actor import Actor
from ims_tui.services.errors import PermissionDenied
from ims_tui.values import ADJUSTMENT, CUSTOMER, SUPPLIER
from tests.replenish_support import SETUP, make_item, make_store

WINDOW = 90
MEAN, DEVIATION = 20, 5
OUT_OF_STOCK = range(40, 50)  # window days that end with nothing on hand
LEAD = 4
Z_95 = statistics.NormalDist().inv_cdf(0.95)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Day ``day`` of the window (0 = 89 days ago, 89 = today), UTC."""
    date = dt.date.today() - dt.timedelta(days=WINDOW - 1 - day)
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=dt.timezone.utc)


@pytest.fixture
def history(store):
    """D-1 shipped a Gaussian daily demand for 90 days, except ten days it had run out."""
    make_store(store)
    make_item(store, "D-1", "Acme", reorder_point=10, reorder_qty=50, lead=LEAD)
    rng = random.Random(13)
    shipped: list[Decimal] = []
    with store.write() as session:
        def post(kind, source, to, qty, when):  # type: ignore[no-untyped-def]
            ledger.post(session, SETUP, kind, [ledger.StockMove("D-1", Decimal(qty), source, to)], key=ledger.new_key(), at=when)

        post("receive", SUPPLIER, "A-01", 5000, at(-10, 8))
        on_hand = 5000
        for day in range(WINDOW):
            if day == OUT_OF_STOCK.start:
                post("adjust", "A-01", ADJUSTMENT, on_hand, at(day, 0, 10))  # lost in a flood: nothing to ship
                on_hand = 0
            if day == OUT_OF_STOCK.stop:
                post("receive", SUPPLIER, "A-01", 5000, at(day, 0, 10))
                on_hand = 5000
            if day in OUT_OF_STOCK:
                continue
            qty = max(0, round(rng.gauss(MEAN, DEVIATION)))
            shipped.append(Decimal(qty))
            if qty:
                post("issue", "A-01", CUSTOMER, qty, at(day, 12))
                on_hand -= qty
    return store, shipped


def test_reorder_point_from_demand_skips_stock_out_days(history):
    store, shipped = history
    [suggestion] = replenishment.reorder_points(store, SETUP)
    values = [float(x) for x in shipped]
    mean, deviation = statistics.fmean(values), statistics.stdev(values)
    assert (suggestion.days, suggestion.stockout_days) == (WINDOW - len(OUT_OF_STOCK), len(OUT_OF_STOCK))
    assert suggestion.daily_demand == Decimal(str(round(mean, 3)))
    assert suggestion.deviation == Decimal(str(round(deviation, 3)))
    assert abs(mean - MEAN) < 3 * DEVIATION / math.sqrt(len(values))
    assert abs(deviation - DEVIATION) < 3 * DEVIATION / math.sqrt(2 * len(values))
    assert suggestion.lead_time_days == LEAD and suggestion.service_level == 95
    assert suggestion.safety_stock == math.ceil(Z_95 * deviation * math.sqrt(LEAD))
    assert suggestion.suggested == math.ceil(mean * LEAD + Z_95 * deviation * math.sqrt(LEAD))
    assert suggestion.current == 10
    # counting the empty days as zero demand would have pulled the mean down by an eighth
    assert mean * (WINDOW - len(OUT_OF_STOCK)) / WINDOW < float(suggestion.daily_demand) - 1


def test_a_manager_applies_the_suggestion_and_it_is_audited(history):
    store, _ = history
    [suggestion] = replenishment.reorder_points(store, SETUP)
    with pytest.raises(PermissionDenied):
        replenishment.apply_reorder_points(store, Actor("pick", "picker", "test"), ["D-1"])
    manager = Actor("boss", "manager", "office")
    [applied] = replenishment.apply_reorder_points(store, manager, ["D-1"])
    assert applied == suggestion
    [view] = replenishment.get_reorder_settings(store, SETUP, "D-1")
    assert (view.reorder_point, view.safety_stock, view.reorder_qty) == (suggestion.suggested, suggestion.safety_stock, 50)
    with store.read() as session:
        entry = session.execute(select(AuditEntry.username, AuditEntry.summary)
                                .where(AuditEntry.action == "replenish.reorder_point")).one()
    assert entry.username == "boss"
    assert f"reorder_point: 10 -> {suggestion.suggested}" in entry.summary and f"d {suggestion.daily_demand}" in entry.summary


def test_backtest_counts_stock_out_days_avoided_and_stock_added(history):
    store, _ = history
    result = replenishment.backtest(store, SETUP, skus=["D-1"])
    [line] = result.lines
    assert (line.current, line.suggested) == (10, replenishment.reorder_points(store, SETUP)[0].suggested)
    assert line.stockout_days_current > line.stockout_days_suggested
    assert result.stockout_days_avoided == line.stockout_days_current - line.stockout_days_suggested
    assert line.average_stock_added > 0


def test_simulate_a_reorder_point_policy_by_hand():
    # 5 a day, point 12, order 20, lead 2 days, from 15 on hand
    demand = [Decimal(5)] * 6
    # day 0: 15-5=10 <12 -> order 20 due day 2; day 1: 5; day 2: +20 -> 25-5=20; day 3: 15; day 4: 10 -> order due 6;
    # day 5: 5.  Never short; average (10+5+20+15+10+5)/6 = 10.833
    assert replenishment.simulate(demand, Decimal(12), Decimal(20), Decimal(0), Decimal(1), Decimal(1), 2,
                                  start=Decimal(15)) == (0, Decimal("10.833"))
    assert replenishment.simulate(demand, Decimal(0), Decimal(20), Decimal(0), Decimal(1), Decimal(1), 2,
                                  start=Decimal(15)) == (3, Decimal("2.5")), "no reorder point: out from day 3"
