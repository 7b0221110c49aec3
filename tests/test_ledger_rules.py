"""Every ledger rule, on SQLite and on PostgreSQL (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ims_tui.db.models import AuditEntry, Movement, Posting
from ims_tui.services import stock
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from ims_tui.services.ledger import StockMove, post_moves
from tests.conftest import make_locations, make_product

D = Decimal


@pytest.fixture
def stocked(store, admin):
    make_product(store, "PLAIN")
    make_product(store, "LOTTED", tracking="lot")
    make_product(store, "SERIAL", tracking="serial")
    make_locations(store, "A-1", "A-2")
    stock.receive(store, admin, "PLAIN", D(10), to="A-1", cost=D("2.00"))
    return store


def on_hand(store, admin, sku, location=None):
    detail = product_detail(store, admin, sku)
    return sum((row.on_hand for row in detail.stock if location in (None, row.location)), D(0))


def movement_count(store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Movement))


def test_receive_issue_move_adjust_change_stock_and_keep_check_clean(stocked, admin):
    stock.move(stocked, admin, "PLAIN", D(4), source="A-1", to="A-2")
    stock.issue(stocked, admin, "PLAIN", D(1), source="A-2")
    stock.adjust(stocked, admin, "PLAIN", at="A-1", set_to=D(5), reason="count")
    stock.adjust(stocked, admin, "PLAIN", at="A-2", by=D(-1), reason="damaged")
    assert on_hand(stocked, admin, "PLAIN", "A-1") == D(5)
    assert on_hand(stocked, admin, "PLAIN", "A-2") == D(2)
    assert run_check(stocked).clean


def test_decrement_below_zero_is_refused_and_changes_nothing(stocked, admin):
    before = movement_count(stocked)
    with pytest.raises(RuleViolation, match="not enough stock: PLAIN at A-1 has 10 available, need 11"):
        stock.issue(stocked, admin, "PLAIN", D(11), source="A-1")
    with pytest.raises(RuleViolation, match="not enough stock"):
        stock.move(stocked, admin, "PLAIN", D(1), source="A-2", to="A-1")
    assert movement_count(stocked) == before
    assert on_hand(stocked, admin, "PLAIN") == D(10)


def test_a_failed_line_rolls_back_the_whole_posting(stocked, admin):
    moves = [
        StockMove("PLAIN", D(3), "A-1", "A-2"),
        StockMove("PLAIN", D(50), "A-1", "CUSTOMER"),
    ]
    with pytest.raises(RuleViolation):
        post_moves(stocked, admin, "move", moves)
    assert on_hand(stocked, admin, "PLAIN", "A-2") == D(0)
    assert on_hand(stocked, admin, "PLAIN", "A-1") == D(10)


def test_same_idempotency_key_posts_once(stocked, admin):
    first = stock.receive(stocked, admin, "PLAIN", D(5), to="A-2", key="scan-42")
    second = stock.receive(stocked, admin, "PLAIN", D(5), to="A-2", key="scan-42")
    assert not first.already_posted and second.already_posted
    assert second.posting_id == first.posting_id
    assert on_hand(stocked, admin, "PLAIN", "A-2") == D(5)


@pytest.mark.parametrize("qty", [D(0), D(-3)])
def test_zero_or_negative_quantity_is_bad_input(stocked, admin, qty):
    with pytest.raises(BadInput, match="quantity must be more than zero"):
        stock.receive(stocked, admin, "PLAIN", qty, to="A-1")


def test_fractional_quantity_of_a_counted_product_is_refused(stocked, admin):
    with pytest.raises(BadInput, match="whole ea"):
        stock.receive(stocked, admin, "PLAIN", D("1.5"), to="A-1")


def test_weighed_product_takes_exact_decimals(store, admin):
    make_product(store, "FLOUR", uom="kg")
    make_locations(store, "A-1")
    for _ in range(3):
        stock.receive(store, admin, "FLOUR", D("0.1"), to="A-1")
    stock.issue(store, admin, "FLOUR", D("0.3"), source="A-1")
    assert on_hand(store, admin, "FLOUR") == D(0)
    assert run_check(store).clean


def test_unknown_product_and_location_are_not_found(stocked, admin):
    with pytest.raises(NotFound, match="unknown product 'NOPE'"):
        stock.receive(stocked, admin, "NOPE", D(1), to="A-1")
    with pytest.raises(NotFound, match="unknown location 'Z-9'"):
        stock.receive(stocked, admin, "PLAIN", D(1), to="Z-9")


def test_lot_tracked_product_needs_a_lot(stocked, admin):
    with pytest.raises(RuleViolation, match="LOTTED is lot-tracked: give the lot"):
        stock.receive(stocked, admin, "LOTTED", D(5), to="A-1")
    stock.receive(stocked, admin, "LOTTED", D(5), to="A-1", lot="L1", expiry=dt.date(2027, 1, 31))
    with pytest.raises(RuleViolation, match="lot-tracked"):
        stock.issue(stocked, admin, "LOTTED", D(1), source="A-1")
    with pytest.raises(RuleViolation, match="not enough stock: LOTTED lot L1"):
        stock.issue(stocked, admin, "LOTTED", D(6), source="A-1", lot="L1")
    stock.issue(stocked, admin, "LOTTED", D(2), source="A-1", lot="L1")
    detail = product_detail(stocked, admin, "LOTTED")
    assert [(r.lot, r.expiry, r.on_hand) for r in detail.stock] == [("L1", dt.date(2027, 1, 31), D(3))]


def test_a_lot_keeps_its_expiry(stocked, admin):
    stock.receive(stocked, admin, "LOTTED", D(1), to="A-1", lot="L1", expiry=dt.date(2027, 1, 31))
    with pytest.raises(RuleViolation, match="already has expiry 2027-01-31"):
        stock.receive(stocked, admin, "LOTTED", D(1), to="A-1", lot="L1", expiry=dt.date(2028, 1, 1))


def test_serials_are_required_received_once_and_issued_only_from_where_they_are(stocked, admin):
    with pytest.raises(RuleViolation, match="one serial per unit"):
        stock.receive(stocked, admin, "SERIAL", D(2), to="A-1", serials=("S1",))
    stock.receive(stocked, admin, "SERIAL", D(2), to="A-1", serials=("S1", "S2"))
    with pytest.raises(RuleViolation, match="serial S1 of SERIAL is already in stock"):
        stock.receive(stocked, admin, "SERIAL", D(1), to="A-2", serials=("S1",))
    with pytest.raises(RuleViolation, match="serial S2 of SERIAL is not at A-2"):
        stock.issue(stocked, admin, "SERIAL", D(1), source="A-2", serials=("S2",))
    with pytest.raises(RuleViolation, match="serial S9 of SERIAL is not at A-1"):
        stock.issue(stocked, admin, "SERIAL", D(1), source="A-1", serials=("S9",))
    stock.move(stocked, admin, "SERIAL", D(1), source="A-1", to="A-2", serials=("S2",))
    stock.issue(stocked, admin, "SERIAL", D(1), source="A-2", serials=("S2",))
    # a serial that left stock may come back (a customer return)
    stock.receive(stocked, admin, "SERIAL", D(1), to="A-2", serials=("S2",))
    assert run_check(stocked).clean


def test_serials_on_an_untracked_product_are_refused(stocked, admin):
    with pytest.raises(RuleViolation, match="not serial-tracked"):
        stock.receive(stocked, admin, "PLAIN", D(1), to="A-1", serials=("X",))


def test_adjust_needs_a_reason_and_exactly_one_target(stocked, admin):
    with pytest.raises(BadInput, match="reason"):
        stock.adjust(stocked, admin, "PLAIN", at="A-1", set_to=D(3), reason=" ")
    with pytest.raises(BadInput, match="exactly one"):
        stock.adjust(stocked, admin, "PLAIN", at="A-1", set_to=D(3), by=D(1), reason="x")
    with pytest.raises(RuleViolation, match="nothing to adjust"):
        stock.adjust(stocked, admin, "PLAIN", at="A-1", set_to=D(10), reason="count")


def test_fifo_cost_layers_value_what_leaves(stocked, admin):
    stock.receive(stocked, admin, "PLAIN", D(10), to="A-1", cost=D("4.00"))
    stock.issue(stocked, admin, "PLAIN", D(15), source="A-1", key="ship-1")
    with stocked.read() as session:
        cost = session.scalar(
            select(Movement.unit_cost).join(Posting).where(Posting.idempotency_key == "ship-1")
        )
    # 10 at 2.00 and 5 at 4.00
    assert cost == D("2.6667")
    detail = product_detail(stocked, admin, "PLAIN")
    assert detail.average_cost == D("3.0000")


def test_every_posting_is_audited_with_user_and_station(stocked, admin):
    stock.move(stocked, admin, "PLAIN", D(1), source="A-1", to="A-2", reference="putaway")
    with stocked.read() as session:
        entry = session.execute(
            select(AuditEntry.username, AuditEntry.station, AuditEntry.target, AuditEntry.summary).where(
                AuditEntry.action == "stock.move"
            )
        ).one()
        movement = session.execute(
            select(Movement.username, Movement.station, Movement.reference).order_by(Movement.id.desc())
        ).first()
    assert tuple(entry[:3]) == ("tester", "test-station", "putaway")
    assert "1 PLAIN A-1->A-2" in entry.summary
    assert tuple(movement) == ("tester", "test-station", "putaway")


@pytest.mark.parametrize("statement", ["UPDATE movements SET qty = 1", "DELETE FROM movements", "DELETE FROM postings"])
def test_the_database_refuses_to_rewrite_the_ledger(stocked, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with stocked.write() as session:
            session.execute(text(statement))
    assert run_check(stocked).clean


def test_check_reports_a_tampered_balance(stocked, admin):
    with stocked.write() as session:
        session.execute(text("UPDATE balances SET on_hand = on_hand + 7000"))
    report = run_check(stocked)
    assert not report.clean
    assert any("balance mismatch: PLAIN at A-1: balance 17, movements sum to 10" in v for v in report.violations)
