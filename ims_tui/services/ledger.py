"""The stock ledger: the one way stock changes.

A *posting* is a set of movements applied atomically with their balance, serial and cost-layer
updates, in one short transaction, under an idempotency key (a retried or duplicated post is a
no-op).  Locks are taken in a fixed order - balances sorted by (product, location, lot), then
cost layers by product, then serials - so two stations never deadlock each other; decrements
are conditional (``on_hand >= n``) so they never oversell.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import Connection, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db import chain
from ims_tui.db.direct import Direct, connection_of
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
from ims_tui.db.types import MONEY_SCALE, QTY_SCALE, Money, ScaledDecimal
from ims_tui.services import alerts, audit, changes, reservations
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, find_product
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.text import check_text
from ims_tui.values import whole_unit_refusal

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
    cost_layers_of: tuple[int, ...] = ()
    """Movement ids of receipts whose cost layers this move consumes first (a return to the
    supplier takes back the cost it came in at, not the FIFO/LIFO layer)."""


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
    _check_text(key, reason, reference, moves)
    posting = _Posting(session, actor, reason, reference, at)
    digest = content_digest(kind, posting.normalised(moves), reason, reference)
    posting_id = _claim_key(session, actor, kind, key, reason, reference, at, digest)
    if posting_id is None:
        existing = session.execute(
            select(Posting.id, Posting.kind, Posting.username, Posting.content_digest).where(Posting.idempotency_key == key)
        ).one()
        if existing.content_digest not in (None, digest):
            raise RuleViolation(
                f"key {key} was already used for another posting ({existing.kind} by {existing.username}): "
                "nothing changed; give this posting its own key"
            )
        return PostingResult(existing.id, key, already_posted=True)
    posting.posting_id = posting_id
    return posting.apply(moves, kind, key)


def _check_text(key: str, reason: str, reference: str, moves: Sequence[StockMove]) -> None:
    """Plain text within each field's length, before anything is written (issue 16: a stored
    escape sequence drives the terminal of whoever reads it)."""
    check_text("key", key)
    check_text("reason", reason)
    check_text("reference", reference)
    for move in moves:
        check_text("reference", move.reference)
        if move.lot:
            check_text("lot", move.lot.strip())
        for serial in move.serials:
            check_text("serial", serial.strip())


def content_digest(kind: str, moves: Sequence[StockMove], reason: str = "", reference: str = "") -> str:
    """SHA-256 of what a posting asks for, stored with its key: a retry carries the same content,
    a different posting that reuses the key does not."""
    def text(value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        return str(value)

    content = [kind, reason, reference, [
        [m.sku, text(Decimal(m.qty)), m.from_location, m.to_location, m.lot or None, text(m.expiry), list(m.serials),
         text(m.unit_cost), m.reference, list(m.cost_layers_of)]
        for m in moves
    ]]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode("utf-8")).hexdigest()


def _claim_key(
    session: Session, actor: Actor, kind: str, key: str, reason: str, reference: str, at: dt.datetime, digest: str
) -> int | None:
    """Insert the posting row; None when the key was already posted (by anyone, ever)."""
    connection = connection_of(session)
    posting_id = _statements(connection).claim_key.scalar(
        connection,
        {"key": key, "kind": kind, "reason": reason, "reference": reference,
         "username": actor.username, "station": actor.station, "at": at, "digest": digest},
    )
    if posting_id is not None:
        chain.remember(session, "postings", posting_id, {
            "idempotency_key": key, "kind": kind, "reason": reason, "reference": reference,
            "username": actor.username, "station": actor.station, "created_at": at, "content_digest": digest})
    return posting_id


# --- pre-built statements ------------------------------------------------------------------
# Built once per dialect and run on the DB-API cursor (ims_tui.db.direct): SQLAlchemy's
# execution path cost more per statement than the database took to run it.


def _qty(name: str):  # type: ignore[no-untyped-def]
    return bindparam(name, type_=ScaledDecimal(QTY_SCALE))


def _claim_key_statement(dialect: str):  # type: ignore[no-untyped-def]
    """Insert the posting row unless its key exists; RETURNING its id, or no row."""
    values = {"idempotency_key": "key", "kind": "kind", "reason": "reason", "reference": "reference",
              "username": "username", "station": "station", "created_at": "at", "content_digest": "digest"}
    if dialect == "postgresql":
        return (
            postgresql.insert(Posting)
            .values({column: bindparam(name) for column, name in values.items()})
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Posting.id)
        )
    # SQLite's trigger refuses any insert over an existing key (REPLACE INTO would delete the row
    # it replaces), so an existing key must insert no row at all: INSERT ... SELECT ... WHERE NOT
    # EXISTS, one statement (writers are serialised by BEGIN IMMEDIATE).
    table = Posting.__table__
    chosen = select(*(bindparam(name, type_=table.c[column].type) for column, name in values.items())).where(
        ~exists().where(table.c.idempotency_key == bindparam("key"))
    )
    return sqlite.insert(Posting).from_select(list(values), chosen).returning(Posting.id)


def _values(model, columns: Sequence[str]) -> dict:  # type: ignore[no-untyped-def]
    """``INSERT`` values naming each column's own bind parameter (a direct statement lists them)."""
    return {column: bindparam(column, type_=model.__table__.c[column].type) for column in columns}


_MOVEMENT_COLUMNS = ("posting_id", "product_id", "qty", "from_location_id", "to_location_id", "lot_id", "serial_id",
                     "unit_cost", "reason", "reference", "username", "station", "created_at")
_LAYER_COLUMNS = ("product_id", "movement_id", "unit_cost", "original_qty", "remaining_qty", "created_at")


class _Statements:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.claim_key = Direct(_claim_key_statement(dialect))
        increment = insert(Balance).values(
            product_id=bindparam("product"), location_id=bindparam("location"), lot_key=bindparam("key"),
            lot_id=bindparam("lot"), on_hand=_qty("qty"), reserved=0,
        )
        self.increment = Direct(increment.on_conflict_do_update(
            index_elements=["product_id", "location_id", "lot_key"],
            set_={"on_hand": Balance.on_hand + increment.excluded.on_hand},
        ))
        self.balance_key = (
            Balance.product_id == bindparam("product"),
            Balance.location_id == bindparam("location"),
            Balance.lot_key == bindparam("key"),
        )
        self.decrement = Direct(
            update(Balance)
            .where(*self.balance_key, Balance.on_hand - Balance.reserved >= _qty("qty"))
            .values(on_hand=Balance.on_hand - _qty("qty"))
        )
        self.balance_row = Direct(select(Balance.on_hand, Balance.reserved).where(*self.balance_key))
        self.insert_movement = Direct(insert(Movement).values(_values(Movement, _MOVEMENT_COLUMNS)).returning(Movement.id))
        self.insert_movements = insert(Movement).returning(Movement.id, sort_by_parameter_order=True)
        self.lock_product = Direct(
            select(Product.average_cost).where(Product.id == bindparam("product")).with_for_update()
        )
        self.open_layers = Direct(
            select(CostLayer.id, CostLayer.unit_cost, CostLayer.remaining_qty, CostLayer.movement_id)
            .where(CostLayer.product_id == bindparam("product"), CostLayer.remaining_qty > 0)
            .order_by(CostLayer.id)
            .with_for_update()
        )
        self.consume_layer = Direct(
            update(CostLayer).where(CostLayer.id == bindparam("layer")).values(remaining_qty=_qty("remaining"))
        )
        self.insert_layer = Direct(insert(CostLayer).values(_values(CostLayer, _LAYER_COLUMNS)))
        self.set_average = Direct(
            update(Product).where(Product.id == bindparam("product")).values(average_cost=bindparam("average", type_=Money()))
        )
        self.serial_row = Direct(
            select(SerialNumber.id, SerialNumber.location_id)
            .where(SerialNumber.product_id == bindparam("product"), SerialNumber.serial == bindparam("serial"))
            .with_for_update()
        )
        self.serials_at = Direct(select(SerialNumber.serial, SerialNumber.location_id).where(
            SerialNumber.product_id == bindparam("product"), SerialNumber.serial.in_(bindparam("serials", expanding=True))
        ))
        self.insert_serial = Direct(
            insert(SerialNumber).values(_values(SerialNumber, ("product_id", "serial", "lot_id", "location_id")))
            .returning(SerialNumber.id)
        )
        self.place_serial = Direct(
            update(SerialNumber).where(SerialNumber.id == bindparam("serial_id")).values(location_id=bindparam("location"))
        )
        self.product_by_sku = Direct(select(*_PRODUCT_COLUMNS).where(Product.sku == bindparam("code")))
        self.product_by_id = Direct(select(*_PRODUCT_COLUMNS).where(Product.id == bindparam("id")))
        self.locations_by_code = Direct(
            select(*_LOCATION_COLUMNS).where(Location.code.in_(bindparam("codes", expanding=True)))
        )
        self.insert_lot = Direct(
            insert(Lot)
            .values(product_id=bindparam("product"), code=bindparam("code"), expiry=bindparam("expiry"),
                    created_at=bindparam("at"))
            .on_conflict_do_nothing(index_elements=["product_id", "code"])
        )
        self.lot_by_code = Direct(select(Lot.id, Lot.code, Lot.expiry).where(
            Lot.product_id == bindparam("product"), Lot.code == bindparam("code")
        ))
        self.valuation_method = Direct(select(StoreMeta.value).where(StoreMeta.key == "valuation_method"))


_PRODUCT_COLUMNS = (Product.id, Product.sku, Product.tracking, Product.uom, Product.active,
                    Product.average_cost, Product.standard_cost)
_LOCATION_COLUMNS = (Location.id, Location.code, Location.kind, Location.active)
_BY_DIALECT: dict[str, _Statements] = {}


def _statements(connection: Connection) -> _Statements:
    dialect = connection.dialect.name
    if dialect not in _BY_DIALECT:
        _BY_DIALECT[dialect] = _Statements(dialect)
    return _BY_DIALECT[dialect]


@dataclass(frozen=True)
class _Product:
    id: int
    sku: str
    tracking: str
    uom: str
    active: bool
    average_cost: Decimal
    standard_cost: Decimal


@dataclass(frozen=True)
class _Location:
    id: int
    code: str
    kind: str
    active: bool

    @property
    def holds_stock(self) -> bool:
        return self.kind == "internal"


@dataclass(frozen=True)
class _Lot:
    id: int
    code: str
    expiry: dt.date | None


@dataclass
class _Line:
    """A move resolved to rows: one per serial for serial-tracked products."""

    product: _Product
    qty: Decimal
    source: _Location
    destination: _Location
    lot: _Lot | None
    serial: str | None
    unit_cost: Decimal | None
    reference: str
    serial_id: int | None = None
    new_layer_cost: Decimal | None = None
    cost_layers_of: tuple[int, ...] = ()


class _Posting:
    def __init__(self, session: Session, actor: Actor, reason: str, reference: str, at: dt.datetime) -> None:
        self.session = session
        self.connection = connection_of(session)
        self.sql = _statements(self.connection)
        self.actor = actor
        self.posting_id = 0  # set once the key is claimed
        self.reason = reason
        self.reference = reference
        self.at = at
        self._products: dict[str, _Product] = {}
        self._locations: dict[str, _Location] = {}
        self.added: list[tuple[int, int, int, Decimal]] = []
        """Balances this posting added stock to: (product, location, lot_key, qty)."""

    def _one(self, statement: Direct, **params):  # type: ignore[no-untyped-def]
        return statement.one(self.connection, params)

    # -- resolving codes ------------------------------------------------------------------

    def product(self, code: str) -> _Product:
        """By SKU, else anything :func:`find_product` knows (barcode, supplier SKU, GS1 scan)."""
        if code not in self._products:
            row = self._one(self.sql.product_by_sku, code=code)
            if row is None:
                match = find_product(self.session, code)
                if match is None:
                    raise NotFound(f"unknown product {code!r}")
                row = self._one(self.sql.product_by_id, id=match.product.id)
            product = _Product(*row)
            if not product.active:
                raise RuleViolation(f"product {product.sku} is inactive")
            self._products[code] = product
        return self._products[code]

    def normalised(self, moves: Sequence[StockMove]) -> list[StockMove]:
        """``moves`` naming products by SKU and locations by code however they were typed or
        scanned (a case barcode, a location barcode), for the content digest."""
        self.prefetch_locations(moves)
        return [
            replace(move, sku=self.product(move.sku).sku, from_location=self.location(move.from_location).code,
                    to_location=self.location(move.to_location).code, lot=(move.lot or "").strip() or None)
            for move in moves
        ]

    def prefetch_locations(self, moves: Sequence[StockMove]) -> None:
        """One round trip for every location code the posting names (most postings name two)."""
        codes = {code for move in moves for code in (move.from_location, move.to_location)} - set(self._locations)
        if not codes:
            return
        for row in self.sql.locations_by_code.all(self.connection, {"codes": sorted(codes)}):
            location = _Location(*row)
            self._locations.setdefault(location.code, location)

    def location(self, code: str) -> _Location:
        if code not in self._locations:
            found = find_location(self.session, code)
            if found is None:
                raise NotFound(f"unknown location {code!r}")
            self._locations[code] = _Location(found.id, found.code, found.kind, found.active)
        location = self._locations[code]
        if location.kind == "view":
            raise RuleViolation(f"location {location.code} is an area, not a bin: choose one of its bins")
        if not location.active:
            raise RuleViolation(f"location {location.code} is inactive")
        return location

    def lot(self, product: _Product, code: str, expiry: dt.date | None, *, create: bool) -> _Lot:
        row = self._one(self.sql.lot_by_code, product=product.id, code=code)
        if row is None:
            if not create:
                raise RuleViolation(f"no lot {code} of {product.sku}")
            # Another station may create the same lot at the same moment: its insert then does
            # nothing and the read-back finds the other's row (no savepoint, no aborted transaction).
            self.sql.insert_lot.execute(self.connection, {"product": product.id, "code": code, "expiry": expiry, "at": self.at})
            return self.lot(product, code, expiry, create=False)
        lot = _Lot(*row)
        if expiry is not None and lot.expiry is None:
            self.connection.execute(update(Lot).where(Lot.id == lot.id).values(expiry=expiry))
            return _Lot(lot.id, lot.code, expiry)
        if expiry is not None and lot.expiry != expiry:
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
        lot = None
        if move.lot:
            lot = self.lot(product, move.lot.strip(), move.expiry, create=not source.holds_stock)
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
            return [_Line(product, Decimal(1), source, destination, lot, s, unit_cost, move.reference,
                          cost_layers_of=move.cost_layers_of) for s in serials]
        if move.serials:
            raise RuleViolation(f"{product.sku} is not serial-tracked: serials are not recorded for it")
        whole = whole_unit_refusal(product.sku, product.uom, qty)
        if whole:
            raise BadInput(whole)
        return [_Line(product, qty, source, destination, lot, None, unit_cost, move.reference,
                      cost_layers_of=move.cost_layers_of)]

    # -- applying ---------------------------------------------------------------------------

    def apply(self, moves: Sequence[StockMove], kind: str, key: str) -> PostingResult:
        self.prefetch_locations(moves)
        lines = [line for move in moves for line in self.resolve(move)]
        self._explain_misplaced_serials(lines)
        self._apply_balances(lines)
        self._apply_cost_layers(lines)
        self._apply_serials(lines)
        movement_ids = self._insert_movements(lines)
        reservations.stock_added(self.session, self.added, self.at)  # FIFO times; waiting orders
        alerts.refresh(self.session, {line.product.id for line in lines})  # reorder alerts of these products
        self._audit(kind, lines)
        changes.emit(self.session, "stock", self.posting_id)
        return PostingResult(self.posting_id, key, already_posted=False, movement_ids=tuple(movement_ids))

    def _apply_balances(self, lines: list[_Line]) -> None:
        deltas: dict[tuple[int, int, int], Decimal] = defaultdict(Decimal)
        for line in lines:
            lot_key = line.lot.id if line.lot else 0
            for location, sign in ((line.source, -1), (line.destination, 1)):
                if location.holds_stock:
                    deltas[(line.product.id, location.id, lot_key)] += sign * line.qty
        for product_id, location_id, lot_key in sorted(deltas):
            delta = deltas[(product_id, location_id, lot_key)]
            params = {"product": product_id, "location": location_id, "key": lot_key}
            if delta > 0:
                self.sql.increment.execute(self.connection, {**params, "lot": lot_key or None, "qty": delta})
                self.added.append((product_id, location_id, lot_key, delta))
            elif delta < 0 and self.sql.decrement.execute(self.connection, {**params, "qty": -delta}) != 1:
                self._refuse_shortage(product_id, location_id, lot_key, -delta)

    def _refuse_shortage(self, product_id: int, location_id: int, lot_key: int, qty: Decimal) -> None:
        row = self._one(self.sql.balance_row, product=product_id, location=location_id, key=lot_key)
        on_hand, reserved = row if row else (Decimal(0), Decimal(0))
        sku = next(p.sku for p in self._products.values() if p.id == product_id)
        location = next(loc.code for loc in self._locations.values() if loc.id == location_id)
        lot = f" lot {self.session.get(Lot, lot_key).code}" if lot_key else ""
        held = f" ({_fmt(reserved)} reserved)" if reserved else ""
        raise RuleViolation(
            f"not enough stock: {sku}{lot} at {location} has {_fmt(on_hand - reserved)} available{held}, need {_fmt(qty)}"
        )

    def _apply_cost_layers(self, lines: list[_Line]) -> None:
        """Receipts into stock open a layer; goods leaving stock consume layers (FIFO or LIFO)
        and are costed by the store's valuation method as it is at this posting."""
        by_product: dict[int, list[_Line]] = defaultdict(list)
        for line in lines:
            if line.source.holds_stock != line.destination.holds_stock:
                by_product[line.product.id].append(line)
        if not by_product:
            return
        method = self.sql.valuation_method.scalar(self.connection) or "fifo"
        lifo = method == "lifo"
        for product_id in sorted(by_product):
            # Locking the product row serialises cost changes per product; the layer query after
            # it sees every layer committed before the lock was granted.
            average = self.sql.lock_product.scalar(self.connection, {"product": product_id})
            layers = [list(row) for row in self.sql.open_layers.all(self.connection, {"product": product_id})]
            stocked = sum((layer[2] for layer in layers), Decimal(0))
            touched: set[int] = set()
            for line in by_product[product_id]:
                if line.destination.holds_stock:
                    cost = line.unit_cost if line.unit_cost is not None else (average or line.product.standard_cost)
                    line.unit_cost = line.new_layer_cost = cost
                    average = (average * stocked + cost * line.qty) / (stocked + line.qty)
                    stocked += line.qty
                elif method == "average":
                    # Layers still say which receipts the stock came from (aging, quantities);
                    # the cost is the moving average, except a return to the supplier, which
                    # leaves at its receipt's cost and moves the average of what stays.
                    layer_cost = _consume(line, layers, False, touched)
                    if line.cost_layers_of and stocked > line.qty:
                        average = (average * stocked - layer_cost * line.qty) / (stocked - line.qty)
                        line.unit_cost = layer_cost
                    else:
                        line.unit_cost = average.quantize(MONEY_QUANTUM)
                    stocked -= line.qty
                else:
                    line.unit_cost = _consume(line, layers, lifo, touched)
                    stocked -= line.qty
            consumed = [{"layer": layer_id, "remaining": remaining}
                        for layer_id, _cost, remaining, _movement in layers if layer_id in touched]
            if consumed:  # one executemany: the product's row lock already serialises its layers
                self.sql.consume_layer.execute_many(self.connection, consumed)
            self.sql.set_average.execute(self.connection, {"product": product_id, "average": average.quantize(MONEY_QUANTUM)})

    def _explain_misplaced_serials(self, lines: list[_Line]) -> None:
        """Name the serial that is not where it is taken from, before the balance check would
        refuse with a less helpful "not enough stock".  The locked check in ``_apply_serials``
        stays the authority."""
        taken = [line for line in lines if line.serial and line.source.holds_stock]
        by_product: dict[int, list[_Line]] = defaultdict(list)
        for line in taken:
            by_product[line.product.id].append(line)
        for product_id, product_lines in by_product.items():
            where_now = dict(self.sql.serials_at.all(
                self.connection, {"product": product_id, "serials": [line.serial for line in product_lines]}
            ))
            for line in product_lines:
                location_id = where_now.get(line.serial)
                if location_id != line.source.id:
                    where = "not in stock" if location_id is None else "elsewhere"
                    raise RuleViolation(f"serial {line.serial} of {line.product.sku} is not at {line.source.code} ({where})")

    def _apply_serials(self, lines: list[_Line]) -> None:
        for line in sorted((ln for ln in lines if ln.serial), key=lambda ln: (ln.product.id, ln.serial)):
            row = self._one(self.sql.serial_row, product=line.product.id, serial=line.serial)
            new_location = line.destination.id if line.destination.holds_stock else None
            serial_id, location_id = row if row is not None else (None, None)
            if line.source.holds_stock:
                if row is None or location_id != line.source.id:
                    where = "not in stock" if location_id is None else "elsewhere"
                    raise RuleViolation(f"serial {line.serial} of {line.product.sku} is not at {line.source.code} ({where})")
            elif location_id is not None:
                raise RuleViolation(f"serial {line.serial} of {line.product.sku} is already in stock")
            if row is None:
                try:
                    line.serial_id = self.sql.insert_serial.scalar(
                        self.connection,
                        {"product_id": line.product.id, "serial": line.serial,
                         "lot_id": line.lot.id if line.lot else None, "location_id": new_location},
                    )
                except IntegrityError:
                    raise RuleViolation(
                        f"serial {line.serial} of {line.product.sku} was received at the same moment on another station"
                    ) from None
            else:
                line.serial_id = serial_id
                self.sql.place_serial.execute(self.connection, {"serial_id": serial_id, "location": new_location})

    def _insert_movements(self, lines: list[_Line]) -> list[int]:
        """All movement rows in one executemany (RETURNING ids in order), then the new layers."""
        rows = [
            {
                "posting_id": self.posting_id, "product_id": line.product.id, "qty": line.qty,
                "from_location_id": line.source.id, "to_location_id": line.destination.id,
                "lot_id": line.lot.id if line.lot else None, "serial_id": line.serial_id,
                "unit_cost": line.unit_cost or Decimal(0), "reason": self.reason[:200],
                "reference": (line.reference or self.reference)[:200], "username": self.actor.username,
                "station": self.actor.station, "created_at": self.at,
            }
            for line in lines
        ]
        if len(rows) == 1:
            ids = [self.sql.insert_movement.scalar(self.connection, rows[0])]
        else:
            ids = list(self.connection.execute(self.sql.insert_movements, rows).scalars())
        for movement_id, values in zip(ids, rows, strict=True):
            chain.remember(self.session, "movements", movement_id, values)
        layers = [
            {"product_id": line.product.id, "movement_id": movement_id, "unit_cost": line.new_layer_cost,
             "original_qty": line.qty, "remaining_qty": line.qty, "created_at": self.at}
            for line, movement_id in zip(lines, ids, strict=True)
            if line.new_layer_cost is not None
        ]
        if layers:
            self.sql.insert_layer.execute_many(self.connection, layers)
        return ids

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


def _consume(line: _Line, layers: list[list], lifo: bool, touched: set[int]) -> Decimal:
    """Take ``line.qty`` from the open layers - those of ``line.cost_layers_of`` first, then
    oldest first (newest for LIFO) - and return the unit cost taken."""
    needed = line.qty
    value = Decimal(0)
    ordered = list(reversed(layers)) if lifo else layers
    preferred = [layer for layer in ordered if layer[3] in line.cost_layers_of]
    for layer in preferred + [layer for layer in ordered if layer[3] not in line.cost_layers_of]:
        if needed <= 0:
            break
        take = min(layer[2], needed)
        if take <= 0:
            continue
        layer[2] -= take
        touched.add(layer[0])
        value += take * layer[1]
        needed -= take
    if needed > 0:
        raise RuleViolation(f"cost layers of {line.product.sku} are short of its stock by {_fmt(needed)}; run 'ims check'")
    return (value / line.qty).quantize(MONEY_QUANTUM)


def _fmt(value: Decimal) -> str:
    """A quantity without trailing zeros: ``12``, ``2.5``."""
    return format(value.normalize(), "f")
