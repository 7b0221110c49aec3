"""The audit trail: an append-only row for every mutation, sign-in and refusal."""

from __future__ import annotations

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from ims_tui.db import chain
from ims_tui.db.direct import Direct, connection_of
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


_COLUMNS = ("at", "username", "role", "station", "action", "target", "summary", "outcome", "product_id")
_INSERT = Direct(
    insert(AuditEntry)
    .values({name: bindparam(name, type_=AuditEntry.__table__.c[name].type) for name in _COLUMNS})
    .returning(AuditEntry.id)
)
