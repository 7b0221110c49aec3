"""The bin-to-bin move flow without a screen (SQLite and PostgreSQL) and through the real app."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import Posting, TaskDraft
from ims_tui.flows.moving import MovingFlow
from ims_tui.screens.moving import MovingScreen
from ims_tui.services import stock
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from tests.app_helpers import actor, make_app, scan_burst, type_slowly
from tests.conftest import make_locations, make_product, open_store
from tests.test_flow_counting import CASE, MANAGER, MILK_LABEL
from tests.test_receiving_screen import settle

D = Decimal
ADMIN = actor("admin", "setup")
MOVER = actor("picker", "pia")
PLAIN = "4006381333931"


def stocked(store):
    make_locations(store, "B-01", "B-02")
    make_product(store, "PLAIN", cost="2.00", barcodes=((PLAIN, 1),))
    make_product(store, "CASEY", cost="1.00", barcodes=(("05012345678900", 1), (CASE, 12)))
    make_product(store, "MILK", tracking="lot", cost="1.00", barcodes=(("09501101530003", 1),))
    stock.receive(store, ADMIN, "PLAIN", D(7), to="B-01")
    stock.receive(store, ADMIN, "CASEY", D(30), to="B-01")
    stock.receive(store, ADMIN, "MILK", D(9), to="B-01", lot="L7")
    return store


def where(store, sku):
    return {(row.location, row.lot): row.on_hand for row in product_detail(store, MANAGER, sku).stock if row.on_hand}


def moves(store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Posting).where(Posting.kind == "move"))


@pytest.fixture
def shelf(store):
    return stocked(store)


def test_a_move_posts_once_when_the_destination_is_scanned_and_resumes_after_a_drop(shelf):
    flow = MovingFlow(shelf, MOVER)
    flow.start()
    assert flow.scan(PLAIN).error and flow.step == "source"      # an item before the bin
    flow.scan("B-01")
    assert flow.scan("B-02").error                                 # nothing scanned yet
    flow.scan(PLAIN)
    flow.typed("5")
    flow.scan(CASE)
    flow.scan(CASE)                                                # 2 cases of 12
    flow.scan(MILK_LABEL)
    again = MovingFlow(shelf, MOVER)                               # the station dropped
    again.start()
    assert again.source == "B-01" and [i["units"] for i in again.items] == ["5", "24", "1"]
    assert again.scan("B-01").error                                # the source is not a destination
    before = moves(shelf)
    outcome = again.scan("B-02")
    assert not outcome.error and "B-01 -> B-02" in outcome.message, outcome.message
    assert moves(shelf) == before + 1
    assert where(shelf, "PLAIN") == {("B-01", None): 2, ("B-02", None): 5}
    assert where(shelf, "CASEY") == {("B-01", None): 6, ("B-02", None): 24}
    assert where(shelf, "MILK") == {("B-01", "L7"): 8, ("B-02", "L7"): 1}
    with shelf.read() as session:
        assert session.scalars(select(TaskDraft).where(TaskDraft.kind == "move")).all() == []
    assert run_check(shelf).clean


def test_more_than_the_bin_holds_is_refused_and_nothing_moves(shelf):
    flow = MovingFlow(shelf, MOVER)
    flow.start()
    flow.scan("B-01")
    flow.scan(PLAIN)
    flow.typed("8")
    before = moves(shelf)
    refused = flow.scan("B-02")
    assert refused.error and moves(shelf) == before and flow.step == "item"
    flow.typed("7")
    assert not flow.scan("B-02").error and where(shelf, "PLAIN") == {("B-02", None): 7}


async def test_a_bin_to_bin_move_through_the_app_by_scans(sqlite_url):
    store = stocked(open_store(sqlite_url))
    app = make_app(store, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(MOVER)
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, MovingScreen)
        for code in ("B-01", PLAIN, CASE):
            scan_burst(app, code)
            await settle(pilot)
        await type_slowly(pilot, "2")
        await pilot.press("enter")
        await settle(pilot)
        assert "2 CASEY" in str(app.screen.query_one("#flow-done").content)
        scan_burst(app, "B-02")
        await settle(pilot)
        assert "B-01 -> B-02" in " ".join(app.messages)
    assert where(store, "PLAIN") == {("B-01", None): 6, ("B-02", None): 1}
    assert where(store, "CASEY") == {("B-01", None): 28, ("B-02", None): 2}
    store.dispose()
