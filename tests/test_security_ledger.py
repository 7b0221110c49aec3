"""Issue 16 items 4, 5 and 7: idempotency keys tied to content, racing lots, tamper evidence.

Item 7 tampers the way an attacker would: ``REPLACE INTO`` and raw edits of the SQLite file, and a
PostgreSQL superuser with the triggers off (``session_replication_role = replica``); ``ims check``
must name what changed.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from ims_tui.db.engine import Store
from ims_tui.db.models import Lot
from ims_tui.services import stock
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from tests.conftest import make_locations, make_product, open_store
from tests.conftest import run_cli as ims


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    make_product(store, "WIDGET")
    make_product(store, "BATCHED", tracking="lot")
    make_locations(store, "BIN-1", "BIN-2")
    store.dispose()
    return store_url


# --- item 4 ----------------------------------------------------------------------------------


def test_a_key_reused_for_other_content_is_refused_and_nothing_is_lost(capsys, url):
    assert ims(capsys, url, "stock", "receive", "WIDGET", "10", "--to", "BIN-1")[0] == 0
    assert ims(capsys, url, "--station", "pick-1", "stock", "issue", "WIDGET", "3", "--from", "BIN-1", "--key", "K1")[0] == 0
    code, out, err = ims(capsys, url, "--station", "dock-1", "stock", "receive", "WIDGET", "50", "--to", "BIN-1", "--key", "K1")
    assert code == 1 and out == ""
    assert err.startswith("error: key K1 was already used for another posting (issue by cli:")
    assert err.endswith("nothing changed; give this posting its own key\n")
    # the same content again is still a harmless retry
    code, out, _ = ims(capsys, url, "stock", "issue", "WIDGET", "3", "--from", "BIN-1", "--key", "K1")
    assert code == 0 and out == "already posted (key K1): nothing changed\n"
    code, out, _ = ims(capsys, url, "--json", "stock", "show", "WIDGET")
    assert '"on_hand": "7"' in out


# --- item 5 ----------------------------------------------------------------------------------

RACERS = 12


def _receive_same_new_lot(url: str, worker: int, barrier, results) -> None:
    store = Store(url)
    actor = Actor(f"dock-{worker}", "admin", f"station-{worker}")
    barrier.wait()
    try:
        stock.receive(store, actor, "BATCHED", Decimal(2), to="BIN-1", lot="L-NEW")
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the race must report any failure, not crash the test
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        store.dispose()


@pytest.mark.slow
def test_stations_receiving_the_same_new_lot_at_once_all_succeed(url):
    racers = RACERS if url.startswith("postgresql") else RACERS // 2  # SQLite never failed: keep it light
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(racers)
    results = context.Queue()
    processes = [context.Process(target=_receive_same_new_lot, args=(url, n, barrier, results)) for n in range(racers)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["ok"] * racers
    store = Store(url)
    try:
        with store.read() as session:
            assert session.scalar(select(func.count()).select_from(Lot).where(Lot.code == "L-NEW")) == 1
        assert run_check(store).clean
    finally:
        store.dispose()


# --- item 7 ----------------------------------------------------------------------------------


def _some_history(capsys, url: str) -> None:
    assert ims(capsys, url, "stock", "receive", "WIDGET", "10", "--to", "BIN-1", "--ref", "DELIVERY-0001")[0] == 0
    assert ims(capsys, url, "stock", "move", "WIDGET", "4", "--from", "BIN-1", "--to", "BIN-2")[0] == 0
    assert ims(capsys, url, "check")[0] == 0


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _only_sqlite(url: str) -> None:
    if not url.startswith("sqlite"):
        pytest.skip("SQLite file tampering")


def test_replace_into_cannot_rewrite_an_audit_row_or_a_posting(capsys, url):
    _only_sqlite(url)
    _some_history(capsys, url)
    raw = sqlite3.connect(_sqlite_path(url))
    try:
        for statement in (
            "REPLACE INTO audit_log (id, at, username, role, station, action, target, summary, outcome) "
            "SELECT id, at, username, role, station, action, target, 'nothing happened', outcome FROM audit_log LIMIT 1",
            "REPLACE INTO postings (idempotency_key, kind, reason, reference, username, station, created_at) "
            "SELECT idempotency_key, kind, 'forged', reference, username, station, created_at FROM postings LIMIT 1",
            "INSERT OR REPLACE INTO movements SELECT * FROM movements LIMIT 1",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only: insert over an existing row refused"):
                raw.execute(statement)
    finally:
        raw.close()
    assert ims(capsys, url, "check")[0] == 0


def test_editing_the_sqlite_file_directly_is_found_by_check(capsys, url):
    _only_sqlite(url)
    _some_history(capsys, url)
    path = _sqlite_path(url)
    content = path.read_bytes()
    assert content.count(b"DELIVERY-0001") >= 1
    path.write_bytes(content.replace(b"DELIVERY-0001", b"DELIVERY-0666"))
    code, out, _ = ims(capsys, url, "check")
    assert code == 1
    assert "posting 1 was changed after it was written" in out
    assert "movement 1 was changed after it was written" in out


def test_rows_deleted_or_slipped_in_with_the_triggers_dropped_are_found(capsys, url):
    _only_sqlite(url)
    _some_history(capsys, url)
    raw = sqlite3.connect(_sqlite_path(url))
    try:
        for trigger in ("audit_log_no_delete", "movements_no_delete", "postings_no_delete"):
            raw.execute(f"DROP TRIGGER {trigger}")
        first_audit, last_audit = raw.execute("SELECT min(id), max(id) FROM audit_log").fetchone()
        raw.execute("DELETE FROM audit_log WHERE id = ?", (first_audit,))
        raw.execute("INSERT INTO audit_log (at, username, role, station, action, target, summary, outcome) "
                    "VALUES ('2026-01-01 00:00:00', 'ghost', 'admin', 'x', 'user.add', 'ghost', '', 'ok')")
        raw.commit()
    finally:
        raw.close()
    code, out, _ = ims(capsys, url, "check")
    assert code == 1
    assert f"audit row {first_audit} is in the hash chain but no longer in the store: deleted" in out
    assert f"audit row {last_audit + 1} has no link in the hash chain: written outside ims" in out


def test_a_superuser_with_triggers_off_is_found_by_check(capsys, url):
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL superuser tampering")
    _some_history(capsys, url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("UPDATE movements SET qty = qty * 2 WHERE id = 1"))
        connection.execute(text("UPDATE balances SET on_hand = on_hand * 2"))
        connection.execute(text("UPDATE cost_layers SET remaining_qty = remaining_qty * 2, original_qty = original_qty * 2"))
        connection.execute(text("UPDATE audit_log SET summary = 'nothing to see' WHERE id = (SELECT max(id) FROM audit_log)"))
        connection.execute(text("DELETE FROM chain_links WHERE id = (SELECT max(id) FROM chain_links)"))
    engine.dispose()
    code, out, _ = ims(capsys, url, "check")
    assert code == 1
    assert "movement 1 was changed after it was written" in out
    assert "is in the hash chain but no longer" not in out
    assert "has no link in the hash chain: written outside ims" in out
    assert "its head says" in out


def test_rewriting_the_whole_chain_link_is_found(capsys, url):
    _some_history(capsys, url)
    engine = create_engine(url)
    with engine.begin() as connection:
        if url.startswith("postgresql"):
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            connection.execute(text("DROP TRIGGER chain_links_no_update"))
        connection.execute(text("UPDATE chain_links SET row_hash = 'x' WHERE id = 2"))
    engine.dispose()
    code, out, _ = ims(capsys, url, "check")
    assert code == 1 and "does not follow the link before it" in out


def test_rows_under_a_rolled_back_savepoint_get_no_link(store):
    from ims_tui.services import audit

    actor = Actor("tester", "admin", "test")
    with store.write() as session:
        audit.record(session, actor, "test.kept")
        with pytest.raises(RuntimeError):
            with session.begin_nested():
                audit.record(session, actor, "test.rolled-back")
                raise RuntimeError("the savepoint is rolled back")
        audit.record(session, actor, "test.kept-too")
    report = run_check(store)
    assert report.clean, report.violations
