"""Reservations: holding concrete stock for sales order lines, inside the caller's transaction.

An *allocation* ties a quantity of an order line to one balance (product x bin x lot).  Taking
it is a conditional increment ``reserved = reserved + n WHERE on_hand - reserved >= n`` on
that balance, so available stock can never be held twice, on SQLite (``BEGIN IMMEDIATE``) and
on PostgreSQL (the UPDATE re-checks the row it waited for) alike; releasing it decrements
``reserved`` by exactly what the allocation still holds.  The ledger's own decrement
(``on_hand - reserved >= n``) keeps every other posting off reserved stock.

Which stock: bins whose location usage is ``stock`` (not packing or quarantine), never an
expired lot nor one with fewer days to expiry than the customer accepts, never a bin with an
open recount request for the product; FEFO (earliest expiry first) for lots with an expiry,
else FIFO by the time the balance was filled (``balances.received_at``).

A line's quantities always add up: ordered = waiting + reserved + picked + shipped (for an
open order).  Waiting quantity is allocated when stock arrives - the ledger calls
:func:`stock_added` for every posting that adds stock - in order of requested date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ims_tui.db.direct import Direct, connection_of
from ims_tui.db.models import (
    Allocation,
    Balance,
    Customer,
    Location,
    Lot,
    RecountRequest,
    SalesOrder,
    SalesOrderLine,
)
from ims_tui.db.types import QTY_SCALE, ScaledDecimal, to_scaled
from ims_tui.services.errors import RuleViolation

OPEN_STATUSES = ("confirmed", "picking", "partial")
"""Orders whose lines may hold or wait for stock."""

_balances = Balance.__table__
_allocations = Allocation.__table__
_lines = SalesOrderLine.__table__


def _qty(name: str):  # type: ignore[no-untyped-def]
    return bindparam(name, type_=ScaledDecimal(QTY_SCALE))


@dataclass(frozen=True)
class Candidate:
    """A balance stock may be allocated from, in allocation order."""

    balance_id: int
    location_id: int
    lot_key: int
    lot_id: int | None
    expiry: dt.date | None
    free: Decimal
    location_code: str = ""
    lot_code: str | None = None


@dataclass(frozen=True)
class Held:
    """What an allocation call took: (balance candidate, allocation id, quantity)."""

    candidate: Candidate
    allocation_id: int
    qty: Decimal


# --- statements, built once ------------------------------------------------------------------

_RESERVE = (
    update(_balances)
    .where(_balances.c.id == bindparam("balance"), _balances.c.on_hand - _balances.c.reserved >= _qty("qty"))
    .values(reserved=_balances.c.reserved + _qty("qty"))
)
_UNRESERVE = (
    update(_balances)
    .where(
        _balances.c.product_id == bindparam("product"), _balances.c.location_id == bindparam("location"),
        _balances.c.lot_key == bindparam("b_lot_key"), _balances.c.reserved >= _qty("qty"),
    )
    .values(reserved=_balances.c.reserved - _qty("qty"))
)
_FREE = select(_balances.c.on_hand - _balances.c.reserved).where(_balances.c.id == bindparam("balance"))
_SHRINK_ALLOCATION = (
    update(_allocations)
    .where(_allocations.c.id == bindparam("allocation"), _allocations.c.qty >= _qty("qty"))
    .values(qty=_allocations.c.qty - _qty("qty"))
)
_INSERT_ALLOCATION = insert(_allocations).returning(_allocations.c.id)
_CLAIM_WAITING = (
    update(_lines)
    .where(_lines.c.id == bindparam("line"), _lines.c.qty_waiting >= _qty("qty"))
    .values(qty_waiting=_lines.c.qty_waiting - _qty("qty"), qty_reserved=_lines.c.qty_reserved + _qty("qty"))
)
_UNCLAIM = (
    update(_lines)
    .where(_lines.c.id == bindparam("line"), _lines.c.qty_reserved >= _qty("qty"))
    .values(qty_waiting=_lines.c.qty_waiting + _qty("qty"), qty_reserved=_lines.c.qty_reserved - _qty("qty"))
)


_RECOUNT_OPEN = exists().where(
    RecountRequest.product_id == Balance.product_id, RecountRequest.location_id == Balance.location_id,
    RecountRequest.done_at.is_(None),
)
_CANDIDATES = (
    select(Balance.id, Balance.location_id, Balance.lot_key, Balance.lot_id, Lot.expiry, Balance.on_hand - Balance.reserved,
           Location.code, Lot.code)
    .join(Location, Location.id == Balance.location_id)
    .outerjoin(Lot, Lot.id == Balance.lot_id)
    .where(
        Balance.product_id == bindparam("product"),
        Balance.on_hand - Balance.reserved > 0,
        Location.kind == "internal", Location.usage == "stock", Location.active.is_(True),
        or_(Lot.expiry.is_(None), Lot.expiry >= bindparam("earliest_expiry")),
        ~_RECOUNT_OPEN,
    )
    .order_by(Lot.expiry.is_(None), Lot.expiry, Balance.received_at.is_(None), Balance.received_at, Balance.id)
)
"""Built once: constructing this statement per line cost more than running it."""


def candidates(
    session: Session,
    product_id: int,
    *,
    min_shelf_days: int = 0,
    today: dt.date | None = None,
    exclude_locations: Iterable[int] = (),
) -> list[Candidate]:
    """Balances of ``product_id`` with free stock that may be allocated, best first."""
    today = today or dt.date.today()
    query = _CANDIDATES
    excluded = list(exclude_locations)
    if excluded:
        query = query.where(Balance.location_id.not_in(excluded))
    params = {"product": product_id, "earliest_expiry": today + dt.timedelta(days=max(min_shelf_days, 0))}
    return [Candidate(*row) for row in session.execute(query, params)]


def hold(
    session: Session,
    *,
    order_id: int,
    line_id: int,
    product_id: int,
    qty: Decimal,
    pool: Sequence[Candidate],
) -> list[Held]:
    """Reserve up to ``qty`` from ``pool`` in its order; returns what was held (maybe less).

    Each take is a conditional increment; when another station took the stock a moment ago
    the balance is re-read and the smaller quantity tried, so nothing is held twice.
    """
    held: list[Held] = []
    remaining = qty
    connection = session.connection()
    for candidate in pool:
        if remaining <= 0:
            break
        take = min(remaining, candidate.free)
        while take > 0:
            if connection.execute(_RESERVE, {"balance": candidate.balance_id, "qty": take}).rowcount == 1:
                allocation_id = connection.execute(
                    _INSERT_ALLOCATION,
                    {"order_id": order_id, "line_id": line_id, "product_id": product_id,
                     "location_id": candidate.location_id, "lot_key": candidate.lot_key, "lot_id": candidate.lot_id,
                     "serial_id": None, "stage": "reserved", "qty": take, "original_qty": take},
                ).scalar_one()
                held.append(Held(candidate, allocation_id, take))
                remaining -= take
                break
            free = connection.execute(_FREE, {"balance": candidate.balance_id}).scalar_one()
            take = min(remaining, max(free, Decimal(0)))
    return held


def allocate_line(
    session: Session,
    *,
    order_id: int,
    line_id: int,
    product_id: int,
    qty: Decimal,
    min_shelf_days: int,
    exclude_locations: Iterable[int] = (),
) -> list[Held]:
    """Move up to ``qty`` of the line's waiting quantity onto allocations; returns what was held.

    The line's waiting quantity is claimed first (a conditional update that also serialises
    two stations allocating the same line), and what could not be held is given back.
    """
    if qty <= 0:
        return []
    connection = session.connection()
    if connection.execute(_CLAIM_WAITING, {"line": line_id, "qty": qty}).rowcount != 1:
        return []
    pool = candidates(session, product_id, min_shelf_days=min_shelf_days, exclude_locations=exclude_locations)
    held = hold(session, order_id=order_id, line_id=line_id, product_id=product_id, qty=qty, pool=pool)
    short = qty - sum((h.qty for h in held), Decimal(0))
    if short > 0:
        connection.execute(_UNCLAIM, {"line": line_id, "qty": short})
    return held


def release(session: Session, allocation_id: int, qty: Decimal | None = None) -> Decimal:
    """Give back ``qty`` (default: all it still holds) of an allocation; returns the quantity.

    The balance's ``reserved`` goes down by exactly that much.  The caller moves the line's
    quantity to where it belongs (waiting, picked or gone).
    """
    connection = session.connection()
    row = connection.execute(
        select(_allocations.c.product_id, _allocations.c.location_id, _allocations.c.lot_key, _allocations.c.qty)
        .where(_allocations.c.id == allocation_id)
    ).one()
    amount = row.qty if qty is None else qty
    if amount <= 0:
        return Decimal(0)
    if connection.execute(_SHRINK_ALLOCATION, {"allocation": allocation_id, "qty": amount}).rowcount != 1:
        raise RuleViolation(f"allocation {allocation_id} holds less than {amount.normalize():f}; run 'ims check'")
    params = {"product": row.product_id, "location": row.location_id, "b_lot_key": row.lot_key, "qty": amount}
    if connection.execute(_UNRESERVE, params).rowcount != 1:
        raise RuleViolation("a balance holds less reserved stock than its allocations; run 'ims check'")
    return amount


def hold_picked(
    session: Session,
    *,
    order_id: int,
    line_id: int,
    product_id: int,
    location_id: int,
    lot_id: int | None,
    serial_ids: Sequence[int | None],
    qty: Decimal,
) -> None:
    """Hold goods just picked into the packing location for the order (one row per serial)."""
    connection = session.connection()
    lot_key = lot_id or 0
    balance_id = connection.execute(
        select(_balances.c.id).where(_balances.c.product_id == product_id, _balances.c.location_id == location_id,
                                     _balances.c.lot_key == lot_key)
    ).scalar_one()
    if connection.execute(_RESERVE, {"balance": balance_id, "qty": qty}).rowcount != 1:
        raise RuleViolation("the packing location has less free stock than was just picked into it")
    units = [(serial, Decimal(1)) for serial in serial_ids] if any(serial_ids) else [(None, qty)]
    connection.execute(
        insert(_allocations),
        [{"order_id": order_id, "line_id": line_id, "product_id": product_id, "location_id": location_id,
          "lot_key": lot_key, "lot_id": lot_id, "serial_id": serial, "stage": "picked", "qty": n, "original_qty": n}
         for serial, n in units],
    )


def open_allocations(session: Session, *, order_id: int | None = None, line_id: int | None = None,
                     stage: str | None = None) -> list:
    """Rows of the open allocations of an order or a line (id, line_id, product, location, lot, serial, stage, qty)."""
    query = select(
        _allocations.c.id, _allocations.c.line_id, _allocations.c.product_id, _allocations.c.location_id,
        _allocations.c.lot_key, _allocations.c.lot_id, _allocations.c.serial_id, _allocations.c.stage, _allocations.c.qty,
    ).where(_allocations.c.qty > 0).order_by(_allocations.c.id)
    if order_id is not None:
        query = query.where(_allocations.c.order_id == order_id)
    if line_id is not None:
        query = query.where(_allocations.c.line_id == line_id)
    if stage is not None:
        query = query.where(_allocations.c.stage == stage)
    return list(session.execute(query))


class WaitingLine(NamedTuple):
    id: int
    order_id: int
    product_id: int
    qty_waiting: Decimal
    min_shelf_days: int | None


_wanted = SalesOrderLine.requested_date
_WAITING = Direct(
    select(SalesOrderLine.id, SalesOrderLine.order_id, SalesOrderLine.product_id, SalesOrderLine.qty_waiting,
           Customer.min_shelf_days)
    .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
    .join(Customer, Customer.id == SalesOrder.customer_id)
    .where(SalesOrderLine.product_id.in_(bindparam("products", expanding=True)), SalesOrderLine.qty_waiting > 0,
           SalesOrder.status.in_(OPEN_STATUSES))
    .order_by(_wanted.is_(None), _wanted, SalesOrder.due_date.is_(None), SalesOrder.due_date,
              SalesOrder.confirmed_at, SalesOrderLine.id)
)
_STAMP_RECEIVED = Direct(
    update(_balances)
    .where(_balances.c.product_id == bindparam("product"), _balances.c.location_id == bindparam("location"),
           _balances.c.lot_key == bindparam("key"),
           or_(_balances.c.received_at.is_(None), _balances.c.on_hand == _qty("qty")))
    .values(received_at=bindparam("at"))
)


# PostgreSQL, for a batch's balances (each already locked by the batch's upsert): _STAMP_RECEIVED for each
_STAMP_RECEIVED_MANY = Direct(text(
    "UPDATE balances SET received_at = :at FROM unnest(CAST(:products AS INTEGER[]), CAST(:locations AS INTEGER[]), "
    "CAST(:keys AS INTEGER[]), CAST(:qtys AS BIGINT[])) AS added(p, l, k, q) "
    "WHERE balances.product_id = added.p AND balances.location_id = added.l AND balances.lot_key = added.k "
    "AND (balances.received_at IS NULL OR balances.on_hand = added.q)"
))


def waiting_lines(session: Session, product_ids: Iterable[int]) -> list[WaitingLine]:
    """Open order lines waiting for these products, in the order they are served: requested
    date (else the order's due date), then when the order was confirmed."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    return [WaitingLine(*row) for row in _WAITING.all(connection_of(session), {"products": ids})]


def allocate_waiting(session: Session, product_ids: Iterable[int]) -> Decimal:
    """Allocate what lines waiting for these products can get now; returns the quantity held."""
    total = Decimal(0)
    for line in waiting_lines(session, product_ids):
        held = allocate_line(session, order_id=line.order_id, line_id=line.id, product_id=line.product_id,
                             qty=line.qty_waiting, min_shelf_days=line.min_shelf_days)
        total += sum((h.qty for h in held), Decimal(0))
    return total


def stock_added(session: Session, added: Sequence[tuple[int, int, int, Decimal]], at: dt.datetime) -> None:
    """The ledger's hook for a posting that added stock: (product, location, lot_key, qty).

    Stamps the FIFO time of balances that were empty before, then allocates waiting lines.
    """
    if not added:
        return
    connection = connection_of(session)
    if connection.dialect.name == "postgresql" and len(added) > 1:  # a batch: one statement, not one per balance
        _STAMP_RECEIVED_MANY.execute(connection, {
            "at": at, "products": [row[0] for row in added], "locations": [row[1] for row in added],
            "keys": [row[2] for row in added], "qtys": [to_scaled(row[3], QTY_SCALE) for row in added]})
        allocate_waiting(session, {product_id for product_id, *_ in added})
        return
    _STAMP_RECEIVED.execute_many(connection, [
        {"product": product_id, "location": location_id, "key": lot_key, "qty": qty, "at": at}
        for product_id, location_id, lot_key, qty in added
    ])
    allocate_waiting(session, {product_id for product_id, *_ in added})


def reserved_mismatches(session: Session) -> list[tuple[int, int, int, Decimal, Decimal]]:
    """Balances whose ``reserved`` differs from the sum of their open allocations:
    (product, location, lot_key, reserved, allocated)."""
    sums = {
        (p, loc, k): total
        for p, loc, k, total in session.execute(
            select(_allocations.c.product_id, _allocations.c.location_id, _allocations.c.lot_key, func.sum(_allocations.c.qty))
            .where(_allocations.c.qty > 0)
            .group_by(_allocations.c.product_id, _allocations.c.location_id, _allocations.c.lot_key)
        )
    }
    reserved = {
        (p, loc, k): value
        for p, loc, k, value in session.execute(
            select(_balances.c.product_id, _balances.c.location_id, _balances.c.lot_key, _balances.c.reserved)
            .where(_balances.c.reserved != 0)
        )
    }
    out = []
    for key in sorted(set(sums) | set(reserved)):
        held, allocated = reserved.get(key, Decimal(0)), sums.get(key, Decimal(0))
        if held != allocated:
            out.append((*key, held, allocated))
    return out


__all__ = [
    "Candidate", "Held", "OPEN_STATUSES", "allocate_line", "allocate_waiting", "candidates", "hold", "hold_picked",
    "open_allocations", "release", "reserved_mismatches", "stock_added", "waiting_lines",
]
