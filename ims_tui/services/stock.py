"""Receive, issue, move and adjust: the everyday stock operations, all built on the ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Balance, Lot, Product
from ims_tui.services import ledger
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, resolve_product
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.ledger import PostingResult, StockMove
from ims_tui.services.permissions import Permission, check
from ims_tui.values import ADJUSTMENT, CUSTOMER, SCRAP, SUPPLIER  # noqa: F401 - defined once, re-exported


def receive(
    store: Store,
    actor: Actor,
    code: str,
    qty: Decimal,
    *,
    to: str,
    lot: str | None = None,
    expiry: dt.date | None = None,
    serials: tuple[str, ...] = (),
    cost: Decimal | None = None,
    reference: str = "",
    key: str | None = None,
) -> PostingResult:
    """Goods arrive from a supplier into a stock location."""
    check(store, actor, Permission.RECEIVE, code)
    move = StockMove(code, qty, SUPPLIER, to, lot, expiry, serials, cost)
    return ledger.post_moves(store, actor, "receive", [move], key=key, reference=reference)


def issue(
    store: Store,
    actor: Actor,
    code: str,
    qty: Decimal,
    *,
    source: str,
    lot: str | None = None,
    serials: tuple[str, ...] = (),
    reference: str = "",
    key: str | None = None,
) -> PostingResult:
    """Goods leave stock to a customer."""
    check(store, actor, Permission.SHIP, code)
    move = StockMove(code, qty, source, CUSTOMER, lot, None, serials)
    return ledger.post_moves(store, actor, "issue", [move], key=key, reference=reference)


def move(
    store: Store,
    actor: Actor,
    code: str,
    qty: Decimal,
    *,
    source: str,
    to: str,
    lot: str | None = None,
    serials: tuple[str, ...] = (),
    reference: str = "",
    key: str | None = None,
) -> PostingResult:
    """Goods move between two stock locations (putaway, replenishment, transfer)."""
    check(store, actor, Permission.MOVE, code)
    step = StockMove(code, qty, source, to, lot, None, serials)
    return ledger.post_moves(store, actor, "move", [step], key=key, reference=reference)


def adjust(
    store: Store,
    actor: Actor,
    code: str,
    *,
    at: str,
    reason: str,
    set_to: Decimal | None = None,
    by: Decimal | None = None,
    lot: str | None = None,
    serials: tuple[str, ...] = (),
    cost: Decimal | None = None,
    key: str | None = None,
) -> PostingResult:
    """Correct the quantity at a location, to an absolute figure (``set_to``) or by a delta."""
    if (set_to is None) == (by is None):
        raise BadInput("give exactly one of --set QTY or --by DELTA")
    if not reason.strip():
        raise BadInput("an adjustment needs a reason")
    if set_to is not None and set_to < 0:
        raise BadInput(f"cannot set stock below zero ({set_to})")
    check(store, actor, Permission.ADJUST, code)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> PostingResult:
        product = resolve_product(session, code)
        sku = product.sku
        delta = by if by is not None else set_to - _locked_on_hand(session, product, at, lot)
        if delta == 0:
            raise RuleViolation(f"nothing to adjust: {sku} at {at} is already {set_to}")
        if delta > 0:
            step = StockMove(sku, delta, ADJUSTMENT, at, lot, None, serials, cost)
        else:
            step = StockMove(sku, -delta, at, ADJUSTMENT, lot, None, serials)
        return ledger.post(session, actor, "adjust", [step], key=posting_key, reason=reason.strip())

    return store.transact(work)


def _locked_on_hand(session: Session, product: Product, location_code: str, lot_code: str | None) -> Decimal:
    """On hand at one balance, with the row locked so a concurrent post cannot slip in between."""
    location = find_location(session, location_code)
    if location is None:
        raise NotFound(f"unknown location {location_code!r}")
    lot_key = 0
    if lot_code:
        lot = session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == lot_code)).one_or_none()
        if lot is None:
            return Decimal(0)
        lot_key = lot.id
    if location.holds_stock:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(Balance)
            .values(product_id=product.id, location_id=location.id, lot_key=lot_key, lot_id=lot_key or None, on_hand=0, reserved=0)
            .on_conflict_do_nothing(index_elements=["product_id", "location_id", "lot_key"])
        )
    on_hand = session.scalar(
        select(Balance.on_hand)
        .where(Balance.product_id == product.id, Balance.location_id == location.id, Balance.lot_key == lot_key)
        .with_for_update()
    )
    return on_hand or Decimal(0)
