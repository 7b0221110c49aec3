"""``ims transfer ...`` and ``ims scrap ...`` on the command line: outputs, exit codes, nothing half-done."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ims_tui.db.engine import Store
from ims_tui.services import catalogue, stock
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from tests.conftest import make_product, open_store
from tests.test_purchasing_cli import run

D = Decimal


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    admin = Actor("setup", "admin", "t")
    with store.write() as session:
        for code, warehouse in (("N-01", "WH1"), ("S-01", "WH2")):
            catalogue.save_location(session, admin, code, warehouse=warehouse)
    make_product(store, "BOLT", cost="0.50")
    make_product(store, "MILK", tracking="lot", cost="2.00")
    stock.receive(store, admin, "BOLT", D(100), to="N-01")
    stock.receive(store, admin, "MILK", D(30), to="N-01", lot="OLD", expiry=dt.date(2020, 1, 1))
    store.dispose()
    return store_url


def test_transfer_ship_receive_short_and_close(capsys, url):
    code, out, _ = run(capsys, url, "transfer", "create", "--from", "WH1", "--to", "WH2", "--line", "BOLT:40")
    assert code == 0 and out == "TR-000001\n"
    code, out, _ = run(capsys, url, "transfer", "ship", "TR-000001", "--from", "N-01")
    assert code == 0 and out.startswith("TR-000001 shipped: 40 in transit at TRANSIT-WH2")
    assert run(capsys, url, "transfer", "ship", "TR-000001", "--from", "N-01") == (
        1, "", "error: TR-000001 is shipped: it was shipped already\n")
    code, out, _ = run(capsys, url, "transfer", "receive", "TR-000001", "BOLT", "35", "--to", "S-01")
    assert code == 0 and out.startswith("TR-000001: partial, 5 still in transit")
    assert run(capsys, url, "transfer", "receive", "TR-000001", "BOLT", "6", "--to", "S-01") == (
        1, "", "error: only 5 BOLT still in transit on TR-000001\n")
    code, out, _ = run(capsys, url, "transfer", "list")
    assert "TR-000001  partial" in out and "in transit 5" in out
    code, out, _ = run(capsys, url, "transfer", "close", "TR-000001")
    assert code == 0 and "line 1 BOLT: received 35 of 40 shipped, 5 written off" in out
    assert run(capsys, url, "transfer", "create", "--from", "WH1", "--to", "WH9", "--line", "BOLT:1") == (
        2, "", "error: unknown warehouse 'WH9'\n")
    store = Store(url)
    assert run_check(store).clean
    store.dispose()


def test_scrap_and_the_expired_sweep(capsys, url):
    code, out, _ = run(capsys, url, "scrap", "BOLT", "4", "--from", "N-01", "--reason", "damaged")
    assert code == 0 and out.startswith("scrapped 4 (damaged), value 2.00 (posting ")
    assert run(capsys, url, "scrap", "BOLT", "4", "--from", "N-01", "--reason", "broke")[0] == 2
    assert run(capsys, url, "scrap", "--approval-value", "1")[0] == 0
    assert run(capsys, url, "scrap", "BOLT", "4", "--from", "N-01", "--reason", "lost") == (
        1, "", "error: scrap worth 2.00 is above 1.00: a manager must approve it\n")
    assert run(capsys, url, "scrap", "BOLT", "4", "--from", "N-01", "--reason", "lost", "--approve")[0] == 0
    code, out, _ = run(capsys, url, "scrap", "--expired")
    assert out == "MILK:OLD@N-01                            expired 2020-01-01  on hand     30  value 60.00\n"
    code, out, _ = run(capsys, url, "scrap", "--expired", "--choose", "MILK:OLD@N-01")
    assert code == 0 and out.startswith("scrapped 30 (expired), value 60.00, approved by cli:")
    assert run(capsys, url, "scrap", "--expired")[1] == "no expired lots in stock\n"
