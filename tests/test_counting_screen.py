"""Counting through the real app at 80x24 with keyboard-wedge scan bursts only; BLIND asserted on
every rendered screen a counter sees."""

from __future__ import annotations

import asyncio
import html
import re
from decimal import Decimal

import pytest

from ims_tui.screens.counting import CountingScreen
from ims_tui.services import counts, stock
from tests.app_helpers import actor, make_app, scan_burst, type_slowly, wait_until
from tests.conftest import make_locations, make_product, open_store
from tests.test_flow_counting import CASE, MANAGER, MILK_LABEL
from tests.test_receiving_screen import settle

D = Decimal
ADMIN = actor("admin", "setup")
PLAIN = "4006381333931"
EXPECTED = {"PLAIN": 7, "CASEY": 137, "MILK": 59}


@pytest.fixture
def shelf(store_url):
    store = open_store(store_url)
    make_locations(store, "B-01", "B-02")
    make_product(store, "PLAIN", cost="2.00", barcodes=((PLAIN, 1),))
    make_product(store, "CASEY", cost="1.00", barcodes=(("05012345678900", 1), (CASE, 12)))
    make_product(store, "MILK", tracking="lot", cost="1.00", barcodes=(("09501101530003", 1),))
    for sku, qty in EXPECTED.items():
        stock.receive(store, ADMIN, sku, D(qty), to="B-01", lot="L7" if sku == "MILK" else None)
    yield store
    store.dispose()


def rendered(app) -> str:
    """The text on the terminal now, as the counter sees it."""
    svg = app.export_screenshot()
    svg = re.sub(r"<style.*?</style>|<title>.*?</title>", "", svg, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def scan(pilot, text: str, seen: list[str], keys: list[int]) -> None:
    scan_burst(pilot.app, text)
    keys[0] += 1
    await settle(pilot)
    seen.append(rendered(pilot.app))


async def key(pilot, name: str, seen: list[str], keys: list[int]) -> None:
    await pilot.press(name)
    keys[0] += 1
    await settle(pilot)
    seen.append(rendered(pilot.app))


async def test_a_bin_with_three_products_is_counted_by_scans_and_nothing_expected_is_ever_shown(shelf):
    task = counts.create_count(shelf, MANAGER, locations=["B-01", "B-02"])
    app = make_app(shelf, idle_lock_minutes=0)
    seen: list[str] = []
    keys = [0]
    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(actor("picker", "anna"))
        await settle(pilot)
        await key(pilot, "f6", seen, keys)
        screen = app.screen
        assert isinstance(screen, CountingScreen)
        try:                                                    # the open counts are listed
            await wait_until(pilot, lambda: task.number in rendered(app), timeout=30)
        except AssertionError:
            raise AssertionError(f"{task.number} not listed; flow step {screen.flow.step!r}, open counts "
                                 f"{[c.number for c in screen.flow.open_counts]}, messages {list(app.messages)}, "
                                 f"screen:\n{rendered(app)}") from None
        seen.append(rendered(app))
        keys[0] = 0                                             # count from the task on
        await scan(pilot, task.number, seen, keys)
        assert "B-01" in screen.flow.prompt
        await scan(pilot, "B-01", seen, keys)
        await scan(pilot, PLAIN, seen, keys)                    # plain: scan each unit ...
        for _ in range(6):
            await scan(pilot, PLAIN, seen, keys)
        for _ in range(11):                                     # case: 11 cases of 12 ...
            await scan(pilot, CASE, seen, keys)
        for _ in range(5):                                      # ... and 5 loose
            await scan(pilot, "05012345678900", seen, keys)
        await scan(pilot, MILK_LABEL, seen, keys)               # lot: the GS1 label, then the figure
        await type_slowly(pilot, "59")
        await pilot.press("enter")
        keys[0] += 3
        await settle(pilot)
        seen.append(rendered(app))
        await key(pilot, "f8", seen, keys)                      # bin done
        bin_keys = keys[0]
        assert screen.flow.step == "bin" and "B-02" in screen.flow.prompt
        await scan(pilot, "B-02", seen, keys)
        await key(pilot, "f7", seen, keys)                      # bin empty: one key
        await key(pilot, "f10", seen, keys)
        await key(pilot, "f10", seen, keys)
        assert "submitted" in " ".join(app.messages)
    view = counts.get_count(shelf, MANAGER, task.number)
    assert {ln.sku: ln.counted for ln in view.lines} == {"PLAIN": 7, "CASEY": 137, "MILK": 59}
    assert bin_keys == 1 + 1 + 7 + 11 + 5 + 1 + 3 + 1           # count number, bin, scans, "59"+Enter, F8
    # BLIND: no screen the counter saw shows a quantity the store expects before they counted it
    for screen_text in seen:
        assert "Expected" not in screen_text and "Variance" not in screen_text
    before_counted = seen[:3]                                   # the list, the count picked, the bin scanned
    for screen_text in before_counted:
        for figure in EXPECTED.values():
            assert not re.search(rf"(?<![\w.:-]){figure}(?![\w.:-])", screen_text), screen_text


async def test_a_manager_creates_reviews_sees_the_variance_and_approves_through_the_app(shelf):
    from ims_tui.screens.counts_review import CountsScreen
    from ims_tui.services.stock_settings import change_settings
    from tests.test_flow_counting import ANNA

    change_settings(shelf, MANAGER, {"count.tolerance_pct": "1", "count.tolerance_value": "0.5"})
    app = make_app(shelf, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(actor("manager", "mgr"))
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CountsScreen)
        await pilot.press("ctrl+n")
        await type_slowly(pilot, "bins B-01")
        await pilot.press("enter")
        await settle(pilot)
        number = counts.list_counts(shelf, MANAGER)[0].number
        assert f"{number} created" in " ".join(app.messages)
        # a counter counts 5 PLAIN (7 expected) and submits; another recounts 5: the manager reviews
        counts.record(shelf, ANNA, number, "B-01", "PLAIN", D(5))
        counts.record(shelf, ANNA, number, "B-01", "CASEY", D(137))
        counts.record(shelf, ANNA, number, "B-01", "MILK", D(59), lot="L7")
        counts.bin_done(shelf, ANNA, number, "B-01")
        counts.submit(shelf, ANNA, number)
        counts.record(shelf, actor("picker", "bob"), number, "B-01", "PLAIN", D(5))
        counts.bin_done(shelf, actor("picker", "bob"), number, "B-01")
        await settle(pilot)
        await pilot.press("enter")                               # open the newest count
        await settle(pilot)
        text = rendered(app)
        assert "exp      7" in text and "var     -2" in text and "-4.00" in text, text   # quantity and value
        await pilot.press("f10", "f10")
        await settle(pilot)
        assert f"{number} approved" in " ".join(app.messages), list(app.messages)[-3:]
    assert counts.get_count(shelf, MANAGER, number).status == "approved"


async def test_the_flow_table_fits_its_columns_to_the_cells_as_soon_as_it_shows_them(shelf):
    """A table left to measure itself on its next idle showed columns cut to their headers' width
    ("PLA  Prod" for PLAIN) on a loaded machine; the flow screen sizes them when it fills them."""
    from textual.coordinate import Coordinate

    task = counts.create_count(shelf, MANAGER, locations=["B-01", "B-02"])
    app = make_app(shelf, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(actor("picker", "anna"))
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        screen = app.screen
        outcome = await asyncio.to_thread(screen.flow.scan, task.number)  # the count's bins replace the list
        screen._show(outcome)                                   # no idle in between: what the next frame paints
        table = screen.query_one("#flow-lines")
        assert [str(column.label) for column in table.ordered_columns] == ["Bin", "Status", "By"]
        for index, column in enumerate(table.ordered_columns):
            longest = max(len(str(table.get_cell_at(Coordinate(row, index)))) for row in range(table.row_count))
            shown = column.get_render_width(table) - 2 * table.cell_padding
            assert shown >= longest, (str(column.label), shown, longest)
