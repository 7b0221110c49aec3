"""The scrap flow without a screen, on SQLite and PostgreSQL: reason codes, approval above the value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ims_tui.flows.engine import APPROVE_BADGE
from ims_tui.flows.scrapping import ScrapFlow
from ims_tui.services import stock, users
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from tests.test_flow_moving import MOVER, PLAIN, stocked, where

D = Decimal
CASE = "15012345678907"


@pytest.fixture
def shelf(store):
    stocked(store)
    users.add_user(store, Actor("root", "admin", "t"), "mona", "manager", "manager-pass-1", badge="BADGE-9001", pin="4321")
    stock.receive(store, Actor("setup", "admin", "t"), "CASEY", D(200), to="B-02", cost=D("1.00"))
    return store


def test_scrap_by_scans_and_a_reason_code_refused_above_the_value_until_a_manager_approves(shelf):
    flow = ScrapFlow(shelf, MOVER)
    flow.start()
    assert flow.scan(PLAIN).error                                  # the bin first
    flow.scan("B-01")
    flow.scan(PLAIN)
    flow.typed("2")
    assert flow.typed("broken").error and flow.step == "reason"    # not a reason code
    done = flow.typed("damaged")
    assert not done.error and "scrapped 2 (damaged)" in done.message, done.message
    assert where(shelf, "PLAIN") == {("B-01", None): 5}
    flow.scan("B-02")
    flow.scan(CASE)
    flow.typed("150")                                              # 150 x 1.00 > the 100 setting
    held = flow.typed("expired")
    assert held.error and "manager must approve" in held.message and flow.step == APPROVE_BADGE
    assert where(shelf, "CASEY")[("B-02", None)] == 200
    flow.scan("BADGE-9001")
    approved = flow.typed("4321")
    assert not approved.error and "approved by mona" in approved.message, approved.message
    assert where(shelf, "CASEY")[("B-02", None)] == 50
    assert run_check(shelf).clean


def test_the_expired_lot_sweep_lists_then_scraps_on_the_second_key_for_managers_only(shelf):
    import datetime as dt

    from tests.test_transfers_scrap import MANAGER

    stock.receive(shelf, Actor("setup", "admin", "t"), "MILK", D(4), to="B-02", lot="OLD", expiry=dt.date(2020, 1, 1))
    picker = ScrapFlow(shelf, MOVER)
    picker.start()
    picker.command("sweep")
    assert [row[1] for row in picker.view().rows] == ["OLD"]
    assert picker.command("sweep").error                           # managers only (the service says so)
    flow = ScrapFlow(shelf, MANAGER)
    flow.start()
    listed = flow.command("sweep")
    assert "1 expired lot(s)" in listed.message and where(shelf, "MILK")[("B-02", "OLD")] == 4
    swept = flow.command("sweep")
    assert not swept.error and "scrapped 4 (expired)" in swept.message, swept.message
    assert ("B-02", "OLD") not in where(shelf, "MILK")
    assert run_check(shelf).clean
