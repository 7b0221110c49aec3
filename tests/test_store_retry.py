"""Forced PostgreSQL serialization failures and deadlocks on every kind of write.

The server itself raises them: a trigger on ``audit_log`` (every mutation, sign-in and refusal
writes an audit row in its transaction) fails the first N inserts with SQLSTATE 40001 or 40P01,
counted by a sequence (``nextval`` is not undone by the rollback).  A few failures are retried
away; more than the store's bound end in one ``error:`` line, never a traceback or an internal
exception type.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.db.engine import MAX_ATTEMPTS, Store
from ims_tui.db.models import AuditEntry
from ims_tui.services import auth, purchasing, users
from ims_tui.services.actor import Actor
from ims_tui.services.errors import PermissionDenied, StoreError
from ims_tui.services.purchasing import LineInput
from tests.auth_support import use_cheap_hasher
from tests.conftest import open_store
from tests.test_purchasing_service import MANAGER, setup_catalogue

pytestmark = pytest.mark.postgres
ADMIN = Actor("root", "admin", "test")
SQLSTATES = ("40001", "40P01")


@pytest.fixture
def pg_store(pg_url, monkeypatch):
    use_cheap_hasher(monkeypatch)
    store = open_store(pg_url)
    setup_catalogue(store)
    yield store
    store.dispose()


def fail_next_writes(store: Store, failures: int, sqlstate: str) -> None:
    """The next ``failures`` audit inserts (any station) abort with ``sqlstate``."""
    with store.connect(begin=True) as connection:
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS ims_test_fail ON audit_log")
        connection.exec_driver_sql("DROP SEQUENCE IF EXISTS ims_test_faults")
        connection.exec_driver_sql("CREATE SEQUENCE ims_test_faults")
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION ims_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF nextval('ims_test_faults') <= {failures} THEN "
            f"RAISE EXCEPTION 'injected conflict' USING ERRCODE = '{sqlstate}'; END IF; RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER ims_test_fail BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION ims_test_fail()"
        )


def audit_rows(store: Store, action: str) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def a_po(store: Store) -> str:
    return purchasing.create_po(store, MANAGER, "Acme Supplies", [LineInput("PLAIN", Decimal(3))]).number


WRITES = {
    "user": (lambda s: users.add_user(s, ADMIN, "newbie", "picker", "picker-pass-1"), "user.add"),
    "sign-in": (lambda s: auth.sign_in(s, "rita", "receiver-pass-1", station="desk-1"), "signin"),
    "refusal": (lambda s: purchasing.create_po(s, Actor("rita", "receiver", "desk-1", user_id=None), "Acme Supplies", []),
                "manage_orders"),
    "po-create": (a_po, "po.create"),
    "po-line": (lambda s: purchasing.add_po_line(s, MANAGER, a_po(s), LineInput("MILK", Decimal(2))), "po.line"),
    "po-order": (lambda s: purchasing.order_po(s, MANAGER, a_po(s)), "po.order"),
    "po-cancel": (lambda s: purchasing.cancel_po(s, MANAGER, a_po(s), "test"), "po.cancel"),
    "sign-out": (lambda s: auth.record_sign_out(s, MANAGER), "signout"),
}


@pytest.mark.parametrize("sqlstate", SQLSTATES)
@pytest.mark.parametrize("kind", sorted(WRITES))
def test_a_few_conflicts_are_retried_away(pg_store, kind, sqlstate):
    write, action = WRITES[kind]
    before = audit_rows(pg_store, action)
    if kind.startswith("po-") and kind != "po-create":
        number = a_po(pg_store)  # the PO exists first; only the edit meets the conflicts
        write = {"po-line": lambda s: purchasing.add_po_line(s, MANAGER, number, LineInput("MILK", Decimal(2))),
                 "po-order": lambda s: purchasing.order_po(s, MANAGER, number),
                 "po-cancel": lambda s: purchasing.cancel_po(s, MANAGER, number, "test")}[kind]
    fail_next_writes(pg_store, 2, sqlstate)
    try:
        write(pg_store)
    except PermissionDenied:
        assert kind == "refusal"
    assert audit_rows(pg_store, action) == before + 1


@pytest.mark.parametrize("sqlstate", SQLSTATES)
def test_endless_conflicts_end_in_one_store_error_never_an_internal_exception(pg_store, sqlstate):
    fail_next_writes(pg_store, 10 * MAX_ATTEMPTS, sqlstate)
    for kind, (write, _) in WRITES.items():
        with pytest.raises(StoreError) as raised:
            write(pg_store)
        assert "try again" in str(raised.value), kind
    with pytest.raises(StoreError):  # the unretried path says the same, in the same type
        with pg_store.write() as session:
            session.add(AuditEntry(username="x", role="admin", station="s", action="test", target="", summary=""))


def test_the_cli_says_one_error_line_and_exits_4(pg_store):
    fail_next_writes(pg_store, 10 * MAX_ATTEMPTS, "40P01")
    env = {**os.environ, "IMS_CONFIG": "/nonexistent/station.toml"}
    done = subprocess.run(
        [sys.executable, "-m", "ims_tui", "--db", pg_store.url, "po", "create", "--supplier", "Acme Supplies",
         "--line", "PLAIN:1"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 4
    assert "Traceback" not in done.stderr and "_Retry" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "try again" in lines[0]


def test_a_posting_after_the_server_cut_every_pooled_connection_is_retried_on_a_live_one(pg_store):
    """No pre-ping on checkout (a round trip per transaction): a pooled connection the server
    closed fails the transaction's first statement, before anything is committed, and the
    store retries on a fresh connection."""
    from ims_tui.services import stock

    stock.receive(pg_store, ADMIN, "PLAIN", Decimal(5), to="A-01")
    stock.receive(pg_store, ADMIN, "PLAIN", Decimal(5), to="A-01")
    pooled = pg_store.engine.pool.checkedin()
    assert pooled >= 1
    database = pg_store.engine.url.database
    admin = Store(pg_store.engine.url.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect(begin=True) as connection:
            cut = connection.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            ).scalar_one()
    finally:
        admin.dispose()
    assert cut >= pooled
    result = stock.move(pg_store, ADMIN, "PLAIN", Decimal(2), source="A-01", to="A-02")
    assert not result.already_posted
    with pg_store.read() as session:
        from ims_tui.db.models import Balance

        on_hand = session.scalars(select(func.sum(Balance.on_hand)).where(Balance.lot_key == 0)).one()
    assert on_hand == Decimal(10)


def test_a_read_after_the_server_cut_idle_connections_gets_a_live_one(pg_store, monkeypatch):
    """An idle pooled connection is checked before use, so a read (not retried) still works."""
    from ims_tui.db import engine

    with pg_store.read() as session:
        session.execute(select(func.count(AuditEntry.id))).scalar_one()
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    database = pg_store.engine.url.database
    admin = Store(pg_store.engine.url.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect(begin=True) as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            )
    finally:
        admin.dispose()
    with pg_store.read() as session:
        assert session.execute(select(func.count(AuditEntry.id))).scalar_one() >= 0
