"""What purchase and sales orders share: finding one by its number, and the list filters."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ims_tui.services.errors import NotFound


def normalise_number(number: str) -> str:
    return number.strip().upper()


def load_order(session: Session, model, number: str, what: str, *, lock: bool = False):  # type: ignore[no-untyped-def]
    """The ``model`` order by number (case-insensitive); ``lock`` takes its row lock."""
    query = select(model).where(model.number == normalise_number(number))
    if lock:
        query = query.with_for_update()
    order = session.scalars(query).one_or_none()
    if order is None:
        raise NotFound(f"unknown {what} {number.strip()!r}")
    return order


def filter_orders(query: Select, model, party_name, *, status: str | None, open_only: bool,  # type: ignore[no-untyped-def]
                  open_statuses: Sequence[str], search: str) -> Select:
    """A list query narrowed to one status, to the open ones, or to a number/party-name match."""
    if status:
        query = query.where(model.status == status)
    if open_only:
        query = query.where(model.status.in_(open_statuses))
    if search.strip():
        pattern = f"%{search.strip()}%"
        query = query.where(model.number.ilike(pattern) | party_name.ilike(pattern))
    return query
