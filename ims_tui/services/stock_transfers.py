"""Moving stock: bin to bin in one posting, and between warehouses through a transit location.

An inter-warehouse transfer is created for two warehouses with product lines, *shipped* from
bins of the first (lots first-expiry-first, serials as found) into the destination's transit
location - where the goods show as in transit, counted in stock but in neither warehouse's bins
- and *received* at the second by scans into its bins.  What was shipped but never arrived
stays in transit, is reported on the transfer, and is written off when a manager closes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Balance,
    Location,
    Lot,
    Product,
    SerialNumber,
    StockTransfer,
    StockTransferLine,
    Warehouse,
)
from ims_tui.services import audit, changes, drafts, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, resolve_bin
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.ledger import PostingResult, StockMove
from ims_tui.services.permissions import Permission, check
from ims_tui.services.purchasing import LineInput, qty_text
from ims_tui.services.scans import resolve_product_in

TRANSFER_PREFIX = "TR-"
TRANSIT_PREFIX = "TRANSIT-"
ADJUSTMENT = "ADJUSTMENT"


# --- bin to bin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinItem:
    """One thing scanned for a bin-to-bin move: any code (a case counts its pack), how many."""

    code: str
    qty: Decimal = Decimal(1)
    lot: str | None = None
    serials: tuple[str, ...] = ()


MOVE_DRAFT = "move"
drafts.register_kind(MOVE_DRAFT, Permission.MOVE, "move in progress")


def _stock_bin(session: Session, code: str) -> Location:
    return resolve_bin(session, code)


def stock_bin(store: Store, actor: Actor, code: str) -> str:
    """The code of a bin stock can be moved from or to; an area or a virtual location is refused."""
    check(store, actor, Permission.MOVE, code)
    with store.read() as session:
        return _stock_bin(session, code).code


def open_move_draft(store: Store, actor: Actor, source: str, payload: dict) -> drafts.Draft:
    """A new bin-to-bin move from ``source`` (the mover's draft, saved after every scan)."""
    check(store, actor, Permission.MOVE, source)

    def work(session: Session) -> drafts.Draft:
        code = _stock_bin(session, source).code
        return drafts.create(session, actor, MOVE_DRAFT, code, {**payload, "source": code, "key": ledger.new_key()})

    return store.transact(work)


def resume_move_draft(store: Store, actor: Actor) -> drafts.Draft | None:
    return drafts.resume(store, actor, MOVE_DRAFT)


def discard_move_draft(store: Store, actor: Actor, draft_id: int) -> None:
    drafts.discard(store, actor, MOVE_DRAFT, draft_id)


def move_bin_to_bin(store: Store, actor: Actor, source: str, destination: str, items: Sequence[BinItem],
                    *, key: str | None = None, draft_id: int | None = None) -> PostingResult:
    """Everything scanned at ``source`` goes to ``destination`` in one posting (the flow's confirm);
    ``draft_id``: the move flow's draft, closed in the same transaction."""
    if not items:
        raise BadInput("scan the items to move")
    check(store, actor, Permission.MOVE, source)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> PostingResult:
        if draft_id is not None:
            if _stock_bin(session, destination).id == _stock_bin(session, source).id:
                raise RuleViolation("the destination is the source bin: scan another bin")
            drafts.close(session, MOVE_DRAFT, draft_id)
        moves = []
        for item in items:
            scan = resolve_product_in(session, item.code)
            serials = tuple(item.serials) + ((scan.serial,) if scan.serial else ())
            qty = Decimal(len(serials)) if serials else item.qty * scan.pack_qty * (scan.quantity or Decimal(1))
            moves.append(StockMove(scan.sku, qty, source, destination, item.lot or scan.lot, None, serials))
        return ledger.post(session, actor, "move", moves, key=posting_key, reference=f"{source} -> {destination}")

    return store.transact(work)


# --- read models ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferLineView:
    line_no: int
    sku: str
    name: str
    qty: Decimal
    shipped: Decimal
    received: Decimal
    shipped_detail: tuple[dict, ...]
    received_detail: tuple[dict, ...]

    @property
    def in_transit(self) -> Decimal:
        return self.shipped - self.received

    def to_dict(self) -> dict:
        return asdict(self) | {"in_transit": self.in_transit}


@dataclass(frozen=True)
class TransferView:
    number: str
    source: str
    destination: str
    transit: str
    status: str
    created_by: str
    shipped_by: str | None
    lines: tuple[TransferLineView, ...]

    @property
    def in_transit(self) -> Decimal:
        return sum((line.in_transit for line in self.lines), Decimal(0))

    def differences(self) -> list[str]:
        """What did not arrive (or was not shipped), line by line."""
        out = []
        for line in self.lines:
            if self.status in ("draft", "cancelled"):
                continue
            if line.shipped < line.qty:
                out.append(f"line {line.line_no} {line.sku}: shipped {qty_text(line.shipped)} of {qty_text(line.qty)}")
            if line.received < line.shipped:
                out.append(f"line {line.line_no} {line.sku}: received {qty_text(line.received)} of {qty_text(line.shipped)} shipped, "
                           f"{qty_text(line.in_transit)} {'written off' if self.status == 'closed' else 'in transit'}")
        return out

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "lines"}
        data["lines"] = [line.to_dict() for line in self.lines]
        data["in_transit"] = self.in_transit
        data["differences"] = self.differences()
        return data

    def render(self) -> str:
        out = [f"{self.number}  {self.source} -> {self.destination} via {self.transit}  [{self.status}]",
               f"{'#':>3} {'SKU':<16} {'qty':>7} {'shipped':>8} {'received':>8} {'transit':>8}  name"]
        for line in self.lines:
            out.append(f"{line.line_no:>3} {line.sku:<16} {qty_text(line.qty):>7} {qty_text(line.shipped):>8} "
                       f"{qty_text(line.received):>8} {qty_text(line.in_transit):>8}  {line.name}")
        differences = self.differences()
        if differences and self.status in ("partial", "received", "closed", "shipped"):
            out.append("differences:")
            out += [f"  {text}" for text in differences]
        return "\n".join(out)


@dataclass(frozen=True)
class TransferSummary:
    number: str
    source: str
    destination: str
    status: str
    lines: int
    qty: Decimal
    shipped: Decimal
    received: Decimal

    def to_dict(self) -> dict:
        return asdict(self)


def _load(session: Session, number: str, *, lock: bool = False) -> StockTransfer:
    query = select(StockTransfer).where(StockTransfer.number == number.strip().upper())
    if lock:
        query = query.with_for_update()
    transfer = session.scalars(query).one_or_none()
    if transfer is None:
        raise NotFound(f"unknown transfer {number.strip()!r}")
    return transfer


def _view(session: Session, transfer: StockTransfer) -> TransferView:
    codes = dict(session.execute(select(Warehouse.id, Warehouse.code).where(
        Warehouse.id.in_((transfer.from_warehouse_id, transfer.to_warehouse_id)))).all())
    transit = session.scalar(select(Location.code).where(Location.id == transfer.transit_location_id))
    rows = session.execute(
        select(StockTransferLine, Product.sku, Product.name).join(Product, Product.id == StockTransferLine.product_id)
        .where(StockTransferLine.transfer_id == transfer.id).order_by(StockTransferLine.line_no)
        .execution_options(populate_existing=True)
    ).all()
    return TransferView(
        transfer.number, codes[transfer.from_warehouse_id], codes[transfer.to_warehouse_id], transit, transfer.status,
        transfer.created_by, transfer.shipped_by,
        tuple(TransferLineView(ln.line_no, sku, name, ln.qty, ln.qty_shipped, ln.qty_received,
                               tuple(ln.shipped or ()), tuple(ln.received or ())) for ln, sku, name in rows),
    )


def get_transfer(store: Store, actor: Actor, number: str) -> TransferView:
    check(store, actor, Permission.LOOKUP, number)
    with store.read() as session:
        return _view(session, _load(session, number))


def list_transfers(store: Store, actor: Actor, *, open_only: bool = False, limit: int = 50, offset: int = 0) -> list[TransferSummary]:
    check(store, actor, Permission.LOOKUP, "transfers")
    source, destination = Warehouse.__table__.alias("src"), Warehouse.__table__.alias("dst")
    totals = (select(StockTransferLine.transfer_id, func.count().label("lines"), func.sum(StockTransferLine.qty).label("qty"),
                     func.sum(StockTransferLine.qty_shipped).label("shipped"), func.sum(StockTransferLine.qty_received).label("received"))
              .group_by(StockTransferLine.transfer_id).subquery())
    query = (
        select(StockTransfer.number, source.c.code, destination.c.code, StockTransfer.status, totals.c.lines,
               totals.c.qty, totals.c.shipped, totals.c.received)
        .join(source, source.c.id == StockTransfer.from_warehouse_id)
        .join(destination, destination.c.id == StockTransfer.to_warehouse_id)
        .outerjoin(totals, totals.c.transfer_id == StockTransfer.id)
        .order_by(StockTransfer.id.desc()).limit(limit).offset(offset)
    )
    if open_only:
        query = query.where(StockTransfer.status.in_(("draft", "shipped", "partial")))
    with store.read() as session:
        return [TransferSummary(n, s, d, st, ln or 0, q or Decimal(0), sh or Decimal(0), r or Decimal(0))
                for n, s, d, st, ln, q, sh, r in session.execute(query)]


# --- create, ship, receive, close --------------------------------------------------------------


def _warehouse(session: Session, code: str) -> Warehouse:
    found = session.scalars(select(Warehouse).where(Warehouse.code == code.strip().upper())).one_or_none()
    if found is None:
        found = session.scalars(select(Warehouse).where(Warehouse.code == code.strip())).one_or_none()
    if found is None:
        raise NotFound(f"unknown warehouse {code!r}")
    return found


def transit_location(session: Session, actor: Actor, warehouse: Warehouse) -> Location:
    """The destination's transit location (a stock location in no bin), made on first use."""
    code = f"{TRANSIT_PREFIX}{warehouse.code}"
    location = session.scalars(select(Location).where(Location.code == code)).one_or_none()
    if location is None:
        try:
            with session.begin_nested():
                location = Location(code=code, name=f"In transit to {warehouse.name}", kind="internal",
                                    warehouse_id=warehouse.id, active=True)
                session.add(location)
                session.flush()
            audit.record(session, actor, "location.create", code, "transit location")
        except IntegrityError:  # another station made it a moment ago
            location = session.scalars(select(Location).where(Location.code == code)).one()
    return location


def create_transfer(store: Store, actor: Actor, source: str, destination: str, lines: Sequence[LineInput]) -> TransferView:
    if not lines:
        raise BadInput("a transfer needs lines (--line CODE:QTY)")
    check(store, actor, Permission.MOVE, f"{source}->{destination}")

    def work(session: Session) -> TransferView:
        from_wh, to_wh = _warehouse(session, source), _warehouse(session, destination)
        if from_wh.id == to_wh.id:
            raise BadInput(f"from and to are the same warehouse ({from_wh.code}); move stock bin to bin instead")
        transit = transit_location(session, actor, to_wh)
        last = session.scalar(select(func.max(StockTransfer.id))) or 0
        for attempt in range(10):
            transfer = StockTransfer(number=f"{TRANSFER_PREFIX}{last + 1 + attempt:06d}", from_warehouse_id=from_wh.id,
                                     to_warehouse_id=to_wh.id, transit_location_id=transit.id, status="draft",
                                     created_by=actor.username)
            try:
                with session.begin_nested():
                    session.add(transfer)
                    session.flush()
                break
            except IntegrityError:
                continue
        else:
            raise RuleViolation("could not allocate a transfer number; try again")
        by_product: dict[int, StockTransferLine] = {}
        for line in lines:
            scan = resolve_product_in(session, line.code)
            if line.qty <= 0:
                raise BadInput(f"quantity must be more than zero, not {qty_text(line.qty)}")
            product = session.scalars(select(Product).where(Product.sku == scan.sku)).one()
            if not product.active:
                raise RuleViolation(f"product {product.sku} is inactive")
            qty = line.qty * scan.pack_qty
            if product.id in by_product:
                by_product[product.id].qty += qty
            else:
                by_product[product.id] = StockTransferLine(transfer_id=transfer.id, line_no=len(by_product) + 1,
                                                           product_id=product.id, qty=qty, qty_shipped=0, qty_received=0,
                                                           shipped=[], received=[])
                session.add(by_product[product.id])
        session.flush()
        audit.record(session, actor, "transfer.create", transfer.number, f"{from_wh.code} -> {to_wh.code}; {len(by_product)} lines")
        changes.emit(session, "transfers", transfer.number)
        return _view(session, transfer)

    return store.transact(work)


def ship(store: Store, actor: Actor, number: str, sources: Sequence[str], *, key: str | None = None) -> TransferView:
    """Take every line from ``sources`` (bins of the sending warehouse, in the order given; lots
    first-expiry-first) into transit, in one posting.  All lines or nothing."""
    if not sources:
        raise BadInput("name the bins to ship from (--from LOC ...)")
    check(store, actor, Permission.MOVE, number)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> TransferView:
        transfer = _load(session, number, lock=True)
        if transfer.status != "draft":
            raise RuleViolation(f"{transfer.number} is {transfer.status}: it was shipped already")
        bins = []
        for code in sources:
            location = find_location(session, code)
            if location is None:
                raise NotFound(f"unknown location {code!r}")
            if location.warehouse_id != transfer.from_warehouse_id or location.kind != "internal":
                raise RuleViolation(f"{location.code} is not a bin of the sending warehouse")
            bins.append(location)
        transit = session.get(Location, transfer.transit_location_id)
        lines = list(session.scalars(select(StockTransferLine).where(StockTransferLine.transfer_id == transfer.id)
                                     .order_by(StockTransferLine.line_no)))
        moves, problems = [], []
        for line in lines:
            product = session.get(Product, line.product_id)
            taken, detail = _take(session, product, bins, line.qty)
            if taken < line.qty:
                problems.append(f"{product.sku}: {qty_text(taken)} available in {', '.join(b.code for b in bins)}, "
                                f"need {qty_text(line.qty)}")
                continue
            for entry in detail:
                moves.append(StockMove(product.sku, Decimal(entry["qty"]), entry["bin"], transit.code, entry["lot"], None,
                                       tuple(entry["serials"])))
            line.qty_shipped = line.qty
            line.shipped = [{k: v for k, v in entry.items() if k != "bin"} for entry in detail]
        if problems:
            raise RuleViolation(f"{transfer.number} cannot ship: " + "; ".join(problems))
        ledger.post(session, actor, "transfer", moves, key=posting_key, reason="transfer", reference=transfer.number)
        transfer.status = "shipped"
        transfer.shipped_by = actor.username
        transfer.shipped_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        audit.record(session, actor, "transfer.ship", transfer.number, f"{len(moves)} moves into {transit.code}")
        changes.emit(session, "transfers", transfer.number)
        return _view(session, transfer)

    return store.transact(work)


def _take(session: Session, product: Product, bins: list[Location], qty: Decimal) -> tuple[Decimal, list[dict]]:
    """What to take of ``product`` from ``bins`` (in order; lots by expiry): up to ``qty``."""
    order = {b.id: i for i, b in enumerate(bins)}
    rows = session.execute(
        select(Balance.location_id, Balance.lot_key, Lot.code, Lot.expiry, Balance.on_hand - Balance.reserved)
        .outerjoin(Lot, Lot.id == Balance.lot_id)
        .where(Balance.product_id == product.id, Balance.location_id.in_(list(order)), Balance.on_hand > Balance.reserved)
    ).all()
    rows.sort(key=lambda r: (r[3] or dt.date.max, order[r[0]], r[2] or ""))
    codes = {b.id: b.code for b in bins}
    left, detail = qty, []
    for location_id, lot_key, lot_code, _expiry, available in rows:
        if left <= 0:
            break
        take = min(available, left)
        serials: list[str] = []
        if product.tracking == "serial":
            lot_filter = SerialNumber.lot_id == lot_key if lot_key else SerialNumber.lot_id.is_(None)
            serials = list(session.scalars(select(SerialNumber.serial).where(
                SerialNumber.product_id == product.id, SerialNumber.location_id == location_id, lot_filter
            ).order_by(SerialNumber.serial).limit(int(take))))
            take = Decimal(len(serials))
        if take > 0:
            detail.append({"bin": codes[location_id], "lot": lot_code, "qty": str(take), "serials": serials})
            left -= take
    return qty - left, detail


def receive(store: Store, actor: Actor, number: str, code: str, qty: Decimal | None = None, *, to: str,
            lot: str | None = None, serials: Sequence[str] = (), key: str | None = None) -> TransferView:
    """A scan at the receiving warehouse: ``qty`` of ``code`` (a case counts its pack) from
    transit into bin ``to``; never more than was shipped on the transfer."""
    check(store, actor, Permission.MOVE, number)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> TransferView:
        transfer = _load(session, number, lock=True)
        if transfer.status not in ("shipped", "partial"):
            raise RuleViolation(f"{transfer.number} is {transfer.status}: nothing to receive")
        scan = resolve_product_in(session, code)
        destination = find_location(session, to)
        if destination is None:
            raise NotFound(f"unknown location {to!r}")
        if destination.warehouse_id != transfer.to_warehouse_id or destination.kind != "internal" \
                or destination.id == transfer.transit_location_id:
            raise RuleViolation(f"{destination.code} is not a bin of the receiving warehouse")
        product = session.scalars(select(Product).where(Product.sku == scan.sku)).one()
        line = session.scalars(select(StockTransferLine).where(
            StockTransferLine.transfer_id == transfer.id, StockTransferLine.product_id == product.id)).one_or_none()
        if line is None:
            raise RuleViolation(f"{product.sku} is not on {transfer.number}")
        wanted_serials = [s.strip() for s in (*serials, *([scan.serial] if scan.serial else [])) if s and s.strip()]
        units = Decimal(len(wanted_serials)) if wanted_serials else (qty or Decimal(1)) * scan.pack_qty * (scan.quantity or Decimal(1))
        if units <= 0:
            raise BadInput("quantity must be more than zero")
        if units > line.qty_shipped - line.qty_received:
            raise RuleViolation(f"only {qty_text(line.qty_shipped - line.qty_received)} {product.sku} still in transit on {transfer.number}")
        detail = _from_transit(line, product, units, lot or scan.lot, wanted_serials)
        transit = session.get(Location, transfer.transit_location_id)
        moves = [StockMove(product.sku, Decimal(e["qty"]), transit.code, destination.code, e["lot"], None, tuple(e["serials"]))
                 for e in detail]
        ledger.post(session, actor, "transfer", moves, key=posting_key, reason="transfer", reference=transfer.number)
        done = session.execute(
            update(StockTransferLine).where(StockTransferLine.id == line.id,
                                            StockTransferLine.qty_received + units <= StockTransferLine.qty_shipped)
            .values(qty_received=StockTransferLine.qty_received + units, received=list(line.received or []) + detail)
        ).rowcount
        if done != 1:
            raise RuleViolation(f"{product.sku} was received on another station a moment ago; scan again")
        session.flush()
        left = session.scalar(select(func.sum(StockTransferLine.qty_shipped - StockTransferLine.qty_received))
                              .where(StockTransferLine.transfer_id == transfer.id))
        transfer.status = "received" if not left else "partial"
        audit.record(session, actor, "transfer.receive", transfer.number,
                     f"{qty_text(units)} {product.sku} -> {destination.code}", product_id=product.id)
        changes.emit(session, "transfers", transfer.number)
        return _view(session, transfer)

    return store.transact(work)


def _from_transit(line: StockTransferLine, product: Product, units: Decimal, lot: str | None, serials: list[str]) -> list[dict]:
    """Which shipped lots/serials this receipt takes: the named ones, else in shipping order."""
    received_lot: dict[str | None, Decimal] = {}
    received_serials: set[str] = set()
    for entry in line.received or ():
        received_lot[entry["lot"]] = received_lot.get(entry["lot"], Decimal(0)) + Decimal(entry["qty"])
        received_serials.update(entry["serials"])
    if serials:
        shipped = {s: entry["lot"] for entry in line.shipped or () for s in entry["serials"]}
        for serial in serials:
            if serial not in shipped:
                raise RuleViolation(f"serial {serial} of {product.sku} was not shipped on this transfer")
            if serial in received_serials:
                raise RuleViolation(f"serial {serial} of {product.sku} was received already")
        by_lot: dict[str | None, list[str]] = {}
        for serial in serials:
            by_lot.setdefault(shipped[serial], []).append(serial)
        return [{"lot": lot_code, "qty": str(len(group)), "serials": group} for lot_code, group in by_lot.items()]
    if product.tracking == "serial":
        raise RuleViolation(f"{product.sku} is serial-tracked: scan each serial")
    remaining: dict[str | None, Decimal] = {}
    for entry in line.shipped or ():
        remaining[entry["lot"]] = remaining.get(entry["lot"], Decimal(0)) + Decimal(entry["qty"])
    for lot_code, got in received_lot.items():
        remaining[lot_code] = remaining.get(lot_code, Decimal(0)) - got
    if lot:
        if remaining.get(lot, Decimal(0)) < units:
            raise RuleViolation(f"only {qty_text(max(remaining.get(lot, Decimal(0)), Decimal(0)))} of lot {lot} of {product.sku} in transit")
        return [{"lot": lot, "qty": str(units), "serials": []}]
    out, left = [], units
    for lot_code, available in remaining.items():
        if left <= 0:
            break
        take = min(available, left)
        if take > 0:
            out.append({"lot": lot_code, "qty": str(take), "serials": []})
            left -= take
    return out


def close(store: Store, actor: Actor, number: str, *, key: str | None = None) -> TransferView:
    """Close a shipped transfer (managers): what never arrived leaves transit as a loss."""
    check(store, actor, Permission.ADJUST, number)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> TransferView:
        transfer = _load(session, number, lock=True)
        if transfer.status not in ("shipped", "partial", "received"):
            raise RuleViolation(f"{transfer.number} is {transfer.status}: only a shipped transfer is closed")
        transit = session.get(Location, transfer.transit_location_id)
        moves = []
        for line in session.scalars(select(StockTransferLine).where(StockTransferLine.transfer_id == transfer.id)):
            short = line.qty_shipped - line.qty_received
            if short <= 0:
                continue
            product = session.get(Product, line.product_id)
            for entry in _from_transit(line, product, short, None, _unreceived_serials(line)):
                moves.append(StockMove(product.sku, Decimal(entry["qty"]), transit.code, ADJUSTMENT, entry["lot"], None,
                                       tuple(entry["serials"])))
        if moves:
            ledger.post(session, actor, "adjust", moves, key=posting_key, reason="transfer short", reference=transfer.number)
        transfer.status = "closed"
        transfer.closed_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        view = _view(session, transfer)
        audit.record(session, actor, "transfer.close", transfer.number, "; ".join(view.differences()) or "complete")
        changes.emit(session, "transfers", transfer.number)
        return view

    return store.transact(work)


def _unreceived_serials(line: StockTransferLine) -> list[str]:
    got = {s for entry in line.received or () for s in entry["serials"]}
    return [s for entry in line.shipped or () for s in entry["serials"] if s not in got]
