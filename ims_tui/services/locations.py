"""What is in a location: its balances by product and lot, its sub-locations, its last movements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from ims_tui.db.engine import Store
from ims_tui.db.models import Balance, Location, Lot, Product
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location
from ims_tui.services.errors import NotFound
from ims_tui.services.inventory import MovementRow, recent_movements
from ims_tui.services.permissions import Permission, check

MAX_ROWS = 200


@dataclass(frozen=True)
class BinRow:
    sku: str
    name: str
    uom: str
    lot: str | None
    expiry: dt.date | None
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class LocationContents:
    id: int
    code: str
    name: str
    kind: str
    warehouse: str | None
    parent: str | None
    barcode: str | None
    active: bool
    rows: list[BinRow]
    more_rows: bool
    children: list[str] = field(default_factory=list)
    movements: list[MovementRow] = field(default_factory=list)


def location_contents(store: Store, actor: Actor, code: str, *, limit: int = MAX_ROWS, movements: int = 8) -> LocationContents:
    """A location by code or barcode with up to ``limit`` stock lines (``more_rows`` says if cut)."""
    check(store, actor, Permission.LOOKUP, code)
    with store.read() as session:
        location = find_location(session, code)
        if location is None:
            raise NotFound(f"unknown location {code!r}")
        rows = session.execute(
            select(Product.sku, Product.name, Product.uom, Lot.code, Lot.expiry, Balance.on_hand, Balance.reserved)
            .join(Product, Product.id == Balance.product_id)
            .outerjoin(Lot, Lot.id == Balance.lot_id)
            .where(Balance.location_id == location.id, (Balance.on_hand > 0) | (Balance.reserved > 0))
            .order_by(Product.sku, Lot.expiry, Lot.code)
            .limit(limit + 1)
        ).all()
        children = list(session.scalars(
            select(Location.code).where(Location.parent_id == location.id).order_by(Location.code).limit(limit)
        ))
        return LocationContents(
            id=location.id,
            code=location.code,
            name=location.name,
            kind=location.kind,
            warehouse=location.warehouse.code if location.warehouse else None,
            parent=location.parent.code if location.parent else None,
            barcode=location.barcode,
            active=location.active,
            rows=[BinRow(*row) for row in rows[:limit]],
            more_rows=len(rows) > limit,
            children=children,
            movements=recent_movements(session, location_id=location.id, limit=movements),
        )
