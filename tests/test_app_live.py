"""Two stations on one store: a posting on one shows on the other's open screens within a second.

The other station is a separate process (the ``ims`` CLI), so the change crosses connections
exactly as between two machines: PostgreSQL LISTEN/NOTIFY, SQLite ``PRAGMA data_version``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

from ims_tui.screens.live import LiveScreen
from ims_tui.screens.location import LocationScreen
from ims_tui.screens.lookup import LookupScreen
from ims_tui.screens.product import ProductScreen
from ims_tui.services.changes import open_feed
from ims_tui.services import stock
from tests.app_helpers import actor, live_within, make_app, settle, sign_in, stock_the_store, wait_until

SIZE = (80, 24)


def other_station(url: str, *args: str) -> None:
    """Run ``ims`` as station-2 in its own process (its own connections, its own commit)."""
    env = {**os.environ, "IMS_CONFIG": "/nonexistent/station.toml"}
    subprocess.run(
        [sys.executable, "-m", "ims_tui", "--db", url, "--station", "station-2", *args],
        check=True, env=env, capture_output=True, timeout=60,
    )


async def test_a_receipt_on_another_station_updates_the_open_product_screen(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        app.push_screen(ProductScreen("HEX-M6"))
        await settle(pilot)
        screen = app.screen
        assert screen.detail.on_hand == Decimal(40)
        loads = screen.loads
        other_station(store.url, "stock", "receive", "HEX-M6", "5", "--to", "A-01-2")
        await wait_until(pilot, lambda: screen.detail.on_hand == Decimal(45), timeout=live_within())
        assert screen.loads == loads + 1
        assert {(row.location, row.on_hand) for row in screen.detail.stock} == {
            ("A-01-1", Decimal(32)), ("A-01-2", Decimal(13))
        }


async def test_a_move_updates_location_lookup_and_live_screens(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin")
        await pilot.press("f2")
        await settle(pilot)
        lookup = app.screen
        assert isinstance(lookup, LookupScreen)
        before = {hit.sku: hit.on_hand for hit in lookup.results.rows}
        app.push_screen(LiveScreen())
        await settle(pilot)
        live = app.screen
        rows_before = live.query_one("#live-table").row_count
        app.push_screen(LocationScreen("RCV"))
        await settle(pilot)
        location = app.screen
        assert location.contents.rows == []
        stock.move(store, actor("admin", "someone", "station-2"), "NUT-M6", Decimal(7), source="A-01-1", to="RCV")
        await wait_until(pilot, lambda: bool(location.contents.rows), timeout=live_within())
        assert [(row.sku, row.on_hand) for row in location.contents.rows] == [("NUT-M6", Decimal(7))]
        await wait_until(pilot, lambda: live.query_one("#live-table").row_count == rows_before + 1, timeout=live_within())
        table = live.query_one("#live-table")
        last = table.get_row_at(table.row_count - 1)
        assert last[1] == "move" and last[3] == "NUT-M6" and str(last[5]).startswith("someone@station-2"[:6])
        # a receipt changes on-hand but not the lookup's product set: the totals follow
        stock.receive(store, actor("admin", "someone", "station-2"), "NUT-M6", Decimal(3), to="RCV")
        await wait_until(pilot, lambda: {h.sku: h.on_hand for h in lookup.results.rows}["NUT-M6"] == before["NUT-M6"] + 3,
                         timeout=live_within())


def test_the_feed_reports_products_and_locations_of_a_posting(store):
    stock_the_store(store)
    feed = open_feed(store)
    try:
        assert feed.wait(0.05) is None
        stock.move(store, actor("admin"), "HEX-M6", Decimal(2), source="A-01-1", to="RCV")
        change = feed.wait(2.0)
        assert change is not None
        assert [(m.sku, m.qty, m.source, m.destination) for m in change.movements] == [("HEX-M6", Decimal(2), "A-01-1", "RCV")]
        moved = change.movements[0]
        assert change.products == {moved.product_id}
        assert change.locations == {moved.source_id, moved.destination_id}
        assert feed.wait(0.2) is None, "one commit is reported once"
    finally:
        feed.close()
