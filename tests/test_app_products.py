"""Managers edit products, barcodes and supplier items from the app; others are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input, Static

from ims_tui.screens.product import ProductScreen
from ims_tui.screens.product_edit import BarcodesScreen, ProductFormScreen
from ims_tui.services import products
from ims_tui.services.errors import BadInput, PermissionDenied, RuleViolation
from ims_tui.services.inventory import product_detail
from tests.app_helpers import EAN, actor, make_app, scan_burst, settle, sign_in, stock_the_store
from tests.conftest import open_store

SIZE = (80, 24)


def test_only_product_managers_may_change_the_catalogue(store):
    stock_the_store(store)
    with pytest.raises(PermissionDenied):
        products.update_product(store, actor("picker"), "HEX-M6", {"name": "Renamed"})
    with pytest.raises(PermissionDenied):
        products.add_barcode(store, actor("receiver"), "HEX-M6", "96385074")
    assert product_detail(store, actor("picker"), "HEX-M6").name == "Hex bolt M6 x 30 mm zinc"


def test_form_values_are_checked_before_anything_changes(store):
    stock_the_store(store)
    manager = actor("manager")
    with pytest.raises(BadInput, match="check digit|checksum|Invalid"):
        products.add_barcode(store, manager, "HEX-M6", "4006381333932")
    with pytest.raises(BadInput, match="more than 4 decimals"):
        products.update_product(store, manager, "HEX-M6", {"unit_price": "0.123456"})
    with pytest.raises(BadInput, match="not a number"):
        products.update_product(store, manager, "HEX-M6", {"reorder_point": "lots"})
    with pytest.raises(RuleViolation, match="already belongs"):
        products.add_barcode(store, manager, "NUT-M6", EAN)
    detail = product_detail(store, manager, "HEX-M6")
    assert detail.unit_price == Decimal("0.35") and detail.reorder_point == Decimal(20)


def test_manager_creates_and_edits_through_the_service(store):
    stock_the_store(store)
    manager = actor("manager")
    sku = products.create_product(store, manager, "TAPE-48", {"name": "Packing tape 48 mm", "unit_price": "2.10",
                                                              "tracking": "none", "uom": "roll"})
    products.add_barcode(store, manager, sku, "96385074", "1")
    products.set_supplier_item(store, manager, sku, "NORD", "NF-TAPE", "1.05", "5", "6")
    detail = product_detail(store, manager, sku)
    assert (detail.name, detail.uom, detail.unit_price) == ("Packing tape 48 mm", "roll", Decimal("2.10"))
    assert detail.barcodes == [("96385074", Decimal(1))]
    assert detail.supplier_items[0]["supplier_sku"] == "NF-TAPE" and detail.supplier_items[0]["lead_time_days"] == 5


@pytest.fixture
def app_store(sqlite_url):
    store = open_store(sqlite_url)
    stock_the_store(store)
    yield store
    store.dispose()


async def test_a_manager_edits_a_product_from_its_screen(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        product = app.screen
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ProductFormScreen)
        app.screen.query_one("#name", Input).value = "Hex bolt M6 x 30 mm"
        app.screen.query_one("#reorder_point", Input).value = "25"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        assert app.screen is product
        assert (product.detail.name, product.detail.reorder_point) == ("Hex bolt M6 x 30 mm", Decimal(25))


async def test_a_bad_value_stays_on_the_form_with_the_reason(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#unit_price", Input).value = "-1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProductFormScreen)
        assert "zero or more" in str(app.screen.query_one(".error-line", Static).render())
        assert app.bells == 1


async def test_a_scanned_barcode_fills_the_barcode_form(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("NUT-M6"))
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BarcodesScreen)
        scan_burst(app, "96385074")
        await settle(pilot)
        assert app.screen.query_one("#code", Input).value == "96385074"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        assert app.screen.detail.barcodes == [("96385074", Decimal(1))]


async def test_others_see_the_product_read_only(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        for key in ("e", "b", "u"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ProductScreen)
