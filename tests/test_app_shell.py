"""The station app driven through the real Textual app at 80x24: scans, roles, keys, size, lock."""

from __future__ import annotations

import pytest

from ims_tui.screens.base import TooSmallScreen
from ims_tui.screens.help import HelpScreen
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.location import LocationScreen
from ims_tui.screens.lookup import LookupScreen
from ims_tui.screens.product import ProductScreen
from ims_tui.screens.tasks import tasks_for
from textual.widgets import Input, OptionList
from tests.app_helpers import EAN, GS, actor, make_app, scan_burst, settle, sign_in, stock_the_store, type_slowly
from tests.conftest import open_store

SIZE = (80, 24)


@pytest.fixture
def app_store(sqlite_url):
    store = open_store(sqlite_url)
    stock_the_store(store)
    yield store
    store.dispose()


async def open_lookup(pilot) -> LookupScreen:
    await sign_in(pilot, "manager")
    await pilot.press("f2")
    await settle(pilot)
    assert isinstance(pilot.app.screen, LookupScreen)
    return pilot.app.screen


@pytest.mark.parametrize("terminator", ["enter", "ctrl+j", "tab"])
async def test_a_scan_burst_opens_the_product_whatever_the_terminator(app_store, terminator):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        lookup = await open_lookup(pilot)
        scan_burst(app, EAN, terminator)
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen)
        assert app.screen.detail is not None and app.screen.detail.sku == "HEX-M6"
        assert lookup.search_text == "", "scanned characters leaked into the search field"
        assert app.bells == 0


async def test_the_same_characters_typed_slowly_stay_a_search(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        lookup = await open_lookup(pilot)
        await type_slowly(pilot, EAN)
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        assert lookup.search_text == EAN
        assert [hit.sku for hit in lookup.results.rows] == ["HEX-M6"]


async def test_fast_typing_without_terminator_reaches_the_field_in_order(app_store):
    """A burst that never ends in a terminator was typing (e.g. a paste-like fast typist)."""
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        lookup = await open_lookup(pilot)
        await pilot.press(*"nyloc")
        await pilot.pause(0.1)
        await settle(pilot)
        assert lookup.search_text == "nyloc"
        assert [hit.sku for hit in lookup.results.rows] == ["NUT-M6"]


async def test_a_gs1_scan_with_gs_separators_finds_the_product_by_gtin(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        gs1 = f"]C101{'0' + EAN}10LOT7{GS}17261231{GS}3710"
        scan_burst(app, gs1, "enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen)
        assert app.screen.key == "HEX-M6"


async def test_a_bin_scan_opens_the_location_contents(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "receiver")
        scan_burst(app, "A-01-2", "tab")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, LocationScreen)
        assert {(row.sku, row.lot) for row in app.screen.contents.rows} == {("HEX-M6", None), ("WATER-05", "L2501")}


async def test_an_unknown_code_rings_and_says_so(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        scan_burst(app, "9999XYZ", "enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.bells == 1
        assert app.messages[-1].startswith("unknown code: 9999XYZ")


async def test_a_too_small_terminal_says_how_large_it_must_be(app_store):
    app = make_app(app_store)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        message = str(app.screen.query_one("#too-small-message").render())
        assert "60x20" in message and "80x24" in message
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not isinstance(app.screen, TooSmallScreen)


@pytest.mark.parametrize("role", ["admin", "manager", "receiver", "picker", "auditor"])
async def test_the_home_screen_offers_the_tasks_the_role_allows(app_store, role):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, role)
        options = app.screen.query_one("#tasks", OptionList)
        shown = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert shown == [task.id for task in tasks_for(actor(role))]
        assert "lookup" in shown
        assert ("live" in shown) == (role in ("admin", "manager", "auditor"))
        assert ("receive" in shown) == (role in ("admin", "receiver")) or "receive" not in [t.id for t in app.tasks]


async def test_a_task_key_the_role_lacks_does_nothing(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        await pilot.press("f11")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_escape_goes_back_one_screen_and_never_past_home(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_lookup(pilot)
        scan_burst(app, EAN)
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_f1_lists_the_current_screens_keys_by_role(app_store):
    async def keys_on_product(role: str) -> list[str]:
        app = make_app(app_store)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, role)
            app.push_screen(ProductScreen("HEX-M6"))
            await settle(pilot)
            await pilot.press("f1")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            return [description for _, description in app.screen.rows]

    manager_keys = await keys_on_product("manager")
    assert {"Edit", "Barcodes", "Supplier item", "Back"} <= set(manager_keys)
    picker_keys = await keys_on_product("picker")
    assert "Edit" not in picker_keys and "Back" in picker_keys


async def test_the_palette_commands_follow_the_screen(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        home_titles = {command.title.split(" (")[0] for command in app.get_system_commands(app.screen)}
        assert "Open Lookup" in home_titles and "Edit" not in home_titles
        app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        product_titles = {command.title.split(" (")[0] for command in app.get_system_commands(app.screen)}
        assert {"Edit", "Barcodes", "Open Lookup", "High contrast theme"} <= product_titles


async def test_a_station_config_remaps_keys_by_binding_id(app_store):
    app = make_app(app_store, keys={"lookup": "f6", "help": "f12"})
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)


async def test_the_app_starts_on_sign_in_and_idles_into_the_lock_screen(app_store):
    from ims_tui.screens.signin import LockScreen, SignInScreen

    app = make_app(app_store, idle_lock_minutes=0.004)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        await sign_in(pilot, "manager")
        await pilot.pause(0.6)
        assert isinstance(app.screen, LockScreen)
        await pilot.press("f2")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen), "the lock screen must not be escaped or bypassed"


async def test_high_contrast_theme_from_config_and_no_color(app_store, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(app_store, theme="high-contrast")
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        assert app.theme == "high-contrast"
        assert app.no_color
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


async def test_typed_search_opens_the_product_with_enter(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        lookup = await open_lookup(pilot)
        await type_slowly(pilot, "nf-99", gap=0.06)
        await settle(pilot)
        assert [hit.sku for hit in lookup.results.rows] == ["HEX-M6"]
        await pilot.pause(0.06)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen) and app.screen.key == "HEX-M6"
        assert isinstance(lookup.query_one("#search"), Input)


async def test_the_results_list_pages_from_the_database_as_the_cursor_moves(sqlite_url):
    from tests.conftest import make_product

    store = open_store(sqlite_url)
    for number in range(130):
        make_product(store, f"P-{number:03d}", name=f"Part {number}")
    make_product(store, "Q-1", name="Washer for P-0 parts")
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        lookup = await open_lookup(pilot)
        assert len(lookup.results.rows) == 50 and lookup.results.has_more
        lookup.results.focus()
        while lookup.results.has_more:
            await pilot.press("end")
            await settle(pilot)
        assert [hit.sku for hit in lookup.results.rows] == [f"P-{n:03d}" for n in range(130)] + ["Q-1"]
        await pilot.press("ctrl+f")
        await type_slowly(pilot, "p-0", gap=0.06)
        await pilot.pause(0.06)
        await settle(pilot)
        # 50 prefix matches fill the page; the slower 'contains' stage waits to be scrolled to
        assert {hit.matched_by for hit in lookup.results.rows} == {"sku"} and lookup.results.has_more
        lookup.results.focus()
        while lookup.results.has_more:
            await pilot.press("end")
            await settle(pilot)
        assert [hit.sku for hit in lookup.results.rows][-1] == "Q-1"
    store.dispose()
