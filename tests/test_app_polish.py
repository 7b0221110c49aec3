"""The 80-column station, polished (issue 18): footers, F1, the palette, scans, roles, Live, lots,
exports - each through the real app at 80x24."""

from __future__ import annotations

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from ims_tui.screens.home import HomeScreen
from ims_tui.screens.location import LocationScreen
from ims_tui.screens.product import ProductScreen
from ims_tui.screens.tasks import tasks_for
from tests.app_helpers import actor, make_app, settle, sign_in, stock_the_store
from tests.conftest import open_store

SIZE = (80, 24)


@pytest.fixture
def app_store(sqlite_url):
    store = open_store(sqlite_url)
    stock_the_store(store)
    yield store
    store.dispose()


def footer_labels(screen) -> list[str]:
    """The footer's keys as shown, each checked to lie whole inside the footer, none overlapping."""
    footer = screen.query_one(Footer)
    assert footer.virtual_size.width <= footer.size.width
    keys = sorted(footer.query(FooterKey), key=lambda key: key.region.x)
    right = footer.region.x
    for key in keys:
        label = f"{key.key_display} {key.description}"
        assert key.region.width >= len(label), f"cut label {label!r} on {type(screen).__name__}"
        assert key.region.x >= right and key.region.right <= footer.region.right, (
            f"label {label!r} cut or overlapped on {type(screen).__name__}")
        right = key.region.right
    return [f"{key.key_display} {key.description}" for key in keys]


async def open_task(pilot, role: str, key: str, kind: type | None = None):
    """Sign in as ``role``, press the task's ``key``; the screen it opened (checked to be ``kind``)."""
    await sign_in(pilot, role)
    await pilot.press(key)
    await settle(pilot)
    if kind is not None:
        assert isinstance(pilot.app.screen, kind), pilot.app.screen
    return pilot.app.screen


def registered_screens(app):
    yield "home", None
    for task in tasks_for(actor("admin")):
        yield task.id, task.screen
    yield "product", lambda: ProductScreen("HEX-M6")
    yield "location", lambda: LocationScreen("A-01-1")


async def test_every_screens_footer_fits_80_columns_with_whole_labels_and_help(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin")
        for name, factory in list(registered_screens(app)):
            if factory is not None:
                app.push_screen(factory())
                await settle(pilot)
            labels = footer_labels(app.screen)
            assert labels, name
            assert labels[-1].endswith("Help"), f"{name}: F1 Help not on the footer: {labels}"
            if factory is not None:
                app.pop_screen()
                await settle(pilot)


async def test_the_receive_footer_shows_its_own_keys_before_task_keys(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "admin", "f3")
        assert type(app.screen).__name__ == "ReceivingScreen"
        labels = footer_labels(app.screen)
        own = [binding.description for binding in type(app.screen).BINDINGS if binding.show and binding.description]
        assert [label.split(" ", 1)[1] for label in labels[: len(own)]] == own[: len(labels)]


async def open_receive(pilot):
    from ims_tui.screens.receiving import ReceivingScreen

    return await open_task(pilot, "admin", "f3", ReceivingScreen)


def own_descriptions(screen) -> list[str]:
    return [binding.description for binding in type(screen).BINDINGS if binding.description]


async def test_f1_on_receive_lists_its_own_keys_first_then_tasks_then_generic_keys(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        receive = await open_receive(pilot)
        own = own_descriptions(receive)
        await pilot.press("f1")
        await settle(pilot)
        descriptions = [description for _key, description in app.screen.rows]
        assert descriptions[: len(own)] == own
        task_titles = [task.title for task in tasks_for(app.actor)]
        tasks_shown = [d for d in descriptions if d in task_titles]
        assert {"Lookup", "Purchase orders", "Live"} <= set(tasks_shown)
        assert descriptions[len(own): len(own) + len(tasks_shown)] == tasks_shown
        generic = descriptions[len(own) + len(tasks_shown):]
        assert {"Help", "Focus Next", "Copy selected text"} <= set(generic)


async def test_the_palette_on_receive_offers_its_actions_and_tasks_with_keys_not_generic_entries(app_store):
    from textual.command import CommandList

    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        receive = await open_receive(pilot)
        own = own_descriptions(receive)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.pause(0.3)
        options = app.screen.query_one(CommandList)
        prompts = [str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)]
        assert [prompt.rsplit(" (", 1)[0] for prompt in prompts[: len(own)]] == own
        assert all(prompt.endswith(")") for prompt in prompts[: len(own)]), prompts
        assert "Open Lookup (F2)" in prompts
        for generic in ("Copy selected text", "Down", "First"):
            assert not any(prompt.startswith(generic) for prompt in prompts), prompts


async def test_lookup_with_exactly_four_matches_says_four_and_shows_no_more_row(app_store):
    from textual.widgets import Static

    from tests.conftest import make_product

    for n in range(1, 5):
        make_product(app_store, f"BRACKET-{n}", name=f"Wall bracket size {n}")
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "manager", "f2")
        for char in "BRACKET":
            await pilot.press(char)
        await settle(pilot)
        await pilot.pause(0.5)
        await settle(pilot)
        lookup = app.screen
        assert [hit.sku for hit in lookup.results.rows] == [f"BRACKET-{n}" for n in range(1, 5)]
        status = str(lookup.query_one("#lookup-status", Static).render())
        assert status.startswith("4 matches") and "4+" not in status and "more" not in status, status
        below = "".join(segment.text for segment in lookup.results.render_line(4))
        assert "more" not in below and "loading" not in below, below


async def test_a_product_scanned_on_the_po_list_opens_it_and_an_unknown_code_is_said_whole(app_store):
    from ims_tui.screens.purchase_orders import PurchaseOrdersScreen
    from tests.app_helpers import EAN, scan_burst

    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "manager", "f7", PurchaseOrdersScreen)
        scan_burst(app, "NO-SUCH-CODE-77")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, PurchaseOrdersScreen)
        assert app.messages[-1].startswith("unknown") or "NO-SUCH-CODE-77" in app.messages[-1], app.messages[-1]
        assert "scan a purchase" not in app.messages[-1]
        scan_burst(app, EAN)
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, ProductScreen) and app.screen.detail.sku == "HEX-M6"


async def test_after_i_typing_or_pasting_a_path_goes_to_the_path_field(app_store):
    from textual import events
    from textual.widgets import Input

    from ims_tui.screens.import_wizard import ImportScreen

    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "admin", "i", ImportScreen)
        field = app.screen.query_one("#import-file", Input)
        assert app.focused is field
        await pilot.press("tab")
        await settle(pilot)
        for char in "/tmp/a":
            await pilot.press(char)
        app.post_message(events.Paste(".csv"))
        await settle(pilot)
        assert field.value == "/tmp/a.csv" and app.focused is field
        assert not any(label.endswith("Change column") for label in footer_labels(app.screen))


@pytest.mark.parametrize("role", ["picker", "receiver"])
async def test_a_role_is_not_offered_po_actions_it_cannot_take(app_store, role):
    from ims_tui.screens.purchase_orders import PurchaseOrdersScreen

    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, role, "f7", PurchaseOrdersScreen)
        labels = footer_labels(app.screen)
        assert not any("New PO" in label for label in labels), labels
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.mode is None and not app.screen.query_one("#po-input").display, "n asked for a supplier"
        await pilot.press("f1")
        await settle(pilot)
        assert "New PO" not in [description for _key, description in app.screen.rows]


async def test_a_manager_is_offered_new_po(app_store):
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "manager", "f7")
        assert any("New PO" in label for label in footer_labels(app.screen))


async def test_live_at_80_columns_dates_past_movements_and_never_cuts_a_code(app_store):
    from decimal import Decimal

    from ims_tui.screens.live import LiveScreen
    from ims_tui.services import stock
    from tests.conftest import make_locations

    make_locations(app_store, "WH1-A-02-03", "CUSTOMER")
    stock.receive(app_store, actor("admin", "warehouse-supervisor", "receiving-dock-7"), "NUT-M6",
                  Decimal(20000), to="WH1-A-02-03")
    stock.move(app_store, actor("admin", "warehouse-supervisor", "receiving-dock-7"), "NUT-M6", Decimal(12000),
               source="WH1-A-02-03", to="CUSTOMER")
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "manager", "f11", LiveScreen)
        table = app.screen.query_one("#live-table")
        assert table.virtual_size.width <= table.scrollable_content_region.width, "the table is wider than 80 columns"
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert rows[0][0] == "15 Jan 09:30" or rows[0][0].startswith("15 Jan"), rows[0]  # the demo's past, dated
        assert ":" in rows[-1][0] and "Jan" not in rows[-1][0] and len(rows[-1][0]) == 8  # today: the time only
        assert rows[-1][2].plain == "12000 ea" and rows[-1][3] == "NUT-M6"
        assert rows[-1][4] == "WH1-A-02-03 -> CUSTOMER"
        who = rows[-1][5]
        assert who.plain.startswith("ware") and who.plain.endswith("…"), who.plain  # the name gave way
        await settle(pilot)
        status = str(app.screen.query_one("#live-status").render())
        assert status.startswith("warehouse-supervisor @ receiving-dock-7: move 12000 ea NUT-M6"), status


async def test_expired_and_expiring_lots_are_marked_on_the_product_page_in_words_and_colour(app_store):
    import datetime as dt
    from decimal import Decimal

    from rich.console import Console
    from textual.widgets import Static

    from ims_tui.services import ledger

    soon = dt.date.today() + dt.timedelta(days=10)
    later = dt.date.today() + dt.timedelta(days=200)
    with app_store.write() as session:
        for n, (lot, expiry) in enumerate((("L-SOON", soon), ("L-LATER", later))):
            ledger.post(session, actor("receiver"), "receive",
                        [ledger.StockMove("WATER-05", Decimal(6), "SUPPLIER", "A-01-1", lot=lot, expiry=expiry)],
                        key=f"polish-lot-{n}")
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        app.push_screen(ProductScreen("WATER-05"))
        await settle(pilot)
        stock = app.screen.query_one("#product-stock", Static).content
        plain = Console(width=78, no_color=True, record=True, file=open("/dev/null", "w"))
        plain.print(stock)
        lines = {line.split()[1]: line for line in plain.export_text().splitlines() if " L-" in line or " L2" in line}
        assert "EXPIRED" in lines["L2501"]
        assert "expires in 10 d" in lines["L-SOON"]
        assert "expire" not in lines["L-LATER"].lower()
        coloured = Console(width=78, color_system="truecolor", record=True, file=open("/dev/null", "w"))
        coloured.print(stock)
        styled = coloured.export_text(styles=True)
        assert "\x1b[" in styled.split("EXPIRED")[0].rsplit("\n", 1)[-1][-30:], "EXPIRED is not coloured"


async def test_exports_offer_the_last_folder_per_user_and_say_where_the_file_went(app_store, tmp_path):
    from pathlib import Path

    from textual.widgets import Input, Static

    from ims_tui.screens.export_dialog import ExportScreen
    from ims_tui.screens.reports import ReportsScreen

    folder = tmp_path / "exports"
    folder.mkdir()
    app = make_app(app_store)
    async with app.run_test(size=SIZE) as pilot:
        await open_task(pilot, "manager", "w", ExportScreen)
        field = app.screen.query_one("#export-file", Input)
        assert field.suggester is not None  # completion, as the import wizard has
        assert str(folder) not in field.value
        field.value = f"{folder}/products.csv"
        field.focus()
        await pilot.press("enter")
        await settle(pilot)
        await settle(pilot)
        assert (folder / "products.csv").is_file()
        said = str(app.screen.query_one("#export-result", Static).render())
        assert str(folder / "products.csv") in said, said
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        offered = app.screen.query_one("#export-file", Input).value
        assert Path(offered).parent == folder and Path(offered).name.startswith("ims-products-"), offered
        await pilot.press("f9")
        await settle(pilot)
        assert isinstance(app.screen, ReportsScreen)
        await pilot.press("ctrl+e")
        await settle(pilot)
        report_file = app.screen.query_one("#report-file", Input)
        assert Path(report_file.value).parent == folder and report_file.suggester is not None
        # another user on the same station starts from the default folder
        app.sign_in_complete(actor("manager", "other-manager"))
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert Path(app.screen.query_one("#export-file", Input).value).parent != folder
