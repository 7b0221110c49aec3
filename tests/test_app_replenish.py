"""Replenishment on the station: the open-alerts badge follows other stations within a second,
the alert list, the suggested POs (a changed quantity, a refused one, one key that creates the
drafts once) and the reorder settings on the product - on SQLite and PostgreSQL.

The other station is the ``ims`` CLI in its own process, so its commit reaches this app through
the change feed exactly as between two machines.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from textual.widgets import Input, Static

from ims_tui.db.engine import Store
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.product import ProductScreen
from ims_tui.screens.product_edit import ReorderSettingsScreen
from ims_tui.screens.replenishment import LineRow, ReplenishScreen, SuggestedOrdersScreen
from ims_tui.services import catalogue, ledger, purchasing, replenishment
from ims_tui.services.actor import Actor
from tests.app_helpers import live_within, make_app, settle, sign_in, stock_the_store, wait_until
from tests.conftest import make_product
from tests.test_app_live import other_station

SIZE = (80, 24)
MANAGER = Actor("manager", "manager", "station-1")
SETUP = Actor("setup", "admin", "test")


def alert_store(store: Store) -> None:
    """``stock_the_store`` plus two suppliers and three products in alert in WH1:

    - HEX-M6 (40 on hand, Nordic Fasteners, MOQ 50, packs of 25): reorder point 60, order 30
      -> suggested max(30, 60 - 40) = 30, at least 50 = 50 (two packs);
    - NUT-M6 (100 on hand, Nordic Fasteners, packs of 10): reorder point 150, order 80 -> 80;
    - TAPE-48 (none on hand, Acme Tapes, packs of 6): reorder point 12, maximum 40 -> 40 - 0 = 40,
      in packs of 6 = 42.
    """
    stock_the_store(store)
    make_product(store, "TAPE-48", name="Packing tape 48 mm", cost="1.10", uom="roll")
    with store.write() as session:
        nordic = purchasing.find_supplier(session, "NORD")
        acme = catalogue.save_supplier(session, SETUP, "Acme Tapes", {"code": "ACME", "lead_time_days": 3})
        for sku, supplier, cost, moq, pack in (("HEX-M6", nordic, "0.21", 50, 25), ("NUT-M6", nordic, "0.06", 1, 10),
                                               ("TAPE-48", acme, "0.95", 1, 6)):
            product = catalogue.resolve_product(session, sku)
            catalogue.set_supplier_item(session, SETUP, product, supplier, f"S-{sku}", cost=Decimal(cost),
                                        lead_time_days=5, min_order_qty=Decimal(moq), pack_qty=Decimal(pack))
    replenishment.set_reorder_settings(store, SETUP, "HEX-M6", reorder_point="60", reorder_qty="30", supplier="NORD")
    replenishment.set_reorder_settings(store, SETUP, "NUT-M6", reorder_point="150", reorder_qty="80", supplier="NORD")
    replenishment.set_reorder_settings(store, SETUP, "TAPE-48", reorder_point="12", max_qty="40", supplier="ACME")


def badge(app) -> str | None:
    """The footer badge's words on the current screen, or None when there is none."""
    found = app.screen.query("#alert-badge")
    return str(found.first().render()) if found else None


def message(screen) -> str:
    return str(screen.query_one("#po-message", Static).render())


async def test_the_badge_follows_an_alert_raised_and_cleared_on_another_station(store):
    alert_store(store)
    replenishment.set_reorder_settings(store, SETUP, "WATER-05", reorder_point="20", supplier="")
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        assert isinstance(app.screen, HomeScreen) and badge(app) == "3 alerts"
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReplenishScreen) and badge(app) == "3 alerts"
        # another station issues 5 of the 24 waters: projected 19 < 20 raises the alert
        other_station(store.url, "stock", "issue", "WATER-05", "5", "--from", "A-01-2", "--lot", "L2501")
        raised = await wait_until(pilot, lambda: badge(app) == "4 alerts", timeout=live_within())
        await wait_until(pilot, lambda: "WATER-05" in [row.sku for row in screen.alerts.rows], timeout=live_within())
        water = next(row for row in screen.alerts.rows if row.sku == "WATER-05")
        assert (water.projected, water.reorder_point, water.warehouse) == (Decimal(19), Decimal(20), "WH1")
        # a receipt that lifts it clears it, on the badge and on the list
        other_station(store.url, "stock", "receive", "WATER-05", "6", "--to", "A-01-2", "--lot", "L2501",
                      "--expiry", "2025-06-30")
        cleared = await wait_until(pilot, lambda: badge(app) == "3 alerts", timeout=live_within())
        await wait_until(pilot, lambda: "WATER-05" not in [row.sku for row in screen.alerts.rows], timeout=live_within())
        print(f"badge followed the other station in {raised * 1000:.0f} ms (raised), {cleared * 1000:.0f} ms (cleared)")


async def test_roles_that_may_not_replenish_see_no_badge_and_no_task(store):
    alert_store(store)
    for role in ("picker", "receiver", "auditor"):
        app = make_app(store)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, role)
            assert app.open_alerts is None and badge(app) is None
            await pilot.press("f8")
            await settle(pilot)
            assert isinstance(app.screen, HomeScreen), f"{role} opened {app.screen}"
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin")
        assert badge(app) == "3 alerts"


async def test_the_alert_list_shows_each_alert_and_opens_its_product(store):
    alert_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        rows = {row.sku: row for row in screen.alerts.rows}
        assert set(rows) == {"HEX-M6", "NUT-M6", "TAPE-48"}
        hex_bolt = rows["HEX-M6"]
        assert (hex_bolt.projected, hex_bolt.reorder_point, hex_bolt.on_order, hex_bolt.suggested_qty, hex_bolt.supplier) \
            == (Decimal(40), Decimal(60), Decimal(0), Decimal(50), "Nordic Fasteners AB")
        assert rows["TAPE-48"].suggested_qty == Decimal(42)  # max 40 - projected 0, in packs of 6
        assert str(screen.query_one("#alert-filter", Static).render()) == "3 open alerts"
        header = str(screen.query_one("#alert-columns", Static).render())
        for column in ("SKU", "Whse", "Projected", "Reorder", "On order", "Suggest", "Supplier", "Order by"):
            assert column in header
        first = screen.alerts.highlighted
        assert first.sku in str(screen.query_one("#alert-detail", Static).render())
        await pilot.press("slash", *"tape", "enter")
        await settle(pilot)
        assert [row.sku for row in screen.alerts.rows] == ["TAPE-48"]
        assert app.focused is screen.alerts
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen) and app.screen.key == "TAPE-48"
        assert "ALERT" in str(app.screen.query_one("#product-reorder", Static).render())


async def test_a_quantity_is_changed_a_bad_one_refused_and_one_key_creates_the_pos_once(store):
    alert_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SuggestedOrdersScreen)
        assert [(g.supplier, [ln.sku for ln in g.lines]) for g in screen.groups] == [
            ("Acme Tapes", ["TAPE-48"]), ("Nordic Fasteners AB", ["HEX-M6", "NUT-M6"])]

        async def set_quantity(sku: str, text: str) -> None:
            screen.suggestions.cursor = next(i for i, row in enumerate(screen.suggestions.rows)
                                             if isinstance(row, LineRow) and row.line.sku == sku)
            await pilot.press("q")
            await settle(pilot)
            field = screen.query_one("#po-input", Input)
            assert field.has_focus and field.value
            field.value = text
            await pilot.press("enter")
            await settle(pilot)

        for text, refusal in (("lots", "not a number"), ("-50", "cannot be negative"), ("50.5", "whole ea"),
                              ("25", "below the supplier's minimum order of 50"), ("60", "packs of 25")):
            bells = app.bells
            await set_quantity("HEX-M6", text)
            assert refusal in message(screen) and app.bells == bells + 1, (text, message(screen))
            assert screen.quantities == {}
        await set_quantity("HEX-M6", "75")
        await set_quantity("TAPE-48", "48")
        assert screen.quantities == {"HEX-M6": Decimal(75), "TAPE-48": Decimal(48)}
        changed = {row.line.sku: row.qty for row in screen.suggestions.rows if isinstance(row, LineRow)}
        assert changed == {"TAPE-48": Decimal(48), "HEX-M6": Decimal(75), "NUT-M6": Decimal(80)}

        await pilot.press("c")
        await settle(pilot)
        assert message(screen) == "press c again to create 2 draft POs (3 lines)"
        assert purchasing.list_pos(store, MANAGER) == []
        await pilot.press("c")
        await settle(pilot)
        await wait_until(pilot, lambda: screen.created and not screen.groups, timeout=2.0)
        numbers = [order.number for order in screen.created]
        assert len(numbers) == 2 and all(number in message(screen) for number in numbers)
        assert all(number in str(screen.query_one("#suggestion-scope", Static).render()) for number in numbers)
        lines = {}
        for number in numbers:
            view = purchasing.get_po(store, MANAGER, number)
            assert view.status == "draft"
            lines.update({line.sku: line.qty_ordered for line in view.lines})
        assert lines == {"TAPE-48": Decimal(48), "HEX-M6": Decimal(75), "NUT-M6": Decimal(80)}

        await pilot.press("c")
        await settle(pilot)
        assert "nothing to order" in message(screen)
        assert replenishment.create_orders(store, MANAGER) == []
        assert len(purchasing.list_pos(store, MANAGER)) == 2


async def test_reorder_settings_are_saved_from_the_product_screen(store):
    alert_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("NUT-M6"))
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ReorderSettingsScreen)
        assert form.query_one("#reorder_point", Input).value == "150"
        assert "From demand" in str(form.query_one("#rop-suggestion", Static).render())
        form.query_one("#reorder_point", Input).value = "lots"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and "not a number" in str(form.query_one(".error-line", Static).render())
        for name, value in (("reorder_point", "90"), ("reorder_qty", "60"), ("max_qty", "200"), ("safety_stock", "15")):
            form.query_one(f"#{name}", Input).value = value
        form.query_one("#supplier", Input).value = "ACME"
        await pilot.press("ctrl+s")
        await settle(pilot)
        product = app.screen
        assert isinstance(product, ProductScreen)
        [saved] = replenishment.get_reorder_settings(store, MANAGER, "NUT-M6")
        assert (saved.reorder_point, saved.reorder_qty, saved.max_qty, saved.safety_stock, saved.supplier) == (
            Decimal(90), Decimal(60), Decimal(200), Decimal(15), "Acme Tapes")
        assert not saved.in_alert  # 100 on hand is above the new point of 90
        await wait_until(pilot, lambda: "at 90 (safety 15)" in str(product.query_one("#product-reorder", Static).render()),
                         timeout=live_within())
        await wait_until(pilot, lambda: badge(app) == "2 alerts", timeout=live_within())


async def test_a_manager_applies_the_reorder_point_suggested_from_demand(store):
    alert_store(store)
    today = dt.datetime.now(dt.timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    with store.write() as session:  # 3 a day to customers over the last 30 days
        for day in range(1, 31):
            ledger.post(session, SETUP, "issue", [ledger.StockMove("NUT-M6", Decimal(3), "A-01-1", "CUSTOMER")],
                        key=f"demand-{day}", at=today - dt.timedelta(days=day))
    [suggestion] = replenishment.reorder_points(store, MANAGER, skus=["NUT-M6"])
    assert suggestion.suggested != Decimal(150)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("NUT-M6"))
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        form = app.screen
        shown = str(form.query_one("#rop-suggestion", Static).render())
        assert f"suggested point {suggestion.suggested.normalize():f}" in shown and "lead 5 d" in shown
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen)
    [saved] = replenishment.get_reorder_settings(store, MANAGER, "NUT-M6")
    assert (saved.reorder_point, saved.safety_stock) == (suggestion.suggested, suggestion.safety_stock)



async def test_the_pack_multiple_is_set_on_the_supplier_item_and_rounds_the_suggestion(store):
    alert_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("NUT-M6"))
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        form = app.screen
        assert form.query_one("#pack", Input).value == "10"
        form.query_one("#pack", Input).value = "0"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and "at least 1" in str(form.query_one(".error-line", Static).render())
        form.query_one("#pack", Input).value = "30"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen)
    [settings] = replenishment.get_reorder_settings(store, MANAGER, "NUT-M6")
    assert settings.pack_qty == Decimal(30)
    suggested = {line.sku: line.qty for group in replenishment.suggest(store, MANAGER) for line in group.lines}
    assert suggested["NUT-M6"] == Decimal(90)  # the order quantity of 80 in whole packs of 30


async def test_a_po_made_on_another_station_takes_its_line_off_the_suggestions(store):
    alert_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f8", "o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SuggestedOrdersScreen)
        assert isinstance(screen.suggestions.highlighted, LineRow)  # the cursor starts on the first line

        def suggested() -> set[str]:
            return {row.line.sku for row in screen.suggestions.rows if isinstance(row, LineRow)}

        assert suggested() == {"HEX-M6", "NUT-M6", "TAPE-48"}
        other_station(store.url, "po", "create", "--supplier", "Acme Tapes", "--line", "TAPE-48:42")
        await wait_until(pilot, lambda: suggested() == {"HEX-M6", "NUT-M6"}, timeout=live_within())
        await wait_until(pilot, lambda: badge(app) == "2 alerts", timeout=live_within())
