"""Issue 17: an import killed with kill -9 at a random moment leaves the store exactly as it was.

Twenty kills per backend, alternating a products import (new products with barcodes: COPY on
PostgreSQL, executemany on SQLite) and an opening-stock import (postings through the ledger),
each at a random moment between the process's start and the time a whole import took on a twin
store - so kills land in start-up, in the checking pass and inside the write transaction.
After each kill every table is compared with its contents before, and ``ims check`` is clean.
Should an import finish before its kill (the machine ran faster than when the twin was timed),
it must have written everything, the next tries start from that state (a kill that reaches the
process after its commit finds the whole import written) and come sooner, and the test goes on
until twenty kills have landed (at most sixty tries).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ims_tui.db.models import AuditEntry, Barcode, Base, Posting
from ims_tui.db.engine import Store
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from ims_tui.services.transfer import run_import
from tests.conftest import make_locations, open_store

KILLS = 20
PRODUCTS = 1000
STOCK_ROWS = 600
ROOT = Path(__file__).parent.parent
ADMIN = Actor("setup", "admin", "test")


def barcode(number: int) -> str:
    body = f"400{number:09d}"
    odd, even = sum(int(d) for d in body[-1::-2]), sum(int(d) for d in body[-2::-2])
    return body + str((10 - (3 * odd + even) % 10) % 10)


def prepare(url: str, folder: Path) -> dict[str, Path]:
    """A store with products and bins, and the two files to import into it."""
    store = open_store(url)
    try:
        make_locations(store, "BIN-1", "BIN-2")
        catalogue = folder / "catalogue.csv"
        catalogue.write_text("sku,name\n" + "".join(f"P-{n:05d},Part {n}\n" for n in range(STOCK_ROWS)), encoding="utf-8")
        assert run_import(store, ADMIN, "products", catalogue).committed
    finally:
        store.dispose()
    products = folder / "products.csv"
    products.write_text("sku,name,barcodes,unit_price\n" + "".join(
        f"N-{n:05d},New part {n},{barcode(n)},{n % 97}.50\n" for n in range(PRODUCTS)), encoding="utf-8")
    stock = folder / "stock.csv"
    stock.write_text("sku,location,qty,unit_cost\n" + "".join(
        f"P-{n:05d},BIN-{1 + n % 2},{1 + n % 7},{n % 13}.25\n" for n in range(STOCK_ROWS)), encoding="utf-8")
    return {"products": products, "stock": stock}


def dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in key order."""
    store = Store(url)
    try:
        with store.read() as session:
            return {table.name: [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]
                    for table in Base.metadata.sorted_tables}
    finally:
        store.dispose()


def imports_done(url: str, kind: str) -> int:
    """How many imports of ``kind`` the store's audit log says were committed."""
    store = Store(url)
    try:
        with store.read() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == f"import.{kind}"))
    finally:
        store.dispose()


def is_complete(url: str, kind: str) -> bool:
    store = Store(url)
    try:
        with store.read() as session:
            if kind == "products":
                return session.scalar(select(func.count()).select_from(Barcode)) == PRODUCTS
            return session.scalar(select(func.count()).select_from(Posting)
                                  .where(Posting.idempotency_key.like("import:stock:%"))) == STOCK_ROWS
    finally:
        store.dispose()


def wait_for_the_server(url: str) -> None:
    """PostgreSQL finishes (or rolls back) a killed client's transaction when it notices the
    socket closed: wait until no other session is left on the database before looking."""
    if not url.startswith("postgresql"):
        return
    store = Store(url)
    try:
        deadline = time.monotonic() + 60
        while True:
            with store.read() as session:
                others = session.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            if not others:
                return
            assert time.monotonic() < deadline, "the killed import's session never ended"
            time.sleep(0.05)
    finally:
        store.dispose()


def start_import(url: str, kind: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ims_tui", "--db", url, "--station", "office", "import", kind, str(path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def timed_import(url: str, kind: str, path: Path) -> float:
    started = time.monotonic()
    process = start_import(url, kind, path)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return time.monotonic() - started


@pytest.mark.slow
def test_an_import_killed_at_random_moments_leaves_the_store_as_it_was(store_url, twin_url, tmp_path):
    (tmp_path / "twin").mkdir(exist_ok=True)  # the twin's files (and, on SQLite, its store)
    files = prepare(store_url, tmp_path)
    twin_files = prepare(twin_url, tmp_path / "twin")
    whole = {kind: timed_import(twin_url, kind, twin_files[kind]) for kind in ("products", "stock")}
    chance = random.Random(os.environ.get("IMS_TEST_SEED", "17"))
    before = dump(store_url)
    landed = tries = 0
    while landed < KILLS:
        assert tries < 3 * KILLS, f"only {landed} of {tries} imports were killed before they finished"
        kind = ("products", "stock")[tries % 2]
        tries += 1
        imports_before = imports_done(store_url, kind)
        process = start_import(store_url, kind, files[kind])
        time.sleep(chance.uniform(0.05, 0.9) * whole[kind])
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            landed += 1
            wait_for_the_server(store_url)
        else:  # the machine runs faster than when the twin was timed: aim the next kills earlier
            _, err = process.communicate()
            assert process.returncode == 0, err
            whole[kind] *= 0.6
        after = dump(store_url)
        if imports_done(store_url, kind) == imports_before:
            assert after == before, f"try {tries} ({kind}) changed the store"
        else:  # it committed before the kill reached it: then it wrote everything
            assert is_complete(store_url, kind), f"try {tries} ({kind}) left part of an import"
            before = after
        store = Store(store_url)
        try:
            assert run_check(store).clean, f"ims check after try {tries}"
        finally:
            store.dispose()
