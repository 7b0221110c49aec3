"""A PO created, ordered and cancelled by another process shows on an open PO list within 1 s.

The other station is the ``ims`` CLI in its own process: its commits reach this app through
the change feed (``purchase_orders`` topic: pg_notify on PostgreSQL, a change_events row on SQLite).
"""

from __future__ import annotations

import os
import subprocess
import sys

from ims_tui.screens.purchase_orders import PurchaseOrdersScreen
from tests.app_helpers import live_within, make_app, settle, sign_in, wait_until
from tests.test_app_live import other_station
from tests.test_purchasing_service import setup_catalogue

SIZE = (80, 24)


def listed(screen) -> dict[str, str]:
    table = screen.query_one("#po-list")
    return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}


def create_elsewhere(url: str) -> str:
    """``ims po create`` as station-2; returns the new PO's number."""
    env = {**os.environ, "IMS_CONFIG": "/nonexistent/station.toml"}
    done = subprocess.run(
        [sys.executable, "-m", "ims_tui", "--db", url, "--station", "station-2",
         "po", "create", "--supplier", "Acme Supplies", "--line", "PLAIN:5"],
        check=True, env=env, capture_output=True, text=True, timeout=60,
    )
    return next(word for word in done.stdout.split() if word.startswith("PO-"))


async def test_a_po_created_ordered_and_cancelled_elsewhere_follows_on_the_open_list(store):
    setup_catalogue(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PurchaseOrdersScreen) and listed(screen) == {}
        number = create_elsewhere(store.url)
        await wait_until(pilot, lambda: listed(screen).get(number) == "draft", timeout=live_within())
        other_station(store.url, "po", "order", number)
        await wait_until(pilot, lambda: listed(screen).get(number) == "ordered", timeout=live_within())
        other_station(store.url, "po", "cancel", number, "--reason", "wrong supplier")
        await wait_until(pilot, lambda: number not in listed(screen), timeout=live_within())
