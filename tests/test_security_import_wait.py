"""Issue 16 item 10: a station's receipt during another station's long SQLite import waits for it
and says so (on the CLI's stderr, on the station's message line), instead of failing with
"database is locked" after the busy timeout.

Two real processes; the busy timeout is cut to 300 ms (``IMS_SQLITE_BUSY_TIMEOUT_MS``) so an
import of a few thousand rows holds the lock many times longer than a writer would wait.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ims_tui.cli.main import main
from ims_tui.db import engine
from ims_tui.db.engine import Store
from ims_tui.services import purchasing
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from ims_tui.services.transfer import run_import
from tests.app_helpers import wait_until
from tests.auth_support import use_cheap_hasher
from tests.conftest import make_locations, make_product, open_store
from tests.test_purchasing_service import MANAGER, setup_catalogue
from tests.test_receiving_screen import make_app, message, open_receiving, order, postings, scan, settle

ROWS = 40_000
"""Enough opening-stock rows that the import's write outlasts the waiting station's start-up even
on an idle machine: posted in batches (``ledger.post_receipts``) the write takes about 0.3 ms a
row, so the 12,000 rows that held the lock ~12 s one posting per row hold it only 3 s or so; with
2,500 rows per-row posting the receipt sometimes came after the commit."""


def admin_actor() -> Actor:
    return Actor("setup", "admin", "test")
ROOT = Path(__file__).parent.parent


def test_an_import_does_not_say_it_waits_for_itself(sqlite_url, tmp_path, capsys):
    """The import's own transaction runs under its long-write marker; it used to read the marker,
    find its own process alive, and print "waiting for an import of 2 stock rows ... to finish"."""
    store = open_store(sqlite_url)
    make_locations(store, "BIN-1")
    make_product(store, "WIDGET")
    store.dispose()
    opening = tmp_path / "stock.csv"
    opening.write_text("sku,location,qty\nWIDGET,BIN-1,5\nWIDGET,BIN-1,3\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--db", sqlite_url, "import", "stock", str(opening)]) == 0
    captured = capsys.readouterr()
    assert "2 posted" in captured.out
    assert "waiting" not in captured.err, captured.err


@pytest.mark.slow
def test_a_receipt_waits_for_an_import_and_says_so(sqlite_url, tmp_path, capsys):
    store = open_store(sqlite_url)
    make_locations(store, "BIN-1")
    make_product(store, "WIDGET")
    store.dispose()
    products = tmp_path / "products.csv"
    products.write_text("sku,name\n" + "".join(f"P-{n:05d},Part {n}\n" for n in range(ROWS)), encoding="utf-8")
    assert main(["--db", sqlite_url, "import", "products", str(products)]) == 0
    opening = tmp_path / "stock.csv"
    opening.write_text("sku,location,qty\n" + "".join(f"P-{n:05d},BIN-1,5\n" for n in range(ROWS)), encoding="utf-8")
    capsys.readouterr()

    env = {**os.environ, "IMS_SQLITE_BUSY_TIMEOUT_MS": "300"}
    command = [sys.executable, "-m", "ims_tui", "--db", sqlite_url]
    importer = subprocess.Popen([*command, "--station", "office", "import", "stock", str(opening)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = Path(sqlite_url.removeprefix("sqlite:///") + "-long-write")
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert importer.poll() is None, importer.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # the import is inside its write transaction now
    receipt = subprocess.run([*command, "--station", "dock", "stock", "receive", "WIDGET", "2", "--to", "BIN-1"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out, err = importer.communicate(timeout=300)
    assert importer.returncode == 0, err
    assert receipt.returncode == 0, receipt.stderr
    assert receipt.stderr.startswith(f"waiting for an import of {ROWS} stock rows by cli:")
    assert receipt.stderr.endswith(" on office to finish ...\n")
    assert not marker.exists()
    store = Store(sqlite_url)
    try:
        assert run_check(store).clean
    finally:
        store.dispose()


@pytest.mark.slow
async def test_a_receipt_at_the_desk_waits_for_an_import_and_shows_a_waiting_line(sqlite_url, tmp_path, monkeypatch):
    """The same race through the app: the receiving desk's confirm says on its message line that it
    waits for the import, then posts when the import has committed."""
    use_cheap_hasher(monkeypatch)
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 300)
    store = open_store(sqlite_url)
    setup_catalogue(store)
    number = order(store, ("PLAIN", 1))
    products = tmp_path / "products.csv"
    products.write_text("sku,name\n" + "".join(f"P-{n:05d},Part {n}\n" for n in range(ROWS)), encoding="utf-8")
    assert run_import(store, admin_actor(), "products", products).committed
    opening = tmp_path / "stock.csv"
    opening.write_text("sku,location,qty\n" + "".join(f"P-{n:05d},A-02,5\n" for n in range(ROWS)), encoding="utf-8")
    marker = Path(sqlite_url.removeprefix("sqlite:///") + "-long-write")
    app = make_app(store)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_receiving(pilot, store)
            await scan(pilot, number)
            await scan(pilot, "4006381333931")
            await scan(pilot, "A-01")
            before = postings(store)
            env = {**os.environ, "IMS_SQLITE_BUSY_TIMEOUT_MS": "300"}
            importer = subprocess.Popen([sys.executable, "-m", "ims_tui", "--db", sqlite_url, "--station", "office",
                                         "import", "stock", str(opening)], env=env, cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                await wait_until(pilot, lambda: marker.exists() or importer.poll() is not None, 120)
                assert importer.poll() is None, importer.communicate()
                await pilot.press("f10")
                await wait_until(pilot, lambda: "waiting for an import of" in message(screen), 60)
                assert message(screen).startswith(f"waiting for an import of {ROWS} stock rows by cli:")
                assert postings(store) == before
                await wait_until(pilot, lambda: postings(store) == before + 1, 300)
                await settle(pilot)
                assert "waiting" not in message(screen)
            finally:
                out, err = importer.communicate(timeout=300)
            assert importer.returncode == 0, err
    finally:
        store.dispose()
    store = Store(sqlite_url)
    try:
        assert run_check(store).clean
        assert purchasing.get_po(store, MANAGER, number).status == "received"
    finally:
        store.dispose()
