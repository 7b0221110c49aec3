"""Labels print from the product, location and purchase order screens by one key."""

from __future__ import annotations

from decimal import Decimal

from ims_tui.screens.labels import PrintLabelScreen
from ims_tui.screens.location import LocationScreen
from ims_tui.screens.product import ProductScreen
from ims_tui.screens.purchase_orders import PurchaseOrderScreen
from ims_tui.services.purchasing import LineInput, create_po
from tests.app_helpers import actor, make_app, settle, sign_in, stock_the_store


async def test_p_opens_the_label_dialog_for_what_is_on_screen(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "receiver")
        for screen, kind, code in ((ProductScreen("HEX-M6"), "product", "HEX-M6"), (LocationScreen("A-01-1"), "location", "A-01-1")):
            await app.push_screen(screen)
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            assert isinstance(app.screen, PrintLabelScreen)
            assert (app.screen.kind, app.screen.code) == (kind, code)
            await pilot.press("escape")
            await pilot.press("escape")
            await settle(pilot)


async def test_the_po_label_and_roles_without_label_printing(store):
    stock_the_store(store)
    po = create_po(store, actor("manager"), "Nordic Fasteners AB", [LineInput("HEX-M6", Decimal(10))])
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "manager")
        await app.push_screen(PurchaseOrderScreen(po.number))
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PrintLabelScreen) and app.screen.kind == "po"
        assert po.number in app.screen.query_one("#label-preview").render().plain

    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "auditor")
        await app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen), "an auditor has no label key"
