"""Reading the audit trail: filtered pages for the screen (keyset on id) and a stream for export.

Both need :data:`Permission.VIEW_AUDIT`.  Pages are newest first and never use OFFSET, so the
thousandth page costs what the first does; the export streams oldest first in batches, each
batch its own short read transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import AuditEntry, Product
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_product
from ims_tui.services.errors import BadInput, NotFound
from ims_tui.services.permissions import Permission, check
from ims_tui.services.users import as_utc

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_COLUMNS = ("id", "at", "username", "role", "station", "action", "target", "product", "summary", "outcome")


@dataclass(frozen=True)
class AuditFilter:
    """What to show.  ``action`` matches itself and its sub-actions (``signin`` -> ``signin.failed``);
    ``product`` is any product code (SKU, barcode, supplier SKU); dates are local and inclusive."""

    username: str | None = None
    action: str | None = None
    product: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    outcome: str | None = None

    def describe(self) -> str:
        parts = [
            f"{name} {value}" for name, value in (
                ("user", self.username), ("action", self.action), ("product", self.product),
                ("from", self.since), ("to", self.until), ("outcome", self.outcome),
            ) if value
        ]
        return ", ".join(parts) or "everything"


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    username: str
    role: str
    station: str
    action: str
    target: str
    product: str | None
    summary: str
    outcome: str

    def as_record(self) -> dict[str, object]:
        """One export row, keyed by :data:`EXPORT_COLUMNS`."""
        return {name: getattr(self, name) for name in EXPORT_COLUMNS}


@dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    has_older: bool
    has_newer: bool

    @property
    def oldest_id(self) -> int | None:
        return self.rows[-1].id if self.rows else None

    @property
    def newest_id(self) -> int | None:
        return self.rows[0].id if self.rows else None


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()).astimezone().astimezone(dt.timezone.utc)


def _filtered(session: Session, query: Select, filters: AuditFilter) -> Select:
    if filters.username:
        query = query.where(AuditEntry.username == filters.username.strip())
    if filters.action:
        action = filters.action.strip()
        query = query.where(or_(AuditEntry.action == action, AuditEntry.action.startswith(action + ".", autoescape=True)))
    if filters.outcome:
        query = query.where(AuditEntry.outcome == filters.outcome.strip())
    if filters.product:
        match = find_product(session, filters.product)
        if match is None:
            raise NotFound(f"unknown product {filters.product.strip()!r}")
        query = query.where(AuditEntry.product_id == match.product.id)
    if filters.since and filters.until and filters.since > filters.until:
        raise BadInput(f"the date range is backwards: {filters.since} is after {filters.until}")
    if filters.since:
        query = query.where(AuditEntry.at >= _local_midnight_utc(filters.since))
    if filters.until:
        query = query.where(AuditEntry.at < _local_midnight_utc(filters.until + dt.timedelta(days=1)))
    return query


def _rows_query() -> Select:
    return select(
        AuditEntry.id, AuditEntry.at, AuditEntry.username, AuditEntry.role, AuditEntry.station, AuditEntry.action,
        AuditEntry.target, Product.sku, AuditEntry.summary, AuditEntry.outcome,
    ).outerjoin(Product, Product.id == AuditEntry.product_id)


def _row(values) -> AuditRow:  # type: ignore[no-untyped-def]
    entry_id, at, *rest = values
    return AuditRow(entry_id, as_utc(at), *rest)


def browse(
    store: Store,
    actor: Actor,
    filters: AuditFilter = AuditFilter(),
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """One page, newest first: the newest rows, rows older than ``before_id``, or the page just newer than ``after_id``."""
    check(store, actor, Permission.VIEW_AUDIT, "audit log")
    if before_id is not None and after_id is not None:
        raise BadInput("page either before or after an entry, not both")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    with store.read() as session:
        query = _filtered(session, _rows_query(), filters)
        if after_id is not None:
            found = session.execute(query.where(AuditEntry.id > after_id).order_by(AuditEntry.id.asc()).limit(limit)).all()
            rows = tuple(_row(values) for values in reversed(found))
        else:
            if before_id is not None:
                query = query.where(AuditEntry.id < before_id)
            rows = tuple(_row(values) for values in session.execute(query.order_by(AuditEntry.id.desc()).limit(limit)))
        if not rows:
            return AuditPage((), has_older=after_id is not None, has_newer=before_id is not None)
        any_row = _filtered(session, select(AuditEntry.id), filters)
        has_older = session.scalar(select(exists(any_row.where(AuditEntry.id < rows[-1].id))))
        has_newer = session.scalar(select(exists(any_row.where(AuditEntry.id > rows[0].id))))
    return AuditPage(rows, has_older=bool(has_older), has_newer=bool(has_newer))


def iter_entries(store: Store, actor: Actor, filters: AuditFilter = AuditFilter(), *, batch: int = 1000) -> Iterator[AuditRow]:
    """Every matching entry, oldest first, for export.  The permission is checked on the call."""
    check(store, actor, Permission.VIEW_AUDIT, "audit log export")
    with store.read() as session:
        _filtered(session, select(AuditEntry.id), filters)  # bad filters fail now, not mid-export
    return _stream(store, filters, batch)


def _stream(store: Store, filters: AuditFilter, batch: int) -> Iterator[AuditRow]:
    last_id = 0
    while True:
        with store.read() as session:
            query = _filtered(session, _rows_query(), filters).where(AuditEntry.id > last_id)
            rows = [_row(values) for values in session.execute(query.order_by(AuditEntry.id.asc()).limit(batch))]
        yield from rows
        if len(rows) < batch:
            return
        last_id = rows[-1].id


def known_actions(store: Store, actor: Actor) -> list[str]:
    """The distinct actions in the log, for a filter picker."""
    check(store, actor, Permission.VIEW_AUDIT, "audit log")
    with store.read() as session:
        return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
