"""Purchase orders and receiving through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import AuditEntry, CostLayer, Movement, Posting, TaskDraft
from ims_tui.services import auth, catalogue, purchasing, receiving, users
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound, PermissionDenied, RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from ims_tui.services.purchasing import LineInput
from ims_tui.services.receiving import ReceiptLine
from tests.conftest import make_locations, make_product

D = Decimal
RECEIVER = Actor("rita", "receiver", "desk-1")
MANAGER = Actor("mona", "manager", "office")


def setup_catalogue(store) -> None:
    """A supplier, a plain item with a case barcode, a lot item, a serial item, bins, two users."""
    make_locations(store, "RCV-1", "A-01", "A-02")
    make_product(store, "PLAIN", cost="1.00", barcodes=(("4006381333931", 1), ("14006381333938", 12)), default_location="A-01")
    make_product(store, "MILK", tracking="lot", cost="0.80", barcodes=(("5012345678900", 1),))
    make_product(store, "DRILL", tracking="serial", cost="50.00", barcodes=(("0012345678905", 1),))
    actor = Actor("setup", "admin", "test")
    with store.write() as session:
        supplier = catalogue.save_supplier(session, actor, "Acme Supplies", {"lead_time_days": 5})
        for sku, cost in (("PLAIN", "1.10"), ("MILK", "0.75")):
            product = catalogue.resolve_product(session, sku)
            catalogue.set_supplier_item(session, actor, product, supplier, f"AC-{sku}", cost=D(cost))
    admin = Actor("root", "admin", "test")
    users.add_user(store, admin, "rita", "receiver", "receiver-pass-1")
    users.add_user(store, admin, "mona", "manager", "manager-pass-1", badge="BADGE-9001", pin="4321")


@pytest.fixture
def po_store(store):
    setup_catalogue(store)
    return store


def ordered_po(store, *lines: tuple[str, int]) -> str:
    view = purchasing.create_po(store, MANAGER, "Acme Supplies", [LineInput(code, D(n)) for code, n in lines])
    return purchasing.order_po(store, MANAGER, view.number).number


def on_hand(store, sku, location=None):
    detail = product_detail(store, MANAGER, sku)
    return sum((row.on_hand for row in detail.stock if location in (None, row.location)), D(0))


def count(store, model) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_create_edit_order_and_cancel_a_purchase_order(po_store):
    view = purchasing.create_po(po_store, MANAGER, "acme supplies", [LineInput.parse("AC-PLAIN:10"), LineInput.parse("MILK:5:0.70")])
    assert view.number.startswith("PO-") and view.status == "draft" and view.supplier == "Acme Supplies"
    assert view.expected_date == dt.date.today() + dt.timedelta(days=5)
    plain, milk = view.lines
    assert (plain.sku, plain.qty_ordered, plain.unit_cost) == ("PLAIN", D(10), D("1.10"))  # the supplier's price
    assert (milk.sku, milk.unit_cost) == ("MILK", D("0.70"))  # the price given wins
    # scanning a product already on the PO adds to its line, a case barcode counts as given
    view = purchasing.add_po_line(po_store, MANAGER, view.number, LineInput("4006381333931", D(2)))
    assert [line.qty_ordered for line in view.lines] == [D(12), D(5)]
    view = purchasing.add_po_line(po_store, MANAGER, view.number, LineInput("DRILL", D(2)))
    view = purchasing.set_po_line(po_store, MANAGER, view.number, 2, qty=D(6))
    view = purchasing.remove_po_line(po_store, MANAGER, view.number, 3)
    assert [(ln.sku, ln.qty_ordered) for ln in view.lines] == [("PLAIN", D(12)), ("MILK", D(6))]
    assert purchasing.order_po(po_store, MANAGER, view.number.lower()).status == "ordered"
    with pytest.raises(RuleViolation, match="not a draft"):
        purchasing.order_po(po_store, MANAGER, view.number)
    listed = purchasing.list_pos(po_store, RECEIVER, open_only=True)
    assert [(s.number, s.lines, s.qty_ordered) for s in listed] == [(view.number, 2, D(18))]
    cancelled = purchasing.cancel_po(po_store, MANAGER, view.number, "supplier out of stock")
    assert cancelled.status == "cancelled"
    with pytest.raises(RuleViolation, match="can no longer be changed"):
        purchasing.add_po_line(po_store, MANAGER, view.number, LineInput("PLAIN", D(1)))
    assert purchasing.list_pos(po_store, RECEIVER, open_only=True) == []


def test_bad_input_and_permissions_change_nothing(po_store):
    with pytest.raises(PermissionDenied):
        purchasing.create_po(po_store, RECEIVER, "Acme Supplies", [LineInput("PLAIN", D(1))])
    with pytest.raises(NotFound, match="unknown supplier"):
        purchasing.create_po(po_store, MANAGER, "Nobody Ltd")
    with pytest.raises(NotFound, match="unknown product"):
        purchasing.create_po(po_store, MANAGER, "Acme Supplies", [LineInput("NOPE", D(1))])
    with pytest.raises(BadInput, match="more than zero"):
        purchasing.create_po(po_store, MANAGER, "Acme Supplies", [LineInput("PLAIN", D(0))])
    with pytest.raises(BadInput, match="CODE:QTY"):
        LineInput.parse("PLAIN")
    with pytest.raises(NotFound, match="unknown purchase order"):
        purchasing.get_po(po_store, RECEIVER, "PO-999999")
    assert purchasing.list_pos(po_store, MANAGER) == []
    draft_po = purchasing.create_po(po_store, MANAGER, "Acme Supplies", [LineInput("PLAIN", D(1))]).number
    with pytest.raises(RuleViolation, match="still a draft"):
        receiving.start_receipt(po_store, RECEIVER, po=draft_po)


def test_a_partial_receipt_posts_once_with_po_costs_and_leaves_a_backorder(po_store):
    number = ordered_po(po_store, ("PLAIN", 24), ("MILK", 10), ("DRILL", 3))
    draft = receiving.start_receipt(po_store, RECEIVER, po=number)
    draft.lines += [
        ReceiptLine("PLAIN", D(12), "A-01"),
        ReceiptLine("MILK", D(10), "A-02", lot="L42", expiry=dt.date(2027, 3, 1)),
        ReceiptLine("DRILL", D(2), "A-02", serials=("SN-1", "SN-2")),
    ]
    receiving.save_receipt(po_store, RECEIVER, draft)
    postings = count(po_store, Posting)
    result = receiving.confirm_receipt(po_store, RECEIVER, draft)
    assert not result.already_posted
    assert count(po_store, Posting) == postings + 1  # one posting for all lines
    assert result.po.status == "partial" and result.po.backorder == D(12 + 1)
    assert [(ln.sku, ln.qty_received, ln.remaining) for ln in result.po.lines] == [
        ("PLAIN", D(12), D(12)), ("MILK", D(10), D(0)), ("DRILL", D(2), D(1))]
    assert on_hand(po_store, "PLAIN", "A-01") == D(12) and on_hand(po_store, "DRILL") == D(2)
    with po_store.read() as session:
        costs = dict(session.execute(select(Movement.reference, Movement.unit_cost).where(Movement.reference.like(f"{number}/%"))).all())
        layers = session.scalar(select(func.count()).select_from(CostLayer))
    assert costs == {f"{number}/1": D("1.10"), f"{number}/2": D("0.75"), f"{number}/3": D("50.00")}
    assert layers == 4  # plain, lot, two serials
    assert count(po_store, TaskDraft) == 0
    # the same confirm again (a double press, a retry after a dropped line) posts nothing
    again = receiving.confirm_receipt(po_store, RECEIVER, draft)
    assert again.already_posted and again.posting_id == result.posting_id
    assert on_hand(po_store, "PLAIN") == D(12)
    # the rest arrives: the PO is received
    rest = receiving.start_receipt(po_store, RECEIVER, po=number)
    rest.lines += [ReceiptLine("PLAIN", D(12), "A-01"), ReceiptLine("DRILL", D(1), "A-01", serials=("SN-3",))]
    assert receiving.confirm_receipt(po_store, RECEIVER, rest).po.status == "received"
    assert run_check(po_store).clean


def test_over_receipt_and_items_off_the_po_need_a_manager(po_store):
    number = ordered_po(po_store, ("PLAIN", 10))
    draft = receiving.start_receipt(po_store, RECEIVER, po=number)
    assert draft.refusal("PLAIN", D(10)) is None
    assert "over-receipt" in draft.refusal("PLAIN", D(11))
    assert draft.refusal("MILK", D(1)) == f"MILK is not on {number}"
    draft.lines.append(ReceiptLine("PLAIN", D(11), "A-01"))
    with pytest.raises(RuleViolation, match="over-receipt: PLAIN has 10 left"):
        receiving.confirm_receipt(po_store, RECEIVER, draft)
    draft.lines = [ReceiptLine("MILK", D(1), "A-01", lot="L1")]
    with pytest.raises(RuleViolation, match="not on"):
        receiving.confirm_receipt(po_store, RECEIVER, draft)
    assert on_hand(po_store, "PLAIN") == 0 and purchasing.get_po(po_store, RECEIVER, number).status == "ordered"
    # a receiver cannot approve for themselves
    draft.lines = [ReceiptLine("PLAIN", D(11), "A-01", approved_by="rita")]
    with pytest.raises(RuleViolation, match="rita may not approve"):
        receiving.confirm_receipt(po_store, RECEIVER, draft)
    draft.lines = [ReceiptLine("PLAIN", D(11), "A-01", approved_by="mona"),
                   ReceiptLine("MILK", D(2), "A-01", lot="L1", approved_by="mona")]
    assert draft.refusal("PLAIN", D(5)) is None  # approved for this receipt
    result = receiving.confirm_receipt(po_store, RECEIVER, draft)
    assert result.po.status == "received"
    assert [(ln.sku, ln.qty_ordered, ln.qty_received) for ln in result.po.lines] == [
        ("PLAIN", D(10), D(11)), ("MILK", D(2), D(2))]
    with po_store.read() as session:
        summary = session.scalar(select(AuditEntry.summary).where(AuditEntry.action == "po.receive"))
    assert "approved by mona" in summary
    assert run_check(po_store).clean


def test_manager_badge_and_pin_approve_on_the_spot(po_store):
    assert auth.approve_override(po_store, "BADGE-9001", "4321", station="desk-1") == "mona"
    with pytest.raises(Exception) as refused:
        auth.approve_override(po_store, "BADGE-9001", "0000", station="desk-1")
    assert refused.value.exit_code == 3


def test_drafts_survive_are_resumed_and_managers_can_discard_them(po_store):
    number = ordered_po(po_store, ("PLAIN", 10))
    draft = receiving.start_receipt(po_store, RECEIVER, po=number)
    draft.pending = ReceiptLine("PLAIN", D(3))
    receiving.save_receipt(po_store, RECEIVER, draft)
    resumed = receiving.resume_receipt(po_store, RECEIVER)
    assert (resumed.draft_id, resumed.key, resumed.pending, resumed.po.number) == (draft.draft_id, draft.key, draft.pending, number)
    assert receiving.start_receipt(po_store, RECEIVER, po=number).draft_id == draft.draft_id  # no second draft
    other = Actor("otto", "receiver", "desk-2")
    assert receiving.resume_receipt(po_store, other) is None
    with pytest.raises(PermissionDenied):
        receiving.discard_receipt(po_store, other, draft.draft_id)
    with pytest.raises(PermissionDenied):
        receiving.list_receipt_drafts(po_store, other, everyone=True)
    [summary] = receiving.list_receipt_drafts(po_store, MANAGER, everyone=True)
    assert (summary.username, summary.reference) == ("rita", number)
    assert receiving.load_receipt(po_store, MANAGER, draft.draft_id).pending == draft.pending
    receiving.discard_receipt(po_store, MANAGER, draft.draft_id)
    assert receiving.resume_receipt(po_store, RECEIVER) is None
    with pytest.raises(RuleViolation, match="no longer open"):
        receiving.save_receipt(po_store, RECEIVER, draft)


def test_receipt_without_a_po_costs_at_the_suppliers_price(po_store):
    draft = receiving.start_receipt(po_store, RECEIVER, supplier="Acme Supplies")
    assert draft.po is None and draft.refusal("PLAIN", D(1000)) is None
    draft.lines.append(ReceiptLine("PLAIN", D(4), "A-01"))
    result = receiving.confirm_receipt(po_store, RECEIVER, draft)
    assert result.po is None and on_hand(po_store, "PLAIN") == D(4)
    with po_store.read() as session:
        assert session.scalar(select(Movement.unit_cost)) == D("1.10")


def test_serial_in_stock_is_refused_at_the_scan(po_store):
    number = ordered_po(po_store, ("DRILL", 3))
    receiving.receive_po(po_store, RECEIVER, number, "DRILL", D(1), to="A-01", serials=["SN-9"])
    with pytest.raises(RuleViolation, match="already in stock"):
        receiving.check_serial_free(po_store, "DRILL", "SN-9")
    receiving.check_serial_free(po_store, "DRILL", "SN-10")


def test_return_to_supplier_reopens_the_po_and_keeps_check_clean(po_store):
    number = ordered_po(po_store, ("PLAIN", 5))
    receiving.receive_po(po_store, RECEIVER, number, "PLAIN", D(5), to="A-01")
    assert purchasing.get_po(po_store, RECEIVER, number).status == "received"
    with pytest.raises(BadInput, match="reason"):
        receiving.return_to_supplier(po_store, RECEIVER, "PLAIN", D(2), source="A-01", reason=" ", po=number)
    result = receiving.return_to_supplier(po_store, RECEIVER, "PLAIN", D(2), source="A-01", reason="damaged", po=number, key="ret-1")
    assert result.unit_cost == D("1.10") and result.po.status == "partial" and result.po.backorder == D(2)
    again = receiving.return_to_supplier(po_store, RECEIVER, "PLAIN", D(2), source="A-01", reason="damaged", po=number, key="ret-1")
    assert again.already_posted and on_hand(po_store, "PLAIN") == D(3)
    with pytest.raises(RuleViolation, match="has not received"):
        receiving.return_to_supplier(po_store, RECEIVER, "PLAIN", D(4), source="A-01", reason="damaged", po=number)
    assert run_check(po_store).clean
