"""Issue 16 item 10: a station's receipt during another station's long SQLite import waits for it
and says so, instead of failing with "database is locked" after the busy timeout.

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
from ims_tui.db.engine import Store
from ims_tui.services.integrity import run_check
from tests.conftest import make_locations, make_product, open_store

ROWS = 2500
ROOT = Path(__file__).parent.parent


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
