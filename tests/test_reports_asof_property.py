"""As-of valuation in SQL equals replaying the ledger up to that date in Python (both backends)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ims_tui.services import catalogue, ledger, reports, settings
from ims_tui.services.ledger import StockMove
from ims_tui.services.reports import ReportParams
from tests.reports_store import ADMIN

START = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc)
CENT = Decimal("0.01")
_names = itertools.count()

steps = st.lists(
    st.tuples(
        st.sampled_from(("receive", "receive", "issue", "move", "method")),
        st.integers(1, 20),                       # quantity
        st.integers(1, 40).map(Decimal),          # unit cost of a receipt
        st.integers(0, 3),                        # days after the previous step
        st.sampled_from(("fifo", "lifo", "average")),
    ),
    min_size=1, max_size=25,
)


def replay(history, cut):
    """Quantity, book value, perpetual FIFO, periodic LIFO and average of the movements before ``cut``."""
    qty, book, queue, receipts = Decimal(0), Decimal(0), [], []
    for at, kind, amount, cost in history:
        if at >= cut:
            break
        if kind == "in":
            qty += amount
            book += amount * cost
            queue.append([amount, cost])
            receipts.append((amount, cost))
        else:
            qty -= amount
            book -= amount * cost
            need = amount
            for layer in queue:  # FIFO: oldest first
                take = min(layer[0], need)
                layer[0] -= take
                need -= take
    fifo = sum((layer[0] * layer[1] for layer in queue), Decimal(0))
    lifo, left = Decimal(0), qty
    for amount, cost in receipts:  # periodic LIFO: the oldest receipts hold what is left
        take = max(Decimal(0), min(amount, left))
        lifo += take * cost
        left -= take
    received = sum((a for a, _ in receipts), Decimal(0))
    average = qty * sum((a * c for a, c in receipts), Decimal(0)) / received if received else Decimal(0)
    return qty, book, fifo, lifo, average


@pytest.mark.slow
@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps, probes=st.lists(st.integers(0, 80), min_size=1, max_size=4))
def test_as_of_valuation_equals_replaying_the_ledger(store, plan, probes):
    sku = f"P{next(_names)}"
    with store.write() as session:
        if catalogue.find_location(session, "B1") is None:
            catalogue.save_location(session, ADMIN, "B1", warehouse="WH1")
            catalogue.save_location(session, ADMIN, "B2", warehouse="WH1")
        catalogue.save_product(session, ADMIN, sku, {"name": sku}, create=True)
    at, on_hand = START, {"B1": Decimal(0), "B2": Decimal(0)}
    for kind, qty, cost, gap, method in plan:
        at += dt.timedelta(days=gap, minutes=1)
        amount = Decimal(qty)
        if kind == "method":
            settings.set_valuation_method(store, ADMIN, method)
            continue
        if kind == "receive":
            move, on_hand["B1"] = StockMove(sku, amount, "SUPPLIER", "B1", unit_cost=cost), on_hand["B1"] + amount
        else:
            source = max(on_hand, key=on_hand.get)
            amount = min(amount, on_hand[source])
            if amount <= 0:
                continue
            target = "CUSTOMER" if kind == "issue" else ("B2" if source == "B1" else "B1")
            move = StockMove(sku, amount, source, target)
            on_hand[source] -= amount
            if target in on_hand:
                on_hand[target] += amount
        store.transact(lambda s, m=move, t=at: ledger.post(s, ADMIN, "test", [m], key=ledger.new_key(), at=t))
    # the ledger as written (costs out are whatever the method of the day gave them)
    history = []
    moves = reports.iterate(store, ADMIN, "moves", ReportParams(date_from=START.date(), date_to=at.date(), product=sku))[1]
    for row in moves:
        _, when, _, _, amount, source, target, *_rest = row
        unit_cost = row[9]
        if source == "SUPPLIER":
            history.append((when, "in", amount, unit_cost))
        elif target == "CUSTOMER":
            history.append((when, "out", amount, unit_cost))
    for offset in probes:
        day = START.date() + dt.timedelta(days=offset)
        cut = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        qty, book, fifo, lifo, average = replay(history, cut)
        page = reports.page(store, ADMIN, "valuation", ReportParams(as_of=day))
        found = {row[0]: row for row in page.rows}.get(sku)
        if qty == 0:
            assert found is None
            continue
        assert found is not None
        assert found[3] == qty
        assert found[4:8] == (book.quantize(CENT), fifo.quantize(CENT), lifo.quantize(CENT), average.quantize(CENT))
