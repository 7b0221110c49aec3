"""The audit trail: an append-only row for every mutation, sign-in and refusal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from ims_tui.db import chain
from ims_tui.db.direct import Direct, allocate_ids, connection_of, copy_rows
from ims_tui.db.models import AuditEntry, utcnow
from ims_tui.services.actor import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: str = "",
    summary: str = "",
    *,
    outcome: str = "ok",
    product_id: int | None = None,
) -> None:
    """Add an audit row in the caller's transaction, so it commits or rolls back with the change."""
    values = {
        "at": utcnow(), "username": actor.username, "role": actor.role, "station": actor.station,
        "action": action, "target": target[:200], "summary": summary, "outcome": outcome,
        "product_id": product_id,
    }
    row_id = _INSERT.scalar(connection_of(session), values)
    chain.remember(session, "audit_log", row_id, values)


def record_many(
    session: Session,
    actor: Actor,
    action: str,
    entries: Sequence[tuple[str, str, int | None]],
    *,
    outcome: str = "ok",
) -> None:
    """Add one audit row per ``(target, summary, product_id)`` in the caller's transaction, as
    :func:`record` would add each, in one ``executemany`` (a batch of postings audits each)."""
    if not entries:
        return
    connection = connection_of(session)
    at = utcnow()
    rows = [
        {"id": row_id, "at": at, "username": actor.username, "role": actor.role, "station": actor.station,
         "action": action, "target": target[:200], "summary": summary, "outcome": outcome, "product_id": product_id}
        for row_id, (target, summary, product_id) in zip(allocate_ids(connection, "audit_log", len(entries)), entries,
                                                         strict=True)
    ]
    if connection.dialect.name == "postgresql":
        copy_rows(connection, AuditEntry.__table__, rows)
    else:
        _INSERT_WITH_ID.execute_many(connection, rows)
    chain.remember_many(session, "audit_log", rows)


_COLUMNS = ("at", "username", "role", "station", "action", "target", "summary", "outcome", "product_id")
_INSERT = Direct(
    insert(AuditEntry)
    .values({name: bindparam(name, type_=AuditEntry.__table__.c[name].type) for name in _COLUMNS})
    .returning(AuditEntry.id)
)
_INSERT_WITH_ID = Direct(
    insert(AuditEntry)
    .values({name: bindparam(name, type_=AuditEntry.__table__.c[name].type) for name in ("id", *_COLUMNS)})
)
