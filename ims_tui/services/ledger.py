"""The stock ledger: the one way stock changes.

A *posting* is a set of movements applied atomically with their balance, serial and cost-layer
updates, in one short transaction, under an idempotency key (a retried or duplicated post is a
no-op).  Locks are taken in a fixed order - balances sorted by (product, location, lot), then
cost layers by product, then serials - so two stations never deadlock each other; decrements
are conditional (``on_hand >= n``) so they never oversell.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    CostLayer,
    Location,
    Lot,
    Movement,
    Posting,
    Product,
    SerialNumber,
    StoreMeta,
)
from ims_tui.db.types import MONEY_SCALE
from ims_tui.services import audit, changes
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location
from ims_tui.services.errors import BadInput, NotFound, RuleViolation

MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


@dataclass(frozen=True)
class StockMove:
    """One line of a posting, in the terms people use: codes, not ids."""

    sku: str
    qty: Decimal
    from_location: str
    to_location: str
    lot: str | None = None
    expiry: dt.date | None = None
    serials: tuple[str, ...] = ()
    unit_cost: Decimal | None = None
    reference: str = ""


@dataclass(frozen=True)
class PostingResult:
    posting_id: int
    key: str
    already_posted: bool
    movement_ids: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "posting_id": self.posting_id,
            "key": self.key,
            "already_posted": self.already_posted,
            "movements": len(self.movement_ids),
        }


def new_key() -> str:
    return uuid.uuid4().hex


def post_moves(
    store: Store,
    actor: Actor,
    kind: str,
    moves: Sequence[StockMove],
    *,
    key: str | None = None,
    reason: str = "",
    reference: str = "",
) -> PostingResult:
    """Post ``moves`` in their own transaction (retried on serialization failures)."""
    posting_key = key or new_key()
    return store.transact(
        lambda session: post(session, actor, kind, moves, key=posting_key, reason=reason, reference=reference)
    )


def post(
    session: Session,
    actor: Actor,
    kind: str,
    moves: Sequence[StockMove],
    *,
    key: str,
    reason: str = "",
    reference: str = "",
    at: dt.datetime | None = None,
) -> PostingResult:
    """Post ``moves`` inside the caller's transaction (so an order's update can ride along).

    ``at`` backdates the posting (demo history); live postings leave it to the clock.
    """
    if not moves:
        raise BadInput("nothing to post")
    at = at or dt.datetime.now(dt.timezone.utc)
    posting_id = _claim_key(session, actor, kind, key, reason, reference, at)
    if posting_id is None:
        existing = session.scalars(select(Posting).where(Posting.idempotency_key == key)).one()
        return PostingResult(existing.id, key, already_posted=True)
    return _Posting(session, actor, posting_id, reason, reference, at).apply(moves, kind, key)


def _claim_key(
    session: Session, actor: Actor, kind: str, key: str, reason: str, reference: str, at: dt.datetime
) -> int | None:
    """Insert the posting row; None when the key was already posted (by anyone, ever)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Posting)
        .values(
            idempotency_key=key,
            kind=kind,
            reason=reason[:200],
            reference=reference[:200],
            username=actor.username,
            station=actor.station,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Posting.id)
    )
    return session.execute(statement).scalar_one_or_none()


@dataclass
class _Line:
    """A move resolved to rows: one per serial for serial-tracked products."""

    product: Product
    qty: Decimal
    source: Location
    destination: Location
    lot: Lot | None
    serial: str | None
    unit_cost: Decimal | None
    reference: str
    serial_row: SerialNumber | None = None
    new_layers: list[CostLayer] = field(default_factory=list)


class _Posting:
    def __init__(
        self, session: Session, actor: Actor, posting_id: int, reason: str, reference: str, at: dt.datetime
    ) -> None:
        self.session = session
        self.at = at
        self.actor = actor
        self.posting_id = posting_id
        self.reason = reason
        self.reference = reference
        self.dialect = session.get_bind().dialect.name
        self._products: dict[str, Product] = {}
        self._locations: dict[str, Location] = {}

    # -- resolving codes ------------------------------------------------------------------

    def product(self, sku: str) -> Product:
        if sku not in self._products:
            product = self.session.scalars(select(Product).where(Product.sku == sku)).one_or_none()
            if product is None:
                raise NotFound(f"unknown product {sku!r}")
            if not product.active:
                raise RuleViolation(f"product {sku} is inactive")
            self._products[sku] = product
        return self._products[sku]

    def location(self, code: str) -> Location:
        if code not in self._locations:
            location = find_location(self.session, code)
            if location is None:
                raise NotFound(f"unknown location {code!r}")
            if location.kind == "view":
                raise RuleViolation(f"location {code} is an area, not a bin: choose one of its bins")
            if not location.active:
                raise RuleViolation(f"location {code} is inactive")
            self._locations[code] = location
        return self._locations[code]

    def lot(self, product: Product, code: str, expiry: dt.date | None, *, create: bool) -> Lot:
        lot = self.session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == code)).one_or_none()
        if lot is None:
            if not create:
                raise RuleViolation(f"no lot {code} of {product.sku}")
            try:
                with self.session.begin_nested():
                    lot = Lot(product_id=product.id, code=code, expiry=expiry)
                    self.session.add(lot)
            except IntegrityError:  # another station created the same lot a moment ago
                lot = self.session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == code)).one()
        elif expiry is not None and lot.expiry is None:
            lot.expiry = expiry
        elif expiry is not None and lot.expiry != expiry:
            raise RuleViolation(f"lot {code} of {product.sku} already has expiry {lot.expiry.isoformat()}, not {expiry}")
        return lot

    # -- validation -----------------------------------------------------------------------

    def resolve(self, move: StockMove) -> list[_Line]:
        try:
            qty = Decimal(move.qty)
        except (ArithmeticError, ValueError, TypeError):
            raise BadInput(f"not a quantity: {move.qty!r}") from None
        if not qty.is_finite() or qty <= 0:
            raise BadInput(f"quantity must be more than zero, not {move.qty}")
        product = self.product(move.sku)
        source = self.location(move.from_location)
        destination = self.location(move.to_location)
        if source.id == destination.id:
            raise BadInput(f"from and to are the same location ({source.code})")
        if not (source.holds_stock or destination.holds_stock):
            raise BadInput("a movement must start or end in a stock location")
        incoming = not source.holds_stock
        lot = None
        if move.lot:
            lot = self.lot(product, move.lot.strip(), move.expiry, create=incoming)
        elif product.tracking == "lot":
            raise RuleViolation(f"{product.sku} is lot-tracked: give the lot")
        unit_cost = move.unit_cost
        if unit_cost is not None and unit_cost < 0:
            raise BadInput(f"unit cost cannot be negative ({unit_cost})")
        if product.tracking == "serial":
            serials = [s.strip() for s in move.serials if s.strip()]
            if qty != len(serials):
                raise RuleViolation(f"{product.sku} is serial-tracked: give one serial per unit ({qty} units, {len(serials)} serials)")
            if len(set(serials)) != len(serials):
                raise RuleViolation(f"a serial of {product.sku} is listed twice")
            return [_Line(product, Decimal(1), source, destination, lot, s, unit_cost, move.reference) for s in serials]
        if move.serials:
            raise RuleViolation(f"{product.sku} is not serial-tracked: serials are not recorded for it")
        if qty != qty.to_integral_value() and product.uom in ("ea", "pcs", "unit"):
            raise BadInput(f"{product.sku} is counted in whole {product.uom}, not {qty}")
        return [_Line(product, qty, source, destination, lot, None, unit_cost, move.reference)]

    # -- applying ---------------------------------------------------------------------------

    def apply(self, moves: Sequence[StockMove], kind: str, key: str) -> PostingResult:
        lines = [line for move in moves for line in self.resolve(move)]
        self._explain_misplaced_serials(lines)
        self._apply_balances(lines)
        self._apply_cost_layers(lines)
        self._apply_serials(lines)
        movement_ids = self._insert_movements(lines)
        self._audit(kind, lines)
        changes.announce(self.session, "posting", self.posting_id)
        return PostingResult(self.posting_id, key, already_posted=False, movement_ids=tuple(movement_ids))

    def _apply_balances(self, lines: list[_Line]) -> None:
        deltas: dict[tuple[int, int, int], Decimal] = defaultdict(Decimal)
        lot_ids: dict[tuple[int, int, int], int | None] = {}
        for line in lines:
            lot_key = line.lot.id if line.lot else 0
            for location, sign in ((line.source, -1), (line.destination, 1)):
                if location.holds_stock:
                    balance_key = (line.product.id, location.id, lot_key)
                    deltas[balance_key] += sign * line.qty
                    lot_ids[balance_key] = line.lot.id if line.lot else None
        for balance_key in sorted(deltas):
            delta = deltas[balance_key]
            if delta > 0:
                self._increment(balance_key, lot_ids[balance_key], delta)
            elif delta < 0:
                self._decrement(balance_key, -delta)

    def _increment(self, balance_key: tuple[int, int, int], lot_id: int | None, qty: Decimal) -> None:
        product_id, location_id, lot_key = balance_key
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert(Balance).values(
            product_id=product_id, location_id=location_id, lot_key=lot_key, lot_id=lot_id, on_hand=qty, reserved=0
        )
        statement = statement.on_conflict_do_update(
            index_elements=["product_id", "location_id", "lot_key"],
            set_={"on_hand": Balance.on_hand + statement.excluded.on_hand},
        )
        self.session.execute(statement)

    def _decrement(self, balance_key: tuple[int, int, int], qty: Decimal) -> None:
        product_id, location_id, lot_key = balance_key
        where = (Balance.product_id == product_id, Balance.location_id == location_id, Balance.lot_key == lot_key)
        result = self.session.execute(
            update(Balance).where(*where, Balance.on_hand - Balance.reserved >= qty).values(on_hand=Balance.on_hand - qty),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount == 1:
            return
        row = self.session.execute(select(Balance.on_hand, Balance.reserved).where(*where)).one_or_none()
        on_hand, reserved = row if row else (Decimal(0), Decimal(0))
        product = next(p for p in self._products.values() if p.id == product_id)
        location = next(loc for loc in self._locations.values() if loc.id == location_id)
        lot = f" lot {self.session.get(Lot, lot_key).code}" if lot_key else ""
        free = on_hand - reserved
        held = f" ({_fmt(reserved)} reserved)" if reserved else ""
        raise RuleViolation(
            f"not enough stock: {product.sku}{lot} at {location.code} has {_fmt(free)} available{held}, need {_fmt(qty)}"
        )

    def _apply_cost_layers(self, lines: list[_Line]) -> None:
        """Receipts into stock open a layer; goods leaving stock consume layers (FIFO or LIFO)."""
        by_product: dict[int, list[_Line]] = defaultdict(list)
        for line in lines:
            if line.source.holds_stock != line.destination.holds_stock:
                by_product[line.product.id].append(line)
        if not by_product:
            return
        method = self.session.get(StoreMeta, "valuation_method")
        lifo = method is not None and method.value == "lifo"
        for product_id in sorted(by_product):
            # Locking the product row serialises cost changes per product; the layer query after
            # it sees every layer committed before the lock was granted.
            self.session.execute(
                select(Product).where(Product.id == product_id).with_for_update(),
                execution_options={"populate_existing": True},
            )
            layers_query = (
                select(CostLayer)
                .where(CostLayer.product_id == product_id, CostLayer.remaining_qty > 0)
                .order_by(CostLayer.id)
                .with_for_update()
            )
            layers = list(self.session.scalars(layers_query))
            for line in by_product[product_id]:
                if line.destination.holds_stock:
                    self._open_layer(line, layers)
                else:
                    line.unit_cost = self._consume_layers(line, layers, lifo)

    def _open_layer(self, line: _Line, layers: list[CostLayer]) -> None:
        product = line.product
        cost = line.unit_cost if line.unit_cost is not None else (product.average_cost or product.standard_cost)
        line.unit_cost = cost
        stocked = sum((layer.remaining_qty for layer in layers), Decimal(0))
        if stocked + line.qty > 0:
            average = (product.average_cost * stocked + cost * line.qty) / (stocked + line.qty)
            product.average_cost = average.quantize(MONEY_QUANTUM)
        layer = CostLayer(
            product_id=product.id, unit_cost=cost, original_qty=line.qty, remaining_qty=line.qty, created_at=self.at
        )
        layers.append(layer)
        line.new_layers.append(layer)

    def _consume_layers(self, line: _Line, layers: list[CostLayer], lifo: bool) -> Decimal:
        needed = line.qty
        value = Decimal(0)
        for layer in reversed(layers) if lifo else layers:
            if needed <= 0:
                break
            take = min(layer.remaining_qty, needed)
            if take <= 0:
                continue
            layer.remaining_qty -= take
            value += take * layer.unit_cost
            needed -= take
        if needed > 0:
            raise RuleViolation(
                f"cost layers of {line.product.sku} are short of its stock by {_fmt(needed)}; run 'ims check'"
            )
        return (value / line.qty).quantize(MONEY_QUANTUM)

    def _explain_misplaced_serials(self, lines: list[_Line]) -> None:
        """Name the serial that is not where it is taken from, before the balance check would
        refuse with a less helpful "not enough stock".  The locked check in ``_apply_serials``
        stays the authority."""
        for line in lines:
            if line.serial and line.source.holds_stock:
                location_id = self.session.scalar(
                    select(SerialNumber.location_id).where(
                        SerialNumber.product_id == line.product.id, SerialNumber.serial == line.serial
                    )
                )
                if location_id != line.source.id:
                    where = "not in stock" if location_id is None else "elsewhere"
                    raise RuleViolation(f"serial {line.serial} of {line.product.sku} is not at {line.source.code} ({where})")

    def _apply_serials(self, lines: list[_Line]) -> None:
        for line in sorted((ln for ln in lines if ln.serial), key=lambda ln: (ln.product.id, ln.serial)):
            row = self.session.scalars(
                select(SerialNumber)
                .where(SerialNumber.product_id == line.product.id, SerialNumber.serial == line.serial)
                .with_for_update()
            ).one_or_none()
            new_location = line.destination.id if line.destination.holds_stock else None
            if line.source.holds_stock:
                if row is None or row.location_id != line.source.id:
                    where = "not in stock" if row is None or row.location_id is None else "elsewhere"
                    raise RuleViolation(f"serial {line.serial} of {line.product.sku} is not at {line.source.code} ({where})")
            elif row is not None and row.location_id is not None:
                raise RuleViolation(f"serial {line.serial} of {line.product.sku} is already in stock")
            if row is None:
                row = SerialNumber(product_id=line.product.id, serial=line.serial, lot_id=line.lot.id if line.lot else None)
                self.session.add(row)
            row.location_id = new_location
            line.serial_row = row
        try:
            self.session.flush()
        except IntegrityError:
            raise RuleViolation("a serial in this posting was received at the same moment on another station") from None

    def _insert_movements(self, lines: list[_Line]) -> list[int]:
        movements = [
            Movement(
                posting_id=self.posting_id,
                product_id=line.product.id,
                qty=line.qty,
                from_location_id=line.source.id,
                to_location_id=line.destination.id,
                lot_id=line.lot.id if line.lot else None,
                serial_id=line.serial_row.id if line.serial_row else None,
                unit_cost=line.unit_cost or Decimal(0),
                reason=self.reason[:200],
                reference=(line.reference or self.reference)[:200],
                username=self.actor.username,
                station=self.actor.station,
                created_at=self.at,
            )
            for line in lines
        ]
        self.session.add_all(movements)
        self.session.flush()
        for line, movement in zip(lines, movements, strict=True):
            for layer in line.new_layers:
                layer.movement_id = movement.id
                self.session.add(layer)
        self.session.flush()
        return [movement.id for movement in movements]

    def _audit(self, kind: str, lines: list[_Line]) -> None:
        parts = []
        for line in lines[:5]:
            lot = f" lot {line.lot.code}" if line.lot else ""
            serial = f" serial {line.serial}" if line.serial else ""
            parts.append(f"{_fmt(line.qty)} {line.product.sku}{lot}{serial} {line.source.code}->{line.destination.code}")
        if len(lines) > 5:
            parts.append(f"... {len(lines) - 5} more")
        product_ids = {line.product.id for line in lines}
        audit.record(
            self.session,
            self.actor,
            f"stock.{kind}",
            target=self.reference or lines[0].product.sku,
            summary="; ".join(parts) + (f" ({self.reason})" if self.reason else ""),
            product_id=product_ids.pop() if len(product_ids) == 1 else None,
        )


def _fmt(value: Decimal) -> str:
    """A quantity without trailing zeros: ``12``, ``2.5``."""
    return format(value.normalize(), "f")
