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

from sqlalchemy import Connection, bindparam, exists, func, select, text, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db import chain
from ims_tui.db.direct import Direct, allocate_ids, connection_of, copy_rows, list_parameter, one_of
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
from ims_tui.db.types import MONEY_SCALE, QTY_SCALE, Money, ScaledDecimal, to_scaled
from ims_tui.services import alerts, audit, changes, reservations
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, find_product
from ims_tui.services.errors import BadInput, ImsError, NotFound, RuleViolation
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
            raise _key_reused(key, existing.kind, existing.username)
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
        found = []
        for move in moves:
            sku, source = self.product(move.sku).sku, self.location(move.from_location).code
            destination, lot = self.location(move.to_location).code, (move.lot or "").strip() or None
            if (sku, source, destination, lot) == (move.sku, move.from_location, move.to_location, move.lot):
                found.append(move)  # as stored already (an import's rows): the very move
            else:
                found.append(replace(move, sku=sku, from_location=source, to_location=destination, lot=lot))
        return found

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
        target, summary, product_id = _audit_entry(lines, self.reason, self.reference)
        audit.record(self.session, self.actor, f"stock.{kind}", target=target, summary=summary, product_id=product_id)


def _audit_entry(lines: list[_Line], reason: str, reference: str) -> tuple[str, str, int | None]:
    """A posting's audit row: (target, summary, product id when it moved one product)."""
    parts = []
    for line in lines[:5]:
        lot = f" lot {line.lot.code}" if line.lot else ""
        serial = f" serial {line.serial}" if line.serial else ""
        parts.append(f"{_fmt(line.qty)} {line.product.sku}{lot}{serial} {line.source.code}->{line.destination.code}")
    if len(lines) > 5:
        parts.append(f"... {len(lines) - 5} more")
    product_ids = {line.product.id for line in lines}
    return (reference or lines[0].product.sku, "; ".join(parts) + (f" ({reason})" if reason else ""),
            product_ids.pop() if len(product_ids) == 1 else None)


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


# --- batches of receipts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """One posting of a :func:`post_receipts` batch: its own idempotency key, moves and reference."""

    key: str
    moves: tuple[StockMove, ...]
    reference: str = ""
    digest: str | None = None
    """``content_digest(kind, moves, reason, reference)`` of the batch's kind and reason, worked out
    ahead by the caller (an import works it out before it takes the write lock); used only when
    the moves need no normalising (SKUs, location codes and lots as stored), else worked out here."""


class ReceiptRefused(ImsError):
    """A posting of a :func:`post_receipts` batch was refused, so nothing of the batch was written:
    ``index`` is its place in the batch, ``error`` the refusal :func:`post` would have raised for it."""

    def __init__(self, index: int, error: ImsError) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error
        self.exit_code = error.exit_code


def post_receipts(
    session: Session,
    actor: Actor,
    kind: str,
    receipts: Sequence[Receipt],
    *,
    reason: str = "",
    at: dt.datetime | None = None,
) -> list[PostingResult]:
    """Post many postings that only *add* stock, inside the caller's transaction, set-based.

    Each receipt is a posting as :func:`post` would make it, one after another in the batch's
    order: its own idempotency key and content digest (a key posted before with the same content
    is ``already_posted`` and posts nothing; with other content, or reused within the batch for
    other content, it is refused), its movements, lots, serials, cost layers (and the product's
    moving average) and audit row; the balances, FIFO stamps, waiting orders and reorder alerts
    follow once per balance and product touched, not once per posting.  The rows go in with a few
    statements per table (``executemany``; ``unnest`` arrays on PostgreSQL), not a dozen round
    trips per posting, so a long batch (an opening-stock import) holds the write lock briefly.

    Only receipts: every move must come from a location that holds no stock (the *Inventory
    adjustment* or *Supplier* location) into an internal one, and consume no cost layers
    (``cost_layers_of``).  Nothing is taken out of stock, so there is no shortage to check and
    no layer to consume; any other move is refused (``BadInput``) - post it with :func:`post`.

    Everything is checked before anything is written; the first receipt (in batch order) that
    :func:`post` would refuse raises :class:`ReceiptRefused` naming it.  ``at`` backdates the
    batch (every posting gets the same time).
    """
    if not receipts:
        return []
    return _Batch(session, actor, reason, at or dt.datetime.now(dt.timezone.utc)).post(kind, receipts)


def _key_reused(key: str, kind: str, username: str) -> RuleViolation:
    return RuleViolation(f"key {key} was already used for another posting ({kind} by {username}): "
                         "nothing changed; give this posting its own key")


class _BatchStatements:
    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.products_by_sku = Direct(select(*_PRODUCT_COLUMNS).where(one_of(dialect, Product.sku, name="codes")))
        # both lists: the (product, code) index finds them (by code alone PostgreSQL scanned every lot)
        self.lots_by_code = Direct(
            select(Lot.product_id, Lot.code, Lot.id, Lot.expiry)
            .where(one_of(dialect, Lot.product_id, name="products"), one_of(dialect, Lot.code, name="codes"))
        )
        self.set_lot_expiry = Direct(update(Lot).where(Lot.id == bindparam("lot")).values(expiry=bindparam("lot_expiry")))
        self.postings_by_key = Direct(
            select(Posting.idempotency_key, Posting.id, Posting.kind, Posting.username, Posting.content_digest)
            .where(one_of(dialect, Posting.idempotency_key, name="keys"))
        )
        posting_columns = ("idempotency_key", "kind", "reason", "reference", "username", "station", "created_at",
                           "content_digest")
        self.insert_posting = Direct(insert(Posting).values(_values(Posting, ("id", *posting_columns))))
        # PostgreSQL: every posting row in one statement; a key another station claimed meanwhile
        # inserts nothing and is missing from what it returns.
        self.claim_keys = Direct(text(
            f"INSERT INTO postings ({', '.join(posting_columns)}) "
            "SELECT p.k, :kind, :reason, p.r, :username, :station, :at, p.d FROM unnest("
            "CAST(:keys AS VARCHAR[]), CAST(:references AS VARCHAR[]), CAST(:digests AS VARCHAR[])) "
            "WITH ORDINALITY AS p(k, r, d, n) ORDER BY p.n "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
        ))
        serials = (select(SerialNumber.product_id, SerialNumber.serial, SerialNumber.id, SerialNumber.location_id)
                   .where(one_of(dialect, SerialNumber.serial, name="serials")))
        # locked after the balances and the products' rows, in (product, serial) order, as post() locks them
        self.lock_serials = Direct(serials.order_by(SerialNumber.product_id, SerialNumber.serial).with_for_update())
        serial_insert = insert(SerialNumber).values(
            _values(SerialNumber, ("id", "product_id", "serial", "lot_id", "location_id")))
        if dialect == "postgresql":  # one received meanwhile elsewhere keeps its id: found on reading back
            serial_insert = serial_insert.on_conflict_do_nothing(index_elements=["product_id", "serial"])
        self.insert_serial = Direct(serial_insert)
        self.serial_ids = Direct(serials)
        self.lock_products = Direct(
            select(Product.id, Product.average_cost).where(one_of(dialect, Product.id, name="products"))
            .order_by(Product.id).with_for_update()
        )
        self.stocked = Direct(
            select(CostLayer.product_id, type_coerce(func.sum(CostLayer.remaining_qty), ScaledDecimal(QTY_SCALE)))
            .where(one_of(dialect, CostLayer.product_id, name="products"), CostLayer.remaining_qty > 0)
            .group_by(CostLayer.product_id)
        )
        self.insert_movement = Direct(insert(Movement).values(_values(Movement, ("id", *_MOVEMENT_COLUMNS))))
        # PostgreSQL: set_average for every product of the batch (updated_at as its onupdate sets it)
        self.set_averages = Direct(text(
            "UPDATE products SET average_cost = s.a, updated_at = :now FROM unnest(CAST(:products AS INTEGER[]), "
            "CAST(:averages AS BIGINT[])) AS s(p, a) WHERE products.id = s.p"
        ))
        # PostgreSQL: every balance of the batch in one upsert (SQLite: one executemany)
        self.add_stock = Direct(text(
            "INSERT INTO balances (product_id, location_id, lot_key, lot_id, on_hand, reserved) "
            "SELECT b.p, b.l, b.k, b.lot, b.q, 0 FROM unnest(CAST(:products AS INTEGER[]), CAST(:locations AS INTEGER[]), "
            "CAST(:keys AS INTEGER[]), CAST(:lots AS INTEGER[]), CAST(:qtys AS BIGINT[])) "
            "WITH ORDINALITY AS b(p, l, k, lot, q, n) ORDER BY b.n "
            "ON CONFLICT (product_id, location_id, lot_key) DO UPDATE SET on_hand = balances.on_hand + excluded.on_hand"
        ))


_BATCH_BY_DIALECT: dict[str, _BatchStatements] = {}


def _batch_statements(connection: Connection) -> _BatchStatements:
    dialect = connection.dialect.name
    if dialect not in _BATCH_BY_DIALECT:
        _BATCH_BY_DIALECT[dialect] = _BatchStatements(dialect)
    return _BATCH_BY_DIALECT[dialect]


class _Batch(_Posting):
    """:func:`post_receipts`: the single posting's resolution and rules, applied to many postings,
    written table by table."""

    def __init__(self, session: Session, actor: Actor, reason: str, at: dt.datetime) -> None:
        super().__init__(session, actor, reason, "", at)
        self.dialect = self.connection.dialect.name
        self.batch = _batch_statements(self.connection)
        # (product id, lot code) -> [lot id (None: to create), expiry, "stored" | "new" | "changed"]
        self.lots: dict[tuple[int, str], list] = {}  # type: ignore[type-arg]
        self.lots_read: set[tuple[int, str]] = set()

    def listed(self, values: Sequence) -> object:  # type: ignore[type-arg]
        return list_parameter(self.dialect, values)

    # -- checking (nothing written) -------------------------------------------------------

    def post(self, kind: str, receipts: Sequence[Receipt]) -> list[PostingResult]:
        self.receipts = receipts
        failures: dict[int, ImsError] = {}
        every_move = [move for receipt in receipts for move in receipt.moves]
        self.prefetch_locations(every_move)
        self.prefetch_products(every_move)
        digests: dict[int, str] = {}
        for index, receipt in enumerate(receipts):
            try:
                if not receipt.moves:
                    raise BadInput("nothing to post")
                _check_text(receipt.key, self.reason, receipt.reference, receipt.moves)
                moves = self.normalised(receipt.moves)
                if receipt.digest is not None and all(a is b for a, b in zip(moves, receipt.moves, strict=True)):
                    digests[index] = receipt.digest
                else:
                    digests[index] = content_digest(kind, moves, self.reason, receipt.reference)
            except ImsError as exc:
                failures[index] = exc
        results: dict[int, PostingResult] = {}
        duplicates: dict[int, int] = {}  # a later receipt with an earlier one's key and content -> that one
        first_with_key: dict[str, int] = {}
        fresh: list[int] = []
        stored = {row[0]: row[1:] for row in self.batch.postings_by_key.all(
            self.connection, {"keys": self.listed(sorted({receipts[i].key for i in digests}))})}
        for index, digest in digests.items():
            key = receipts[index].key
            if key in stored:
                posting_id, other_kind, username, other_digest = stored[key]
                if other_digest not in (None, digest):
                    failures[index] = _key_reused(key, other_kind, username)
                else:
                    results[index] = PostingResult(posting_id, key, already_posted=True)
            elif key in first_with_key:
                if digests[first_with_key[key]] != digest:
                    failures[index] = _key_reused(key, kind, self.actor.username)
                else:
                    duplicates[index] = first_with_key[key]
            else:
                first_with_key[key] = index
                fresh.append(index)
        self.prefetch_lots([move for index in fresh for move in receipts[index].moves])
        lines_of: dict[int, list[_Line]] = {}
        for index in fresh:
            try:
                lines_of[index] = [line for move in receipts[index].moves for line in self.receipt_lines(move)]
            except ImsError as exc:
                failures[index] = exc
        self.check_serials(lines_of, failures)
        self.refuse_first(failures)
        self.lines_of = lines_of

        # -- writing: postings, lots, balances, cost layers, serials, movements -------------
        posting_ids = self.claim(kind, receipts, digests, lines_of, results, failures)
        self.refuse_first(failures)
        if lines_of:
            lines = [line for index in sorted(lines_of) for line in lines_of[index]]
            self.write_lots(lines)
            self.add_to_balances(lines)
            self.apply_cost_layers(lines_of)
            self.write_serials(lines, lines_of, failures)
            self.refuse_first(failures)
            movement_ids = self.write_movements(lines_of, posting_ids)
            reservations.stock_added(self.session, self.added, self.at)
            alerts.refresh(self.session, {line.product.id for line in lines})  # once per product, not per posting
            audit.record_many(self.session, self.actor, f"stock.{kind}", [
                _audit_entry(lines_of[index], self.reason, receipts[index].reference) for index in sorted(lines_of)])
            changes.emit_many(self.session, "stock", [posting_ids[index] for index in sorted(lines_of)])
            for index in lines_of:
                results[index] = PostingResult(posting_ids[index], receipts[index].key, already_posted=False,
                                               movement_ids=tuple(movement_ids[index]))
        for index, first in duplicates.items():
            results[index] = PostingResult(results[first].posting_id, receipts[index].key, already_posted=True)
        return [results[index] for index in range(len(receipts))]

    @staticmethod
    def refuse_first(failures: dict[int, ImsError]) -> None:
        if failures:
            index = min(failures)
            raise ReceiptRefused(index, failures[index])

    def prefetch_products(self, moves: Sequence[StockMove]) -> None:
        """Active products by SKU in one round trip (anything else goes through :meth:`product`)."""
        codes = sorted({move.sku for move in moves} - set(self._products))
        if not codes:
            return
        for row in self.batch.products_by_sku.all(self.connection, {"codes": self.listed(codes)}):
            product = _Product(*row)
            if product.active:
                self._products.setdefault(product.sku, product)

    def prefetch_lots(self, moves: Sequence[StockMove]) -> None:
        wanted = {(self._products[move.sku].id, move.lot.strip()) for move in moves
                  if move.lot and move.lot.strip() and move.sku in self._products}
        if not wanted:
            return
        for product_id, code, lot_id, expiry in self.batch.lots_by_code.all(self.connection, {
                "products": self.listed(sorted({product_id for product_id, _ in wanted})),
                "codes": self.listed(sorted({code for _, code in wanted}))}):
            if (product_id, code) in wanted:
                self.lots[(product_id, code)] = [lot_id, expiry, "stored"]
        self.lots_read |= wanted

    def lot(self, product: _Product, code: str, expiry: dt.date | None, *, create: bool) -> _Lot:
        """:meth:`_Posting.lot`'s rules, postings taken in order, with nothing written yet: a lot
        to create or an expiry to fill in is noted (written by :meth:`write_lots`)."""
        key = (product.id, code)
        entry = self.lots.get(key)
        if entry is None and key not in self.lots_read:
            self.lots_read.add(key)
            row = self._one(self.sql.lot_by_code, product=product.id, code=code)
            if row is not None:
                entry = self.lots[key] = [row[0], row[2], "stored"]
        if entry is None:
            if not create:
                raise RuleViolation(f"no lot {code} of {product.sku}")
            entry = self.lots[key] = [None, expiry, "new"]
        elif expiry is not None and entry[1] is None:
            entry[1] = expiry
            if entry[2] == "stored":
                entry[2] = "changed"
        elif expiry is not None and entry[1] != expiry:
            raise RuleViolation(f"lot {code} of {product.sku} already has expiry {entry[1].isoformat()}, not {expiry}")
        return _Lot(0, code, entry[1])  # its id is filled in by write_lots

    def receipt_lines(self, move: StockMove) -> list[_Line]:
        if move.cost_layers_of:
            raise BadInput("a batch of receipts consumes no cost layers: post this move on its own")
        lines = self.resolve(move)
        for line in lines:
            if line.source.holds_stock or not line.destination.holds_stock:
                raise BadInput(f"a batch of receipts only adds stock: {line.source.code}->{line.destination.code} "
                               "does not; post it on its own")
        return lines

    def check_serials(self, lines_of: dict[int, list[_Line]], failures: dict[int, ImsError]) -> None:
        """A receipt's serial must not be in stock - nor received by an earlier receipt of the batch."""
        wanted = {(line.product.id, line.serial) for lines in lines_of.values() for line in lines if line.serial}
        if not wanted:
            return
        self.known_serials = {
            (product_id, serial): (serial_id, location_id)
            for product_id, serial, serial_id, location_id in self.batch.serial_ids.all(
                self.connection, {"serials": self.listed(sorted({serial for _, serial in wanted}))})
            if (product_id, serial) in wanted
        }
        received: set[tuple[int, str]] = set()
        for index in sorted(lines_of):
            for line in lines_of[index]:
                if not line.serial:
                    continue
                pair = (line.product.id, line.serial)
                if pair in received or self.known_serials.get(pair, (None, None))[1] is not None:
                    failures.setdefault(index, RuleViolation(f"serial {line.serial} of {line.product.sku} is already in stock"))
                received.add(pair)

    # -- writing ----------------------------------------------------------------------------

    def claim(self, kind: str, receipts: Sequence[Receipt], digests: dict[int, str], lines_of: dict[int, list[_Line]],
              results: dict[int, PostingResult], failures: dict[int, ImsError]) -> dict[int, int]:
        """The posting rows of the receipts to post; returns their ids.  On PostgreSQL a key another
        station posted since it was looked up is handled as :func:`post` would (already posted, or
        refused), the receipt dropped from the batch."""
        order = sorted(lines_of)
        if not order:
            return {}
        common = {"kind": kind, "reason": self.reason, "username": self.actor.username, "station": self.actor.station,
                  "at": self.at}
        if self.dialect != "postgresql":  # the write lock is ours: no other station claims a key meanwhile
            ids = dict(zip(order, allocate_ids(self.connection, "postings", len(order)), strict=True))
            self.batch.insert_posting.execute_many(self.connection, [
                {"id": ids[index], "idempotency_key": receipts[index].key, "kind": kind, "reason": self.reason,
                 "reference": receipts[index].reference, "username": self.actor.username, "station": self.actor.station,
                 "created_at": self.at, "content_digest": digests[index]} for index in order])
        else:
            returned = dict((key, posting_id) for posting_id, key in self.batch.claim_keys.all(self.connection, {
                **common, "keys": [receipts[index].key for index in order],
                "references": [receipts[index].reference for index in order],
                "digests": [digests[index] for index in order]}))
            ids = {index: returned[receipts[index].key] for index in order if receipts[index].key in returned}
            missed = [index for index in order if index not in ids]
            if missed:
                stored = {row[0]: row[1:] for row in self.batch.postings_by_key.all(
                    self.connection, {"keys": [receipts[index].key for index in missed]})}
                for index in missed:
                    posting_id, other_kind, username, other_digest = stored[receipts[index].key]
                    if other_digest not in (None, digests[index]):
                        failures[index] = _key_reused(receipts[index].key, other_kind, username)
                    else:
                        results[index] = PostingResult(posting_id, receipts[index].key, already_posted=True)
                    del lines_of[index]
        chain.remember_many(self.session, "postings", (
            {"id": ids[index], "idempotency_key": receipts[index].key, "kind": kind, "reason": self.reason,
             "reference": receipts[index].reference, "username": self.actor.username, "station": self.actor.station,
             "created_at": self.at, "content_digest": digests[index]} for index in sorted(ids)))
        return ids

    def write_lots(self, lines: list[_Line]) -> None:
        """Create the lots the receipts name (``ON CONFLICT DO NOTHING``, then read back: a station
        creating the same lot meanwhile is no error), fill in expiries, and give lines the ids."""
        used = {(line.product.id, line.lot.code) for line in lines if line.lot}
        if not used:
            return
        new = [(key, entry) for key, entry in self.lots.items() if key in used and entry[2] == "new"]
        changed = [{"lot": entry[0], "lot_expiry": entry[1]} for key, entry in self.lots.items()
                   if key in used and entry[2] == "changed"]
        if new:
            self.sql.insert_lot.execute_many(self.connection, [
                {"product": product_id, "code": code, "expiry": entry[1], "at": self.at}
                for (product_id, code), entry in sorted(new, key=lambda item: item[0])])
            created = {(product_id, code): (lot_id, expiry) for product_id, code, lot_id, expiry in self.batch.lots_by_code.all(
                self.connection, {"products": self.listed(sorted({product_id for (product_id, _), _entry in new})),
                                  "codes": self.listed(sorted({code for (_, code), _entry in new}))})}
            for key, entry in new:
                lot_id, expiry = created[key]
                if entry[1] is not None and expiry is None:  # made meanwhile without one
                    changed.append({"lot": lot_id, "lot_expiry": entry[1]})
                elif entry[1] is not None and expiry != entry[1]:  # made meanwhile with another
                    index = min(index for index, lines_ in self.lines_of.items() for line in lines_
                                if line.lot and (line.product.id, line.lot.code) == key)
                    sku = next(line.product.sku for line in self.lines_of[index] if line.product.id == key[0])
                    raise ReceiptRefused(index, RuleViolation(
                        f"lot {key[1]} of {sku} already has expiry {expiry.isoformat()}, not {entry[1]}"))
                entry[0] = lot_id
        if changed:
            self.batch.set_lot_expiry.execute_many(self.connection, changed)
        for line in lines:
            if line.lot:
                entry = self.lots[(line.product.id, line.lot.code)]
                line.lot = _Lot(entry[0], line.lot.code, entry[1])

    def add_to_balances(self, lines: list[_Line]) -> None:
        """Every balance the batch adds to, once, in key order (the order :func:`post` locks them in)."""
        deltas: dict[tuple[int, int, int], Decimal] = defaultdict(Decimal)
        for line in lines:
            deltas[(line.product.id, line.destination.id, line.lot.id if line.lot else 0)] += line.qty
        self.added = [(*key, deltas[key]) for key in sorted(deltas)]
        if self.dialect == "postgresql":
            self.batch.add_stock.execute(self.connection, {
                "products": [added[0] for added in self.added], "locations": [added[1] for added in self.added],
                "keys": [added[2] for added in self.added], "lots": [added[2] or None for added in self.added],
                "qtys": [to_scaled(added[3], QTY_SCALE) for added in self.added]})
            return
        self.sql.increment.execute_many(self.connection, [
            {"product": product_id, "location": location_id, "key": lot_key, "lot": lot_key or None, "qty": qty}
            for product_id, location_id, lot_key, qty in self.added])

    def apply_cost_layers(self, lines_of: dict[int, list[_Line]]) -> None:
        """Each receipt opens a layer at its cost (the moving average, else the standard cost, when
        it names none) and moves the product's average, postings taken in order, the average
        rounded at the end of each posting as :meth:`_Posting._apply_cost_layers` stores it."""
        products = sorted({line.product.id for lines in lines_of.values() for line in lines})
        listed = {"products": self.listed(products)}
        average = dict(self.batch.lock_products.all(self.connection, listed))  # locked in id order, as post() does
        stocked = defaultdict(Decimal, self.batch.stocked.all(self.connection, listed))
        for index in sorted(lines_of):
            by_product: dict[int, list[_Line]] = defaultdict(list)
            for line in lines_of[index]:
                by_product[line.product.id].append(line)
            for product_id in sorted(by_product):
                value, held = average[product_id], stocked[product_id]
                for line in by_product[product_id]:
                    cost = line.unit_cost if line.unit_cost is not None else (value or line.product.standard_cost)
                    line.unit_cost = line.new_layer_cost = cost
                    value = (value * held + cost * line.qty) / (held + line.qty)
                    held += line.qty
                average[product_id], stocked[product_id] = value.quantize(MONEY_QUANTUM), held
        if self.dialect == "postgresql":  # one statement; the rows are locked already
            self.batch.set_averages.execute(self.connection, {
                "products": products, "averages": [to_scaled(average[product_id], MONEY_SCALE) for product_id in products],
                "now": dt.datetime.now(dt.timezone.utc)})
            return
        self.sql.set_average.execute_many(self.connection, [
            {"product": product_id, "average": average[product_id]} for product_id in products])

    def write_serials(self, lines: list[_Line], lines_of: dict[int, list[_Line]],
                      failures: dict[int, ImsError]) -> None:
        serial_lines = sorted((line for line in lines if line.serial), key=lambda line: (line.product.id, line.serial))
        if not serial_lines:
            return
        if self.dialect == "postgresql":  # read again under lock: one may have come into stock since
            locked = {(product_id, serial): (serial_id, location_id)
                      for product_id, serial, serial_id, location_id in self.batch.lock_serials.all(
                          self.connection, {"serials": self.listed(sorted({line.serial for line in serial_lines}))})}
            for index in sorted(lines_of):
                for line in lines_of[index]:
                    now = locked.get((line.product.id, line.serial))
                    if line.serial and now is not None and now[1] is not None:
                        failures.setdefault(index, RuleViolation(
                            f"serial {line.serial} of {line.product.sku} is already in stock"))
            if failures:
                return
            self.known_serials.update(locked)
        placed, new = [], []
        for line in serial_lines:
            known = self.known_serials.get((line.product.id, line.serial))
            if known is None:
                new.append(line)
            else:
                line.serial_id = known[0]
                placed.append({"serial_id": known[0], "location": line.destination.id})
        if placed:
            self.sql.place_serial.execute_many(self.connection, placed)
        if not new:
            return
        for line, serial_id in zip(new, allocate_ids(self.connection, "serial_numbers", len(new)), strict=True):
            line.serial_id = serial_id
        self.batch.insert_serial.execute_many(self.connection, [
            {"id": line.serial_id, "product_id": line.product.id, "serial": line.serial,
             "lot_id": line.lot.id if line.lot else None, "location_id": line.destination.id} for line in new])
        if self.dialect != "postgresql":
            return
        stored = {(product_id, serial): serial_id for product_id, serial, serial_id, _location in self.batch.serial_ids.all(
            self.connection, {"serials": self.listed(sorted({line.serial for line in new}))})}
        inserted = {id(line) for line in new}
        for index in sorted(lines_of):
            for line in lines_of[index]:
                if id(line) in inserted and stored.get((line.product.id, line.serial)) != line.serial_id:
                    failures.setdefault(index, RuleViolation(
                        f"serial {line.serial} of {line.product.sku} was received at the same moment on another station"))

    def write_movements(self, lines_of: dict[int, list[_Line]], posting_ids: dict[int, int]) -> dict[int, list[int]]:
        """Every movement row in one ``executemany`` (ids drawn first), then the new cost layers."""
        rows, movement_ids, layers = [], {}, []
        ids = iter(allocate_ids(self.connection, "movements", sum(len(lines) for lines in lines_of.values())))
        for index in sorted(lines_of):
            movement_ids[index] = []
            for line in lines_of[index]:
                row = {
                    "id": next(ids), "posting_id": posting_ids[index], "product_id": line.product.id, "qty": line.qty,
                    "from_location_id": line.source.id, "to_location_id": line.destination.id,
                    "lot_id": line.lot.id if line.lot else None, "serial_id": line.serial_id,
                    "unit_cost": line.unit_cost or Decimal(0), "reason": self.reason[:200],
                    "reference": (line.reference or self.receipts[index].reference)[:200], "username": self.actor.username,
                    "station": self.actor.station, "created_at": self.at,
                }
                rows.append(row)
                movement_ids[index].append(row["id"])
                if line.new_layer_cost is not None:
                    layers.append({"product_id": line.product.id, "movement_id": row["id"], "unit_cost": line.new_layer_cost,
                                   "original_qty": line.qty, "remaining_qty": line.qty, "created_at": self.at})
        if self.dialect == "postgresql":
            copy_rows(self.connection, Movement.__table__, rows)
            copy_rows(self.connection, CostLayer.__table__, layers)
        else:
            self.batch.insert_movement.execute_many(self.connection, rows)
            self.sql.insert_layer.execute_many(self.connection, layers)
        chain.remember_many(self.session, "movements", rows)
        return movement_ids
