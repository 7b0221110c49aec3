"""The database itself refuses to change or delete audit rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from ims_tui.db.models import AuditEntry
from ims_tui.services import audit, users
from ims_tui.services.actor import Actor
from tests.auth_support import SETUP, fast_hashing  # noqa: F401 - fixture

ACTOR = Actor("rita", "manager", "office")


@pytest.fixture
def entries(store):
    with store.write() as session:
        for n in range(3):
            audit.record(session, ACTOR, "thing.done", f"t{n}", f"before {n}")
    return store


def rows(store):
    with store.read() as session:
        return session.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).values(summary="rewritten"),
        update(AuditEntry).where(AuditEntry.target == "t1").values(username="someone-else", outcome="ok"),
        delete(AuditEntry),
        delete(AuditEntry).where(AuditEntry.target == "t0"),
    ],
    ids=["update all", "update one", "delete all", "delete one"],
)
def test_update_and_delete_are_refused(entries, statement):
    before = rows(entries)
    with pytest.raises(DBAPIError, match="audit_log is append-only"):
        with entries.write() as session:
            session.execute(statement)
    assert rows(entries) == before


def test_raw_sql_is_refused_too(entries):
    before = rows(entries)
    for sql in ("UPDATE audit_log SET summary = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with entries.engine.begin() as connection:
                connection.execute(text(sql))
    assert rows(entries) == before


def test_a_refused_change_takes_the_whole_transaction_with_it(entries):
    before = rows(entries)
    with pytest.raises(DBAPIError):
        with entries.write() as session:
            audit.record(session, ACTOR, "thing.done", "t9", "added in the same transaction")
            session.execute(update(AuditEntry).values(summary="rewritten"))
    assert rows(entries) == before


def test_orm_edits_of_a_loaded_entry_are_refused(entries):
    with pytest.raises(DBAPIError, match="append-only"):
        with entries.write() as session:
            entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
            entry.summary = "rewritten"
    with pytest.raises(DBAPIError, match="append-only"):
        with entries.write() as session:
            session.delete(session.scalars(select(AuditEntry)).first())
    assert [r.summary for r in rows(entries)] == ["before 0", "before 1", "before 2"]


@pytest.mark.usefixtures("fast_hashing")
def test_appending_still_works_for_every_kind_of_entry(store):
    users.add_user(store, SETUP, "rita", "picker", "correct-horse")
    users.disable(store, SETUP, "rita")
    assert [r.action for r in rows(store)] == ["user.add", "user.disable"]
