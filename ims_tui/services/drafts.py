"""Work in progress on a station, saved after every step: one service for every flow's drafts.

A draft is a ``task_drafts`` row: the flow's ``kind`` (``receipt``, later ``pick``, ``count``
...), its owner and station, a ``reference`` (what it is about: a PO number, a supplier, a sales
order) and a JSON ``payload`` only the flow reads.  A flow kind registers the permission its
owners need (:func:`register_kind`); managers (``MANAGE_DRAFTS``) see and discard anyone's.

Every change announces the ``drafts`` topic (ident ``<kind>:<id>``) in its own transaction, so
a list of drafts on any station follows starts, saves and discards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import TaskDraft
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.changes import emit
from ims_tui.services.errors import NotFound, RuleViolation
from ims_tui.services.permissions import Permission, check


@dataclass(frozen=True)
class DraftKind:
    """A kind of draft: who may own one, and what a person calls it (``receipt``)."""

    kind: str
    permission: Permission
    noun: str


_KINDS: dict[str, DraftKind] = {}


def register_kind(kind: str, permission: Permission, noun: str | None = None) -> DraftKind:
    """Declare a flow's draft kind (at import time of the flow's service)."""
    entry = _KINDS[kind] = DraftKind(kind, permission, noun or kind)
    return entry


def kind_of(kind: str) -> DraftKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise NotFound(f"no kind of work in progress called {kind!r}") from None


@dataclass(frozen=True)
class Draft:
    """One saved draft as read from the store."""

    id: int
    kind: str
    username: str
    station: str
    reference: str
    payload: dict
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class DraftSummary:
    draft_id: int
    username: str
    station: str
    reference: str
    lines: int
    updated_at: dt.datetime | None

    def to_dict(self) -> dict:
        return asdict(self)


def _draft(row: TaskDraft) -> Draft:
    return Draft(row.id, row.kind, row.username, row.station, row.reference, dict(row.payload or {}), row.updated_at)


# --- inside a flow's own transaction ----------------------------------------------------------


def find_own(session: Session, actor: Actor, kind: str, reference: str) -> Draft | None:
    """The actor's newest draft of ``kind`` about ``reference``, if any."""
    row = session.scalars(
        select(TaskDraft).where(TaskDraft.kind == kind, TaskDraft.username == actor.username,
                                TaskDraft.reference == reference).order_by(TaskDraft.id.desc())
    ).first()
    return _draft(row) if row is not None else None


def create(session: Session, actor: Actor, kind: str, reference: str, payload: dict) -> Draft:
    """A new draft in the caller's transaction (the caller checked the permission)."""
    kind_of(kind)
    row = TaskDraft(kind=kind, username=actor.username, station=actor.station, reference=reference, payload=payload)
    session.add(row)
    session.flush()
    emit(session, "drafts", f"{kind}:{row.id}")
    return _draft(row)


def close(session: Session, kind: str, draft_id: int) -> None:
    """Delete a finished draft in the caller's transaction (its work was posted)."""
    row = session.get(TaskDraft, draft_id)
    if row is not None and row.kind == kind:
        session.delete(row)
        emit(session, "drafts", f"{kind}:{draft_id}")


# --- one transaction each -----------------------------------------------------------------------


def resume(store: Store, actor: Actor, kind: str) -> Draft | None:
    """The actor's most recently touched draft of ``kind``, where they left it."""
    check(store, actor, kind_of(kind).permission, "resume")
    with store.read() as session:
        row = session.scalars(
            select(TaskDraft).where(TaskDraft.kind == kind, TaskDraft.username == actor.username)
            .order_by(TaskDraft.updated_at.desc(), TaskDraft.id.desc())
        ).first()
        return _draft(row) if row is not None else None


def load(store: Store, actor: Actor, kind: str, draft_id: int) -> Draft:
    """A draft by id: the actor's own, or anyone's for a manager."""
    entry = kind_of(kind)
    owner = _owner(store, entry, draft_id)
    check(store, actor, entry.permission if owner == actor.username else Permission.MANAGE_DRAFTS, f"draft {draft_id}")
    with store.read() as session:
        row = session.get(TaskDraft, draft_id)
        if row is None:
            raise NotFound(f"no open {entry.noun} {draft_id}")
        return _draft(row)


def save(store: Store, actor: Actor, kind: str, draft_id: int, owner: str, payload: dict) -> None:
    """Keep the draft's payload as it is now (a flow calls this after every step)."""
    entry = kind_of(kind)

    def work(session: Session) -> None:
        result = session.execute(
            update(TaskDraft)
            .where(TaskDraft.id == draft_id, TaskDraft.kind == kind, TaskDraft.username == owner)
            .values(payload=payload, station=actor.station, updated_at=dt.datetime.now(dt.timezone.utc))
        )
        if result.rowcount != 1:
            raise RuleViolation(f"this {entry.noun} is no longer open (confirmed, or discarded by a manager)")
        emit(session, "drafts", f"{kind}:{draft_id}")

    store.transact(work)


def list_drafts(store: Store, actor: Actor, kind: str, *, everyone: bool = False, limit: int = 200) -> list[DraftSummary]:
    """Open drafts of ``kind``: the actor's own, or (``everyone``, managers) every station's."""
    entry = kind_of(kind)
    check(store, actor, Permission.MANAGE_DRAFTS if everyone else entry.permission, f"{entry.noun} drafts")
    query = select(TaskDraft).where(TaskDraft.kind == kind).order_by(TaskDraft.updated_at.desc(), TaskDraft.id.desc())
    if not everyone:
        query = query.where(TaskDraft.username == actor.username)
    with store.read() as session:
        return [
            DraftSummary(row.id, row.username, row.station, row.reference, len((row.payload or {}).get("lines", [])),
                         row.updated_at)
            for row in session.scalars(query.limit(limit))
        ]


def discard(store: Store, actor: Actor, kind: str, draft_id: int) -> None:
    """Throw a draft away (nothing was posted); another user's needs ``MANAGE_DRAFTS``."""
    entry = kind_of(kind)
    owner = _owner(store, entry, draft_id)
    if owner == actor.username:
        check(store, actor, entry.permission, f"draft {draft_id}")
    else:
        check(store, actor, Permission.MANAGE_DRAFTS, f"draft {draft_id} of {owner}")

    def work(session: Session) -> None:
        row = session.get(TaskDraft, draft_id)
        if row is None or row.kind != kind:
            raise NotFound(f"no open {entry.noun} {draft_id}")
        lines = len((row.payload or {}).get("lines", []))
        session.delete(row)
        audit.record(session, actor, f"{kind}.discard", row.reference, f"draft {draft_id} of {row.username}, {lines} line(s)")
        emit(session, "drafts", f"{kind}:{draft_id}")

    store.transact(work)


def _owner(store: Store, entry: DraftKind, draft_id: int) -> str:
    with store.read() as session:
        row = session.get(TaskDraft, draft_id)
        owner = row.username if row is not None and row.kind == entry.kind else None
    if owner is None:
        raise NotFound(f"no open {entry.noun} {draft_id}")
    return owner
