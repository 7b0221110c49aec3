"""The receiving desk driven through the real app, with keyboard-wedge scan bursts.

A scan here is what a wedge scanner does: every character its own key event, microseconds
apart, then Enter - it goes through the app's scan detector like a real one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from textual import events
from textual.keys import _character_to_key

from ims_tui.app import ImsApp
from ims_tui.config import Config
from ims_tui.db.models import Posting
from ims_tui.screens.receiving import ReceivingScreen
from ims_tui.services import purchasing, stock
from ims_tui.services.actor import Actor
from ims_tui.services.auth import sign_in
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from ims_tui.services.purchasing import LineInput
from tests.auth_support import use_cheap_hasher
from tests.conftest import open_store
from tests.test_purchasing_service import MANAGER, setup_catalogue

D = Decimal
GS = "\x1d"
MILK_LABEL = "]C1" + "0105012345678900" + "17450331" + "10L42"  # GTIN, expiry 2045-03-31, lot L42 (last: no GS)
DRILL_LABEL = "]C1" + "0100012345678905" + "21{serial}"


@pytest.fixture
def shop(sqlite_url, monkeypatch):
    use_cheap_hasher(monkeypatch)
    store = open_store(sqlite_url)
    setup_catalogue(store)
    yield store
    store.dispose()


def order(store, *lines: tuple[str, int]) -> str:
    number = purchasing.create_po(store, MANAGER, "Acme Supplies", [LineInput(sku, D(n)) for sku, n in lines]).number
    purchasing.order_po(store, MANAGER, number)
    return number


def make_app(store) -> ImsApp:
    return ImsApp(Config(database_url=store.url, station="desk-1", idle_lock_minutes=0), store)


async def settle(pilot) -> None:
    """Wait until held scan keys are judged and the receiving worker has done everything queued."""
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        busy = [worker for worker in app.workers if worker.group == "flow" and worker.is_running]
        if not busy and not app.scan_detector.holding:
            await pilot.pause()
            if not [w for w in app.workers if w.group == "flow" and w.is_running]:
                return
        await app.workers.wait_for_complete(busy)
    raise AssertionError("the receiving screen never settled")


async def scan(pilot, text: str) -> None:
    """A keyboard-wedge burst: the characters back to back, then the CR terminator."""
    app = pilot.app
    for char in text:
        if char == GS:
            key = "ctrl+right_square_bracket"
        elif char.isalnum():
            key = char
        else:
            key = _character_to_key(char)
        app.post_message(events.Key(key, char))
    app.post_message(events.Key("enter", "\r"))
    await settle(pilot)


async def type_slowly(pilot, text: str) -> None:
    """A person typing (about 100 ms a key in life; 60 ms here keeps it apart from a scan)."""
    keys = []
    for char in text:
        keys += [char if char.isalnum() else _character_to_key(char), "wait:60"]
    await pilot.press(*keys, "enter")
    await settle(pilot)


async def open_receiving(pilot, store, username="rita", password="receiver-pass-1") -> ReceivingScreen:
    actor = sign_in(store, username, password, station="desk-1").actor
    pilot.app.sign_in_complete(actor)
    await pilot.pause()
    await pilot.press("f3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReceivingScreen)
    return screen


def message(screen) -> str:
    return str(screen.query_one("#flow-message").content)


def prompt(screen) -> str:
    return str(screen.query_one("#flow-prompt").content)


def postings(store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Posting).where(Posting.kind == "receive"))


async def test_receive_a_po_by_scans_case_gs1_lot_and_serials_then_confirm_twice_posts_once(shop):
    number = order(shop, ("PLAIN", 24), ("MILK", 6), ("DRILL", 3))
    stock.receive(shop, Actor("setup", "admin", "test"), "DRILL", D(1), to="A-02", serials=("SN-OLD",))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        assert prompt(screen).startswith("Scan the PO")
        await scan(pilot, number)
        assert screen.flow.draft.po_number == number and prompt(screen) == "Scan an item"

        await scan(pilot, "14006381333938")  # a case of 12
        await scan(pilot, "4006381333931")  # one more unit adds to it
        assert screen.flow.pending.qty == D(13)
        assert "(Enter = A-01)" in prompt(screen)
        await scan(pilot, "A-01")

        await scan(pilot, MILK_LABEL)  # lot and expiry fill themselves in
        pending = screen.flow.pending
        assert (pending.sku, pending.qty, pending.lot, pending.expiry.isoformat()) == ("MILK", D(1), "L42", "2045-03-31")
        await scan(pilot, "A-02")

        await scan(pilot, DRILL_LABEL.format(serial="SN-1"))
        await scan(pilot, DRILL_LABEL.format(serial="SN-OLD"))  # already in stock: refused
        assert "serial SN-OLD of DRILL is already in stock" in message(screen)
        bells = app.bells
        await scan(pilot, DRILL_LABEL.format(serial="SN-2"))
        await scan(pilot, "A-02")
        assert app.bells == bells and bells == 1

        table = screen.query_one("#flow-lines")
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
        assert [row[0:1] + row[2:] for row in rows] == [
            ["PLAIN", "24", "0", "13", "11"], ["MILK", "6", "0", "1", "5"], ["DRILL", "3", "0", "2", "1"]]

        before = postings(shop)
        await pilot.press("f10", "f10")  # a double press
        await settle(pilot)
        assert postings(shop) == before + 1, list(app.messages)[-4:]
        assert "partial, backorder" in " ".join(app.messages)
        assert prompt(screen).startswith("Scan the PO")

    po = purchasing.get_po(shop, MANAGER, number)
    assert po.status == "partial" and po.backorder == D(11 + 5 + 1)
    assert [(line.sku, line.qty_received) for line in po.lines] == [("PLAIN", D(13)), ("MILK", D(1)), ("DRILL", D(2))]
    assert product_detail(shop, MANAGER, "MILK").stock[0].lot == "L42"
    assert run_check(shop).clean


async def test_over_receipt_refused_with_the_bell_then_approved_by_a_managers_badge_and_pin(shop):
    number = order(shop, ("PLAIN", 12))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "14006381333938")
        await scan(pilot, "4006381333931")  # the 13th: refused
        assert app.bells == 1
        assert message(screen).startswith("over-receipt: PLAIN ordered 12") and "scan badge" in message(screen)
        assert screen.flow.pending.qty == D(12)
        await scan(pilot, "BADGE-9001")
        assert prompt(screen).startswith("Manager: type your PIN")
        await type_slowly(pilot, "0000")  # wrong PIN: nothing approved
        assert message(screen).startswith("not approved") and screen.flow.pending.qty == D(12)
        await scan(pilot, "4006381333931")
        await scan(pilot, "BADGE-9001")
        await type_slowly(pilot, "4321")
        assert message(screen).startswith("approved by mona")
        assert screen.flow.pending.qty == D(13) and screen.flow.pending.approved_by == "mona"
        await scan(pilot, "A-01")
        await pilot.press("f10")
        await settle(pilot)
    po = purchasing.get_po(shop, MANAGER, number)
    assert po.status == "received" and po.lines[0].qty_received == D(13)


async def test_a_lot_item_without_a_lot_on_its_label_asks_for_lot_and_expiry(shop):
    number = order(shop, ("MILK", 6))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "5012345678900")
        assert prompt(screen) == "Lot of MILK (type or scan)"
        await scan(pilot, "LOT-777")  # a lot label
        assert prompt(screen).startswith("Expiry of lot LOT-777")
        await type_slowly(pilot, "2045-06-30")
        await scan(pilot, "5012345678900")  # the same item again adds to the line
        await scan(pilot, "A-02")
        assert screen.flow.draft.lines[0].describe() == "2 MILK lot LOT-777 exp 2045-06-30 -> A-02"
        await pilot.press("f10")
        await settle(pilot)
    assert purchasing.get_po(shop, MANAGER, number).lines[0].qty_received == D(2)


async def test_an_item_not_on_the_po_is_refused(shop):
    number = order(shop, ("PLAIN", 12))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "0012345678905")
        assert app.bells == 1 and message(screen).startswith(f"DRILL is not on {number}")
        await scan(pilot, "4006381333931")  # carrying on with the next item drops the approval request
        assert screen.flow.pending.sku == "PLAIN" and prompt(screen).startswith("Scan the bin")


async def test_the_app_killed_mid_receipt_finds_the_draft_after_restart(shop):
    number = order(shop, ("PLAIN", 24))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "14006381333938")
        await scan(pilot, "A-01")
        await scan(pilot, "4006381333931")  # the next item is scanned, its bin not yet
        assert screen.flow.pending.qty == D(1)
    # the station goes away without a word (nothing is saved on exit); a new process opens the store
    shop.dispose()
    store = open_store(shop.url)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, store)
        assert message(screen) == "resumed your open receipt"
        draft = screen.flow.draft
        assert draft.po_number == number and [line.describe() for line in draft.lines] == ["12 PLAIN -> A-01"]
        assert draft.pending.qty == D(1) and prompt(screen).startswith("Scan the bin")
        await scan(pilot, "A-02")
        await pilot.press("f10")
        await settle(pilot)
    assert purchasing.get_po(store, MANAGER, number).lines[0].qty_received == D(13)
    assert postings(store) == 1
    store.dispose()


SWALLOWED_MILK = "]C1" + "0105012345678900" + "10L42" + "17450331"  # no GS after the lot
EXPIRED_MILK = "]C1" + "0105012345678900" + "17250101" + "10L41"


async def test_the_desks_faults_through_the_app_with_scan_bursts(shop):
    """Issue 10's list at the real desk: each refused or asked at its step, by scans and keys."""
    from ims_tui.services import catalogue
    from ims_tui.services.actor import Actor as SetupActor

    with shop.write() as session:
        catalogue.save_location(session, SetupActor("setup", "admin", "test"), "AISLE-A", warehouse="WH1", kind="view")
    number = order(shop, ("PLAIN", 24), ("MILK", 6))
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "14006381333938")
        await scan(pilot, "AISLE-A")  # an area: refused at the step, with the bell
        assert "AISLE-A is an area, not a bin" in message(screen) and app.bells == 1
        assert screen.flow.pending.qty == D(12) and screen.flow.draft.lines == []
        await scan(pilot, "A-01")
        await scan(pilot, SWALLOWED_MILK)  # the label's problem is shown and the lot asked for
        assert message(screen).startswith("label problem:") and prompt(screen) == "Lot of MILK (type or scan)"
        await scan(pilot, "LOT-42")
        await type_slowly(pilot, "2045-03-31")
        await scan(pilot, "A-02")
        await scan(pilot, EXPIRED_MILK)  # expired: a manager must approve
        assert "expired goods need a manager" in message(screen) and prompt(screen).startswith("Manager: scan")
        await scan(pilot, "BADGE-9001")
        await type_slowly(pilot, "4321")
        assert message(screen).startswith("approved by mona") and screen.flow.pending.expiry_approved_by == "mona"
        await pilot.press("ctrl+z")  # undo takes back the most recent step: the expired lot, not a line
        await settle(pilot)
        assert screen.flow.pending is None and len(screen.flow.draft.lines) == 2
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert prompt(screen).startswith("Remove which line?")
        assert "  1. 12 PLAIN -> A-01" in str(screen.query_one("#flow-done").content)
        await type_slowly(pilot, "1")
        assert message(screen) == "removed line 1: 12 PLAIN -> A-01"
        assert [line.describe() for line in screen.flow.draft.lines] == ["1 MILK lot LOT-42 exp 2045-03-31 -> A-02"]
        await pilot.press("f10")
        await settle(pilot)
    po = purchasing.get_po(shop, MANAGER, number)
    assert [(line.sku, line.qty_received) for line in po.lines] == [("PLAIN", D(0)), ("MILK", D(1))]
