"""The picking flow driven without a screen, on SQLite and PostgreSQL: right bin and item, wrong
bin, wrong item, wrong lot, a short pick re-allocated from a second bin, a short pick with nothing
left (backorder), and the draft that carries the idempotency key across a dropped station."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import Posting, TaskDraft
from ims_tui.flows.picking import PickingFlow
from ims_tui.services import picking, sales, stock
from ims_tui.services.actor import Actor
from ims_tui.services.inventory import product_detail
from tests.conftest import make_product
from tests.sales_support import ADMIN, PACKING, order, warehouse

D = Decimal
PAT = Actor("pat", "picker", "pick-1")


def days(n: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=n)


def gs1(gtin: str, lot: str) -> str:
    return "]C1" + "01" + gtin + "10" + lot


@pytest.fixture
def wh(store):
    warehouse(store)
    from ims_tui.services import users

    users.add_user(store, Actor("root", "admin", "test"), "pat", "picker", "picker-pass-1")
    return store


def flow(store, actor=PAT) -> PickingFlow:
    f = PickingFlow(store, actor)
    f.start()
    return f


def pick_postings(store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Posting).where(Posting.kind == "pick"))


def at(store, sku: str) -> dict[tuple[str, str | None], Decimal]:
    return {(row.location, row.lot): row.on_hand for row in product_detail(store, ADMIN, sku, movements=0).stock}


def test_right_bin_and_item_posts_the_line_and_walks_on(wh):
    make_product(wh, "BOLT", barcodes=(("BOLT-CASE", 4),))
    make_product(wh, "NUT")
    stock.receive(wh, ADMIN, "BOLT", D(10), to="B-01-1")
    stock.receive(wh, ADMIN, "NUT", D(3), to="A-01-1")
    so = order(wh, "Acme", ("BOLT", 5), ("NUT", 1))
    f = flow(wh)
    assert f.step == "pick"
    out = f.typed("BOLT")
    assert out.error and "not a pick list (PK-...) or a sales order (SO-...)" in out.message
    assert not f.typed(so).error  # a sales order's number makes its pick list
    # walking order: aisle A before aisle B
    assert f.step == "bin" and f.line.location == "A-01-1" and "A-01-1" in f.prompt
    assert not f.scan("A-01-1").error and f.step == "item"
    out = f.scan("NUT")  # 1 left: the scan reaches it and posts
    assert not out.error and "picked 1 NUT" in out.message and "next: B-01-1 BOLT" in out.message
    assert f.step == "bin"
    f.scan("B-01-1")
    out = f.scan("BOLT-CASE")  # a case counts its pack
    assert not out.error and "4 of 5" in out.message and f.step == "item"
    saved = f.payload()
    with wh.read() as session:
        assert session.get(TaskDraft, f.draft_id).payload == saved  # saved after every scan
    out = f.scan("BOLT")
    assert "picked 5 BOLT" in out.message and f.step == "pick" and "done" in out.message
    assert pick_postings(wh) == 2
    assert at(wh, "BOLT")[(PACKING, None)] == 5 and at(wh, "NUT")[(PACKING, None)] == 1
    with wh.read() as session:
        assert session.scalar(select(func.count()).select_from(TaskDraft).where(TaskDraft.kind == "pick")) == 0


def test_enter_takes_what_is_left_and_a_typed_number_sets_it(wh):
    make_product(wh, "TAPE")
    stock.receive(wh, ADMIN, "TAPE", D(10), to="A-02-1")
    so = order(wh, "Acme", ("TAPE", 6))
    f = flow(wh)
    f.typed(so)
    f.scan("A-02-1")
    assert f.typed("").error  # Enter before the item is scanned: refused
    f.scan("TAPE")
    assert "6 to pick, 1 scanned - Enter takes 6" in f.prompt
    f.typed("4")  # only four in the bin after all
    assert "Enter takes 4" in f.prompt
    out = f.typed("")
    assert "picked 4 TAPE" in out.message and pick_postings(wh) == 1
    assert f.step == "bin" and f.line.remaining == 2  # the rest stays on the line


def test_an_order_whose_list_exists_opens_that_list(wh):
    make_product(wh, "CORD")
    stock.receive(wh, ADMIN, "CORD", D(4), to="A-01-1")
    so = order(wh, "Acme", ("CORD", 2))
    listed = picking.create_pick(wh, ADMIN, [so])  # printed at the office first
    f = flow(wh)
    assert not f.typed(so.lower()).error and f.pick.number == listed.number and f.step == "bin"


def test_wrong_bin_and_wrong_item_ring_and_change_nothing(wh):
    make_product(wh, "GLUE")
    make_product(wh, "PAINT")
    stock.receive(wh, ADMIN, "GLUE", D(4), to="A-01-1")
    stock.receive(wh, ADMIN, "PAINT", D(4), to="A-02-1")
    so = order(wh, "Acme", ("GLUE", 2))
    f = flow(wh)
    f.typed(so)
    out = f.scan("A-02-1")
    assert out.error and out.bell and out.message == "wrong bin: A-02-1 - line 1 is in A-01-1" and f.step == "bin"
    f.scan("A-01-1")
    out = f.scan("PAINT")
    assert out.error and out.message == "wrong item: PAINT - line 1 is GLUE" and f.step == "item"
    assert f.scan("NOPE-123").error
    assert pick_postings(wh) == 0 and f.payload()["counted"] == "0"


def test_a_later_lot_is_refused_an_expired_one_too_and_the_allocated_lot_is_taken(wh):
    make_product(wh, "MILK", tracking="lot", barcodes=(("05012345678900", 1),))
    stock.receive(wh, ADMIN, "MILK", D(5), to="A-01-1", lot="SOON", expiry=days(10))
    stock.receive(wh, ADMIN, "MILK", D(5), to="A-01-1", lot="LATE", expiry=days(90))
    stock.receive(wh, ADMIN, "MILK", D(5), to="A-01-1", lot="GONE", expiry=days(-2))
    so = order(wh, "Acme", ("MILK", 2))
    f = flow(wh)
    f.typed(so)
    assert f.line.lot == "SOON"
    f.scan("A-01-1")
    out = f.scan(gs1("05012345678900", "LATE"))
    assert out.error and "lot LATE expires later" in out.message and "take lot SOON" in out.message
    assert pick_postings(wh) == 0 and f.payload()["counted"] == "0"
    out = f.scan(gs1("05012345678900", "GONE"))
    assert out.error and "lot GONE expired on" in out.message and pick_postings(wh) == 0
    f.scan(gs1("05012345678900", "SOON"))
    out = f.scan(gs1("05012345678900", "SOON"))
    assert "picked 2 MILK" in out.message
    assert at(wh, "MILK")[(PACKING, "SOON")] == 2 and at(wh, "MILK")[("A-01-1", "LATE")] == 5


def test_a_serial_line_takes_serials_in_its_bin_only(wh):
    make_product(wh, "DRILL", tracking="serial")
    stock.receive(wh, ADMIN, "DRILL", D(2), to="A-01-1", serials=("D1", "D2"))
    stock.receive(wh, ADMIN, "DRILL", D(1), to="B-01-1", serials=("D3",))
    so = order(wh, "Acme", ("DRILL", 2))
    f = flow(wh)
    f.typed(so)
    f.scan("A-01-1")
    assert "not its product code" in f.scan("DRILL").message
    out = f.scan("D3")
    assert out.error and "serial D3 is not in A-01-1" in out.message
    assert not f.scan("D2").error
    assert "scanned already" in f.scan("D2").message
    assert "scan 1 more serial" in f.typed("").message
    out = f.scan("D1")
    assert "picked 2 DRILL" in out.message and pick_postings(wh) == 1


def test_short_pick_reallocates_from_a_second_bin_and_the_list_reroutes(wh):
    make_product(wh, "GLOVE")
    stock.receive(wh, ADMIN, "GLOVE", D(3), to="A-01-1")
    stock.receive(wh, ADMIN, "GLOVE", D(5), to="B-02-1")
    so = order(wh, "Acme", ("GLOVE", 3))
    f = flow(wh)
    f.typed(so)
    assert f.line.location == "A-01-1"
    f.scan("A-01-1")
    f.scan("GLOVE")  # one found, two missing
    out = f.command("short")
    assert out.bell and not out.error and "F8 again" in out.message and pick_postings(wh) == 0
    out = f.command("short")  # second press: the one scanned is posted, the rest re-routed
    assert "picked 1" in out.message and "re-allocated" in out.message and "B-02-1" in out.message
    assert f.step == "bin" and f.line.location == "B-02-1" and f.line.remaining == 2
    f.scan("B-02-1")
    f.scan("GLOVE")
    out = f.scan("GLOVE")
    assert "picked 2 GLOVE" in out.message and f.step == "pick"
    assert at(wh, "GLOVE")[(PACKING, None)] == 3
    assert sales.get_so(wh, ADMIN, so).lines[0].qty_picked == 3


def test_short_pick_with_nothing_left_backorders(wh):
    make_product(wh, "HAT")
    make_product(wh, "SCARF")
    stock.receive(wh, ADMIN, "HAT", D(2), to="A-01-1")
    stock.receive(wh, ADMIN, "SCARF", D(2), to="A-02-1")
    so = order(wh, "Acme", ("HAT", 2), ("SCARF", 1))
    f = flow(wh)
    f.typed(so)
    f.scan("A-01-1")
    f.command("short")
    out = f.command("short")
    assert "2 HAT short at A-01-1" in out.message and "backordered" in out.message
    assert f.step == "bin" and f.line.sku == "SCARF"  # on to the next line
    f.scan("A-02-1")
    f.scan("SCARF")
    view = sales.get_so(wh, ADMIN, so)
    assert view.line(1).qty_waiting == 2 and view.line(2).qty_picked == 1


def test_a_dropped_station_resumes_the_line_and_posts_once(wh):
    make_product(wh, "LAMP")
    stock.receive(wh, ADMIN, "LAMP", D(5), to="A-01-1")
    so = order(wh, "Acme", ("LAMP", 3))
    f = flow(wh)
    f.typed(so)
    f.scan("A-01-1")
    f.scan("LAMP")
    again = flow(wh)  # the station dropped: the next one carries on at the item, 1 scanned
    assert again.step == "item" and again.payload() == f.payload() and "1 scanned" in again.prompt
    key = again.payload()["key"]
    # the post reaches the store, then the station drops before it hears back
    picking.confirm_pick(wh, PAT, again.pick.number, again.line.line_no, D(3), source="A-01-1", key=key)
    retried = picking.confirm_pick(wh, PAT, again.pick.number, again.line.line_no, D(3), source="A-01-1", key=key)
    assert retried.already_posted
    third = flow(wh)
    assert third.step == "pick" and pick_postings(wh) == 1 and at(wh, "LAMP")[(PACKING, None)] == 3
