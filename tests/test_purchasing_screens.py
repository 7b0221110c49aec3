"""Managers create, fill, order and follow POs in the app; they see and discard open receipts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ims_tui.screens.purchase_orders import PurchaseOrderScreen, PurchaseOrdersScreen, ReceiptDraftsScreen
from ims_tui.services import purchasing, receiving
from ims_tui.services.auth import sign_in
from tests.auth_support import use_cheap_hasher
from tests.conftest import open_store
from tests.test_purchasing_service import MANAGER, RECEIVER, setup_catalogue
from tests.test_receiving_screen import make_app, scan, type_slowly

D = Decimal


@pytest.fixture
def shop(sqlite_url, monkeypatch):
    use_cheap_hasher(monkeypatch)
    store = open_store(sqlite_url)
    setup_catalogue(store)
    yield store
    store.dispose()


async def settle(pilot) -> None:
    for _ in range(50):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers) and not pilot.app.scan_detector.holding:
            return


async def as_manager(pilot, store) -> None:
    pilot.app.sign_in_complete(sign_in(store, "mona", "manager-pass-1", station="office").actor)
    await pilot.pause()
    await pilot.press("f7")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PurchaseOrdersScreen)


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector).content)


async def test_a_manager_creates_fills_by_scanning_and_orders_a_po(shop):
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await as_manager(pilot, shop)
        assert text(app.screen, "#po-filter") == "no open POs"
        await pilot.press("n")
        await type_slowly(pilot, "ACMESUPPLIES")  # the supplier's code
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PurchaseOrderScreen)
        number = screen.key
        await scan(pilot, "14006381333938")  # a case: 12
        await settle(pilot)
        await scan(pilot, "4006381333931")  # a unit: 13
        await settle(pilot)
        await pilot.press("a")
        await type_slowly(pilot, "MILK 5 0.70")
        await settle(pilot)
        view = purchasing.get_po(shop, MANAGER, number)
        assert [(ln.sku, ln.qty_ordered, ln.unit_cost) for ln in view.lines] == [
            ("PLAIN", D(13), D("1.10")), ("MILK", D(5), D("0.70"))]
        await pilot.press("q", "ctrl+u")  # quantity of the line under the cursor (PLAIN)
        await type_slowly(pilot, "24")
        await settle(pilot)
        await pilot.press("a")
        await type_slowly(pilot, "NOPE 1")
        await settle(pilot)
        assert text(screen, "#po-message") == "unknown product 'NOPE'" and app.bells == 1
        await pilot.press("o")
        await settle(pilot)
        assert text(screen, "#po-message") == f"{number} ordered"
        table = screen.query_one("#po-lines")
        assert [str(cell) for cell in table.get_row_at(0)][:6] == ["1", "PLAIN", "Product PLAIN", "24", "0", "24"]
        await pilot.press("escape")
        await settle(pilot)
        listing = app.screen.query_one("#po-list")
        assert [str(cell) for cell in listing.get_row_at(0)][:2] == [number, "ordered"]
    view = purchasing.get_po(shop, MANAGER, number)
    assert view.status == "ordered" and view.lines[0].qty_ordered == D(24)


async def test_a_po_scan_opens_it_and_a_manager_discards_a_forgotten_receipt(shop):
    number = purchasing.create_po(shop, MANAGER, "Acme Supplies", [purchasing.LineInput("PLAIN", D(5))]).number
    purchasing.order_po(shop, MANAGER, number)
    draft = receiving.start_receipt(shop, RECEIVER, po=number)
    app = make_app(shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await as_manager(pilot, shop)
        await scan(pilot, number)
        await settle(pilot)
        assert isinstance(app.screen, PurchaseOrderScreen) and app.screen.key == number
        await pilot.press("escape", "d")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReceiptDraftsScreen)
        row = [str(cell) for cell in screen.query_one("#drafts-list").get_row_at(0)]
        assert row[:5] == [str(draft.draft_id), "rita", "desk-1", number, "0"]
        await pilot.press("delete")
        assert receiving.list_receipt_drafts(shop, MANAGER, everyone=True)  # asks again first
        await pilot.press("delete")
        await settle(pilot)
        assert text(screen, "#po-message") == "no receipts in progress"
    assert receiving.resume_receipt(shop, RECEIVER) is None
