"""Pick lists, picking, short picks, shipping and customer returns.

A pick list covers one order or a batch (cluster picking: one walk, goods dropped per order),
its lines in walking order (:mod:`ims_tui.services.pick_sequence`).  Confirming a pick line
releases that much of the allocation and posts bin -> packing location through the ledger,
where the goods are held again for the order (stage ``picked``).  A short pick releases the
rest, asks for a recount of the bin and re-allocates from the next bin by the same rule (the
list re-routes); with nothing left the line backorders (policy ``as-available``) or the order
holds (``complete``).  Shipping posts packing -> Customer at the cost layers' cost, records a
shipment with an SSCC, and leaves a backorder when the order is not complete.

Each of these runs in one short transaction; stock moves go through :func:`ledger.post` with
an idempotency key, so a retried pick or shipment posts once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Allocation,
    Balance,
    Customer,
    Location,
    Lot,
    Movement,
    PickLine,
    PickList,
    Posting,
    Product,
    RecountRequest,
    SalesOrder,
    SalesOrderLine,
    SerialNumber,
    Shipment,
    StoreMeta,
    TaskDraft,
)
from ims_tui.devices.documents import make_sscc, sscc_label_zpl, text_pages_zpl
from ims_tui.services import audit, changes, drafts, ledger, reservations
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_location, find_product
from ims_tui.services.errors import BadInput, ImsError, NotFound, RuleViolation
from ims_tui.services.ledger import StockMove
from ims_tui.services.permissions import Permission, check
from ims_tui.services.pick_sequence import walking_keys
from ims_tui.services.purchasing import money_text, qty_text
from ims_tui.values import parse_quantity
from ims_tui.services.sales import SalesOrderView, clean_text, load_so, refresh_status, view_so

PICK_PREFIX = "PK-"
SHIPMENT_PREFIX = "SH-"
DEFAULT_COMPANY_PREFIX = "0000000"
"""GS1 company prefix for SSCCs until the store sets ``gs1_company_prefix`` in store_meta."""

_lines = SalesOrderLine.__table__
_qty = reservations._qty


class _AlreadyPosted(Exception):
    """Internal: the idempotency key was posted before; roll back whatever this attempt did."""

    def __init__(self, result: ledger.PostingResult) -> None:
        super().__init__(result.key)
        self.result = result


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickLineView:
    line_no: int
    order: str
    order_line: int
    location: str
    sku: str
    product_name: str
    tracking: str
    lot: str | None
    expiry: dt.date | None
    qty: Decimal
    qty_picked: Decimal
    status: str
    serials: tuple[str, ...] = ()
    """For serial items: serials in the bin that may be taken (any of them will do)."""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.qty_picked if self.status == "open" else Decimal(0)

    def to_dict(self) -> dict:
        return asdict(self) | {"remaining": self.remaining}


@dataclass(frozen=True)
class PickListView:
    number: str
    status: str
    packing: str
    created_by: str
    orders: tuple[str, ...]
    lines: tuple[PickLineView, ...]
    """In walking order."""

    def line(self, line_no: int) -> PickLineView:
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise NotFound(f"{self.number} has no line {line_no}")

    @property
    def next_line(self) -> PickLineView | None:
        return next((line for line in self.lines if line.status == "open"), None)

    def to_dict(self) -> dict:
        return asdict(self) | {"lines": [line.to_dict() for line in self.lines]}

    def render_lines(self) -> list[str]:
        out = [f"{self.number}  [{self.status}]  orders {', '.join(self.orders)}  -> {self.packing}",
               f"{'#':>3} {'bin':<14} {'SKU':<14} {'lot':<12} {'qty':>6} {'picked':>6} {'order':<10} status"]
        for line in self.lines:
            lot = (line.lot or "")[:12]
            out.append(f"{line.line_no:>3} {line.location:<14} {line.sku:<14} {lot:<12} {qty_text(line.qty):>6} "
                       f"{qty_text(line.qty_picked):>6} {line.order:<10} {line.status}")
            if line.serials and line.status == "open":
                out.append(f"      serials here: {' '.join(line.serials)}")
        return out

    def render(self) -> str:
        return "\n".join(self.render_lines())


@dataclass(frozen=True)
class PickSummary:
    number: str
    status: str
    orders: str
    lines: int
    open_lines: int

    def to_dict(self) -> dict:
        return asdict(self)


def _posted_before(session: Session, key: str) -> None:
    """A retried pick, shipment or return whose key was posted already: report it, change nothing."""
    posting_id = session.scalar(select(Posting.id).where(Posting.idempotency_key == key))
    if posting_id is not None:
        raise _AlreadyPosted(ledger.PostingResult(posting_id, key, already_posted=True))


def _load_pick(session: Session, number: str) -> PickList:
    pick = session.scalars(select(PickList).where(PickList.number == number.strip().upper())).one_or_none()
    if pick is None:
        raise NotFound(f"unknown pick list {number.strip()!r}")
    return pick


def _walking(session: Session) -> dict[int, tuple]:
    return walking_keys(session.execute(
        select(Location.id, Location.code, Location.pick_seq).where(Location.kind == "internal")
    ).all())


def view_pick(session: Session, pick_id: int, keys: dict[int, tuple] | None = None) -> PickListView:
    """The list in walking order (``keys``: the walking order when the caller has it already)."""
    pick = session.get(PickList, pick_id, populate_existing=True)
    rows = session.execute(
        select(PickLine.line_no, SalesOrder.number, SalesOrderLine.line_no, Location.code, Product.sku, Product.name,
               Product.tracking, Lot.code, Lot.expiry, PickLine.qty, PickLine.qty_picked, PickLine.status,
               PickLine.location_id, PickLine.product_id, PickLine.lot_id)
        .join(SalesOrder, SalesOrder.id == PickLine.order_id)
        .join(SalesOrderLine, SalesOrderLine.id == PickLine.so_line_id)
        .join(Location, Location.id == PickLine.location_id)
        .join(Product, Product.id == PickLine.product_id)
        .outerjoin(Lot, Lot.id == PickLine.lot_id)
        .where(PickLine.pick_id == pick_id)
    ).all()
    keys = keys if keys is not None else _walking(session)
    rows.sort(key=lambda r: (keys.get(r.location_id, (3,)), r[1], r[2], r[0]))
    lines = []
    for r in rows:
        serials: tuple[str, ...] = ()
        if r.tracking == "serial" and r.status == "open":
            query = select(SerialNumber.serial).where(SerialNumber.product_id == r.product_id,
                                                      SerialNumber.location_id == r.location_id)
            if r.lot_id:
                query = query.where(SerialNumber.lot_id == r.lot_id)
            serials = tuple(session.scalars(query.order_by(SerialNumber.id).limit(int(r.qty - r.qty_picked) + 3)))
        lines.append(PickLineView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], serials))
    packing = session.get(Location, pick.packing_location_id).code
    orders = tuple(sorted({line.order for line in lines}))
    return PickListView(pick.number, pick.status, packing, pick.created_by, orders, tuple(lines))


def get_pick(store: Store, actor: Actor, number: str) -> PickListView:
    check(store, actor, Permission.LOOKUP, number)
    with store.read() as session:
        return view_pick(session, _load_pick(session, number).id)


def list_picks(store: Store, actor: Actor, *, open_only: bool = False, limit: int = 50) -> list[PickSummary]:
    check(store, actor, Permission.LOOKUP, "pick lists")
    with store.read() as session:
        query = select(PickList.id, PickList.number, PickList.status).order_by(PickList.id.desc()).limit(limit)
        if open_only:
            query = query.where(PickList.status == "open")
        picks = session.execute(query).all()
        out = []
        for pick_id, number, status in picks:
            orders = sorted(set(session.scalars(
                select(SalesOrder.number).join(PickLine, PickLine.order_id == SalesOrder.id).where(PickLine.pick_id == pick_id))))
            counts = session.execute(
                select(func.count(), func.sum(case((PickLine.status == "open", 1), else_=0)))
                .where(PickLine.pick_id == pick_id)
            ).one()
            out.append(PickSummary(number, status, ", ".join(orders), counts[0] or 0, int(counts[1] or 0)))
        return out


# --- creating a pick list -----------------------------------------------------------------------


def _packing_location(session: Session, code: str | None, near: int | None) -> Location:
    if code:
        location = find_location(session, code)
        if location is None:
            raise NotFound(f"unknown location {code!r}")
        if location.kind != "internal":
            raise RuleViolation(f"{location.code} is not a stock location: goods cannot be packed there")
        return location
    candidates = list(session.scalars(
        select(Location).where(Location.usage == "packing", Location.kind == "internal", Location.active.is_(True))
        .order_by(Location.code)
    ))
    if not candidates:
        raise RuleViolation("no packing location: import one with usage 'packing' (locations file) or pass --packing LOC")
    warehouse = session.get(Location, near).warehouse_id if near else None
    return next((loc for loc in candidates if loc.warehouse_id == warehouse), candidates[0])


def _new_pick_number(session: Session) -> str:
    last = session.scalar(select(func.max(PickList.id))) or 0
    return f"{PICK_PREFIX}{last + 1:06d}"


def _unpicked_allocations(session: Session, order_ids: Sequence[int]) -> list:
    on_open_list = select(PickLine.allocation_id).where(PickLine.status == "open")
    return session.execute(
        select(Allocation.id, Allocation.order_id, Allocation.line_id, Allocation.product_id, Allocation.location_id,
               Allocation.lot_id, Allocation.qty)
        .where(Allocation.order_id.in_(order_ids), Allocation.stage == "reserved", Allocation.qty > 0,
               Allocation.id.not_in(on_open_list))
        .order_by(Allocation.id)
    ).all()


def _add_pick_lines(session: Session, pick: PickList, allocations: Sequence, order_numbers: dict[int, str],
                    keys: dict[int, tuple] | None = None) -> int:
    """Append lines for ``allocations`` in walking order; returns how many."""
    keys = keys if keys is not None else _walking(session)
    line_ids = sorted({row.line_id for row in allocations}) or [0]
    so_line_no = dict(session.execute(
        select(SalesOrderLine.id, SalesOrderLine.line_no).where(SalesOrderLine.id.in_(line_ids))
    ).all())
    ordered = sorted(allocations, key=lambda a: (keys.get(a.location_id, (3,)), order_numbers[a.order_id], so_line_no[a.line_id]))
    start = session.scalar(select(func.max(PickLine.line_no)).where(PickLine.pick_id == pick.id)) or 0
    session.execute(insert(PickLine.__table__), [
        {"pick_id": pick.id, "line_no": start + index, "order_id": a.order_id, "so_line_id": a.line_id,
         "allocation_id": a.id, "product_id": a.product_id, "location_id": a.location_id, "lot_id": a.lot_id,
         "qty": a.qty, "qty_picked": Decimal(0), "status": "open"}
        for index, a in enumerate(ordered, start=1)
    ])
    return len(ordered)


def create_pick(store: Store, actor: Actor, orders: Sequence[str], *, packing: str | None = None) -> PickListView:
    """A pick list for the reserved, not yet listed stock of one order or a batch, in walking order."""
    if not orders:
        raise BadInput("name at least one sales order (--so SO)")
    check(store, actor, Permission.PICK, ", ".join(orders))
    wanted = sorted({o.strip().upper() for o in orders})

    def work(session: Session) -> PickListView:
        loaded = session.execute(
            select(SalesOrder.id, SalesOrder.number, SalesOrder.status).where(SalesOrder.number.in_(wanted))
            .order_by(SalesOrder.number).with_for_update()
        ).all()
        unknown = sorted(set(wanted) - {row.number for row in loaded})
        if unknown:
            raise NotFound(f"unknown sales order {unknown[0]!r}")
        for row in loaded:
            if row.status not in reservations.OPEN_STATUSES:
                raise RuleViolation(f"{row.number} is {row.status}: only confirmed orders are picked")
        ids = [row.id for row in loaded]
        allocations = _unpicked_allocations(session, ids)
        if not allocations:
            waiting = session.scalar(select(func.sum(SalesOrderLine.qty_waiting)).where(SalesOrderLine.order_id.in_(ids)))
            raise RuleViolation(f"nothing to pick on {', '.join(wanted)}: no reserved stock off a pick list"
                                + (f" ({qty_text(waiting)} waiting for stock)" if waiting else ""))
        target = _packing_location(session, packing, allocations[0].location_id)
        for attempt in range(10):
            pick = PickList(number=_new_pick_number(session), status="open", packing_location_id=target.id,
                            created_by=actor.username)
            if attempt:
                pick.number = f"{PICK_PREFIX}{int(pick.number[len(PICK_PREFIX):]) + attempt:06d}"
            try:
                with session.begin_nested():
                    session.add(pick)
                    session.flush()
                break
            except IntegrityError:  # number taken by another station a moment ago
                session.expunge(pick)
        else:
            raise RuleViolation("could not allocate a pick list number; try again")
        keys = _walking(session)
        count = _add_pick_lines(session, pick, allocations, {row.id: row.number for row in loaded}, keys)
        session.execute(update(SalesOrder.__table__).where(SalesOrder.__table__.c.id.in_(ids),
                                                           SalesOrder.__table__.c.status == "confirmed")
                        .values(status="picking"))
        audit.record(session, actor, "pick.create", pick.number, f"{count} lines for {', '.join(wanted)} -> {target.code}")
        changes.emit(session, "picks", pick.number)
        return view_pick(session, pick.id, keys)

    return store.transact(work)


# --- picking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickResult:
    pick: PickListView
    line_no: int
    qty: Decimal
    posting_id: int
    key: str
    already_posted: bool = False
    swapped_lot: str | None = None

    def to_dict(self) -> dict:
        return {"pick": self.pick.number, "line": self.line_no, "qty": self.qty, "posting_id": self.posting_id,
                "key": self.key, "already_posted": self.already_posted, "swapped_lot": self.swapped_lot,
                "status": self.pick.status}

    def describe(self) -> str:
        if self.already_posted:
            return f"already posted (key {self.key}): nothing changed"
        line = self.pick.line(self.line_no)
        swap = f" (lot {self.swapped_lot} instead of the allocated lot)" if self.swapped_lot else ""
        text = f"picked {qty_text(self.qty)} {line.sku} from {line.location} for {line.order}{swap}"
        following = self.pick.next_line
        return text + (f"; next: line {following.line_no} {following.sku} at {following.location}" if following
                       else f"; {self.pick.number} is {self.pick.status}")


def _lock_pick_line(session: Session, number: str, line_no: int) -> tuple[PickList, PickLine]:
    pick = _load_pick(session, number)
    line = session.scalars(
        select(PickLine).where(PickLine.pick_id == pick.id, PickLine.line_no == line_no).with_for_update()
    ).one_or_none()
    if line is None:
        raise NotFound(f"{pick.number} has no line {line_no}")
    if line.status != "open":
        raise RuleViolation(f"line {line_no} of {pick.number} is {line.status}")
    return pick, line


def _finish_pick_if_done(session: Session, pick: PickList) -> None:
    still_open = session.scalar(select(func.count()).where(PickLine.pick_id == pick.id, PickLine.status == "open"))
    if not still_open:
        pick.status = "done"
        pick.done_at = dt.datetime.now(dt.timezone.utc)


def _lot_to_take(session: Session, product: Product, line: PickLine, lot: str | None, customer_min: int) -> Lot | None:
    """The lot the picker takes: the allocated one, or an equally good one (same expiry)."""
    allocated = session.get(Lot, line.lot_id) if line.lot_id else None
    if lot is None or not lot.strip():
        if product.tracking == "lot" and allocated is None:
            raise RuleViolation(f"{product.sku} is lot-tracked: scan or give the lot")
        return allocated
    scanned = session.scalars(select(Lot).where(Lot.product_id == product.id, Lot.code == lot.strip())).one_or_none()
    if scanned is None:
        raise RuleViolation(f"no lot {lot.strip()} of {product.sku}")
    if allocated is None:
        if product.tracking != "lot":
            raise RuleViolation(f"{product.sku} is not lot-tracked")
        return scanned
    if scanned.id == allocated.id:
        return allocated
    today = dt.date.today()
    if scanned.expiry is not None and scanned.expiry < today:
        raise RuleViolation(f"lot {scanned.code} expired on {scanned.expiry.isoformat()}: take lot {allocated.code}")
    if scanned.expiry != allocated.expiry:
        when = lambda d: d.isoformat() if d else "no expiry"  # noqa: E731
        later = scanned.expiry is None or (allocated.expiry is not None and scanned.expiry > allocated.expiry)
        why = "expires later" if later else "expires sooner"
        raise RuleViolation(f"lot {scanned.code} {why} ({when(scanned.expiry)}) than allocated lot {allocated.code} "
                            f"({when(allocated.expiry)}): take lot {allocated.code}")
    return scanned


def confirm_pick(
    store: Store, actor: Actor, number: str, line_no: int, qty: Decimal, *, source: str, lot: str | None = None,
    serials: Sequence[str] = (), key: str | None = None,
) -> PickResult:
    """Take ``qty`` of a pick line from its bin into the packing location (one posting).

    Wrong bin, too much, a lot that is not the allocated one (nor one with the same expiry in
    the same bin), an expired lot or a serial not in the bin are refused, nothing changed.
    """
    check(store, actor, Permission.PICK, f"{number} line {line_no}")
    qty = parse_quantity(qty, positive=True)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> PickResult:
        _posted_before(session, posting_key)
        pick, line = _lock_pick_line(session, number, line_no)
        bin_ = session.get(Location, line.location_id)
        scanned = find_location(session, source)
        if scanned is None:
            raise NotFound(f"unknown location {source!r}")
        if scanned.id != bin_.id:
            raise RuleViolation(f"wrong bin: line {line_no} is picked from {bin_.code}, not {scanned.code}")
        remaining = line.qty - line.qty_picked
        if qty > remaining:
            raise RuleViolation(f"line {line_no} asks for {qty_text(remaining)} more, not {qty_text(qty)}")
        product = session.get(Product, line.product_id)
        order = session.get(SalesOrder, line.order_id)
        customer = session.get(Customer, order.customer_id)
        taken_lot = _lot_to_take(session, product, line, lot, customer.min_shelf_days or 0)
        swapped = taken_lot is not None and taken_lot.id != line.lot_id
        if product.tracking == "serial" and len([s for s in serials if s.strip()]) != qty:
            raise RuleViolation(f"{product.sku} is serial-tracked: scan one serial per unit ({qty_text(qty)} units, {len(serials)} serials)")
        reservations.release(session, line.allocation_id, qty)
        packing = session.get(Location, pick.packing_location_id)
        so_line = session.get(SalesOrderLine, line.so_line_id)
        result = ledger.post(
            session, actor, "pick",
            [StockMove(product.sku, qty, bin_.code, packing.code, taken_lot.code if taken_lot else None,
                       None, tuple(s.strip() for s in serials if s.strip()), reference=f"{order.number}/{so_line.line_no}")],
            key=posting_key, reason=f"pick {pick.number} line {line_no}", reference=order.number,
        )
        if result.already_posted:
            raise _AlreadyPosted(result)
        serial_ids: list[int | None] = []
        if product.tracking == "serial":
            by_serial = dict(session.execute(select(SerialNumber.serial, SerialNumber.id).where(
                SerialNumber.product_id == product.id, SerialNumber.serial.in_([s.strip() for s in serials]))).all())
            serial_ids = [by_serial[s.strip()] for s in serials if s.strip()]
        reservations.hold_picked(session, order_id=order.id, line_id=so_line.id, product_id=product.id,
                                 location_id=packing.id, lot_id=taken_lot.id if taken_lot else None,
                                 serial_ids=serial_ids, qty=qty)
        session.execute(update(_lines).where(_lines.c.id == so_line.id).values(
            qty_reserved=_lines.c.qty_reserved - _qty("qty"), qty_picked=_lines.c.qty_picked + _qty("qty")), {"qty": qty})
        line.qty_picked += qty
        if line.qty_picked >= line.qty:
            line.status = "picked"
        session.flush()
        _finish_pick_if_done(session, pick)
        audit.record(session, actor, "pick.confirm", pick.number,
                     f"line {line_no}: {qty_text(qty)} {product.sku} {bin_.code} -> {packing.code} for {order.number}"
                     + (f" (lot {taken_lot.code} swapped in)" if swapped else ""), product_id=product.id)
        changes.emit(session, "picks", pick.number)
        session.flush()
        return PickResult(view_pick(session, pick.id), line_no, qty, result.posting_id, posting_key,
                          swapped_lot=taken_lot.code if swapped else None)

    try:
        return store.transact(work)
    except _AlreadyPosted as done:
        with store.read() as session:
            view = view_pick(session, _load_pick(session, number).id)
        return PickResult(view, line_no, qty, done.result.posting_id, posting_key, already_posted=True)


@dataclass(frozen=True)
class ShortResult:
    pick: PickListView
    line_no: int
    short_qty: Decimal
    rerouted: tuple[int, ...]
    """New lines of the pick list for the re-allocated quantity."""
    rerouted_qty: Decimal
    backordered: Decimal
    held: bool

    def to_dict(self) -> dict:
        return {"pick": self.pick.number, "line": self.line_no, "short": self.short_qty, "rerouted_lines": list(self.rerouted),
                "rerouted": self.rerouted_qty, "backordered": self.backordered, "held": self.held}

    def describe(self) -> str:
        line = self.pick.line(self.line_no)
        parts = [f"line {self.line_no}: {qty_text(self.short_qty)} {line.sku} short at {line.location} (recount requested)"]
        if self.rerouted:
            where = ", ".join(f"line {n} at {self.pick.line(n).location}" for n in self.rerouted)
            parts.append(f"{qty_text(self.rerouted_qty)} re-allocated: {where}")
        if self.backordered:
            parts.append(f"{qty_text(self.backordered)} {'holds the order' if self.held else 'backordered'}")
        return "; ".join(parts)


def short_pick(store: Store, actor: Actor, number: str, line_no: int) -> ShortResult:
    """The rest of a line is not in its bin: release it, request a recount, re-allocate it from
    the next bin (new lines on this list), else backorder it or hold the order by its policy."""
    check(store, actor, Permission.PICK, f"{number} line {line_no}")

    def work(session: Session) -> ShortResult:
        pick, line = _lock_pick_line(session, number, line_no)
        order = session.scalars(select(SalesOrder).where(SalesOrder.id == line.order_id).with_for_update()).one()
        customer = session.get(Customer, order.customer_id)
        product = session.get(Product, line.product_id)
        bin_ = session.get(Location, line.location_id)
        rest = line.qty - line.qty_picked
        reservations.release(session, line.allocation_id, rest)
        session.execute(update(_lines).where(_lines.c.id == line.so_line_id).values(
            qty_reserved=_lines.c.qty_reserved - _qty("qty"), qty_waiting=_lines.c.qty_waiting + _qty("qty")), {"qty": rest})
        line.status = "short"
        session.execute(insert(RecountRequest.__table__).values(
            location_id=bin_.id, product_id=product.id, created_by=actor.username,
            reason=f"short pick {pick.number} line {line_no}: {qty_text(rest)} not found",
            created_at=dt.datetime.now(dt.timezone.utc)))
        session.flush()
        held = reservations.allocate_line(session, order_id=order.id, line_id=line.so_line_id, product_id=product.id,
                                          qty=rest, min_shelf_days=customer.min_shelf_days or 0, exclude_locations=[bin_.id])
        new_lines: tuple[int, ...] = ()
        if held:
            before = session.scalar(select(func.max(PickLine.line_no)).where(PickLine.pick_id == pick.id)) or 0
            rows = _unpicked_allocations(session, [order.id])
            rows = [r for r in rows if r.id in {h.allocation_id for h in held}]
            count = _add_pick_lines(session, pick, rows, {order.id: order.number})
            new_lines = tuple(range(before + 1, before + 1 + count))
        rerouted = sum((h.qty for h in held), Decimal(0))
        left = rest - rerouted
        on_hold = bool(left and order.policy == "complete")
        if on_hold:
            order.hold_reason = f"waiting for {qty_text(left)} {product.sku} (short pick {pick.number})"
        session.flush()
        _finish_pick_if_done(session, pick)
        audit.record(session, actor, "pick.short", pick.number,
                     f"line {line_no}: {qty_text(rest)} {product.sku} short at {bin_.code}; re-allocated {qty_text(rerouted)}"
                     + (f"; {qty_text(left)} {'held' if on_hold else 'backordered'}" if left else ""), product_id=product.id)
        changes.emit(session, "picks", pick.number)
        changes.emit(session, "sales_orders", order.number)
        session.flush()
        return ShortResult(view_pick(session, pick.id), line_no, rest, new_lines, rerouted, left, on_hold)

    return store.transact(work)


# --- shipping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentDocs:
    packing_slip: str
    """Plain text, for the CLI and the screen."""
    zpl: str
    """Packing slip pages and the SSCC shipping label, for a label printer."""


@dataclass(frozen=True)
class ShipResult:
    order: SalesOrderView
    shipment: str
    sscc: str
    qty: Decimal
    cost: Decimal
    value: Decimal
    posting_id: int
    key: str
    docs: ShipmentDocs
    already_posted: bool = False

    @property
    def backorder(self) -> Decimal:
        return self.order.backorder

    def to_dict(self) -> dict:
        return {"order": self.order.number, "status": self.order.status, "shipment": self.shipment, "sscc": self.sscc,
                "qty": self.qty, "cost": self.cost, "value": self.value, "posting_id": self.posting_id, "key": self.key,
                "backorder": self.backorder, "already_posted": self.already_posted}

    def describe(self) -> str:
        if self.already_posted:
            return f"already posted (key {self.key}): nothing changed"
        text = (f"shipped {qty_text(self.qty)} units of {self.order.number} as {self.shipment} (SSCC {self.sscc}); "
                f"cost of goods {money_text(self.cost)}, value {money_text(self.value)}; {self.order.number} is {self.order.status}")
        if self.backorder:
            text += f", {qty_text(self.backorder)} on backorder"
        return text


def _company_prefix(session: Session) -> str:
    value = session.scalar(select(StoreMeta.value).where(StoreMeta.key == "gs1_company_prefix"))
    return value or DEFAULT_COMPANY_PREFIX


def _customer_location(session: Session) -> Location:
    location = session.scalars(select(Location).where(Location.kind == "customer").order_by(Location.id)).first()
    if location is None:
        raise RuleViolation("the store has no Customer location; run 'ims db upgrade'")
    return location


def ship_so(store: Store, actor: Actor, number: str, *, key: str | None = None) -> ShipResult:
    """Post everything picked for the order packing -> Customer, at the cost layers' cost."""
    check(store, actor, Permission.SHIP, number)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> ShipResult:
        _posted_before(session, posting_key)
        order = load_so(session, number, lock=True)
        if order.status not in reservations.OPEN_STATUSES:
            raise RuleViolation(f"{order.number} is {order.status}: nothing to ship")
        picked = reservations.open_allocations(session, order_id=order.id, stage="picked")
        if not picked:
            raise RuleViolation(f"nothing picked to ship on {order.number}")
        if order.policy == "complete":
            missing = sum((line.qty_waiting + line.qty_reserved for line in order.lines), Decimal(0))
            if missing:
                raise RuleViolation(f"{order.number} ships complete: {qty_text(missing)} still to pick or waiting for stock")
        lines = {line.id: line for line in order.lines}
        skus = dict(session.execute(select(Product.id, Product.sku).where(Product.id.in_({a.product_id for a in picked}))).all())
        codes = dict(session.execute(select(Location.id, Location.code).where(Location.id.in_({a.location_id for a in picked}))).all())
        lots = dict(session.execute(select(Lot.id, Lot.code).where(Lot.id.in_({a.lot_id for a in picked if a.lot_id} or {0}))).all())
        serial_codes = dict(session.execute(select(SerialNumber.id, SerialNumber.serial).where(
            SerialNumber.id.in_({a.serial_id for a in picked if a.serial_id} or {0}))).all())
        customer_loc = _customer_location(session)
        grouped: dict[tuple[int, int, int | None], list] = defaultdict(list)
        for allocation in picked:
            reservations.release(session, allocation.id)
            grouped[(allocation.line_id, allocation.location_id, allocation.lot_id)].append(allocation)
        moves = []
        per_line: dict[int, Decimal] = defaultdict(Decimal)
        for (line_id, location_id, lot_id), allocations in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
            qty = sum((a.qty for a in allocations), Decimal(0))
            serials = tuple(serial_codes[a.serial_id] for a in allocations if a.serial_id)
            moves.append(StockMove(skus[allocations[0].product_id], qty, codes[location_id], customer_loc.code,
                                   lots.get(lot_id) if lot_id else None, None, serials,
                                   reference=f"{order.number}/{lines[line_id].line_no}"))
            per_line[line_id] += qty
        result = ledger.post(session, actor, "ship", moves, key=posting_key, reason=f"ship {order.number}",
                             reference=order.number)
        if result.already_posted:
            raise _AlreadyPosted(result)
        cost = sum((q * c for q, c in session.execute(
            select(Movement.qty, Movement.unit_cost).where(Movement.id.in_(result.movement_ids)))), Decimal(0))
        value = sum((qty * lines[line_id].unit_price for line_id, qty in per_line.items()), Decimal(0))
        for line_id, qty in per_line.items():
            session.execute(update(_lines).where(_lines.c.id == line_id).values(
                qty_picked=_lines.c.qty_picked - _qty("qty"), qty_shipped=_lines.c.qty_shipped + _qty("qty")), {"qty": qty})
        order.hold_reason = ""
        refresh_status(session, order)
        shipment = Shipment(number="pending", order_id=order.id, sscc="pending", posting_id=result.posting_id,
                            cost=cost.quantize(Decimal("0.0001")), value=value, created_by=actor.username)
        session.add(shipment)
        session.flush()
        shipment.number = f"{SHIPMENT_PREFIX}{shipment.id:06d}"
        shipment.sscc = make_sscc(_company_prefix(session), shipment.id)
        shipped = sum(per_line.values(), Decimal(0))
        audit.record(session, actor, "so.ship", order.number,
                     f"{shipment.number} SSCC {shipment.sscc}: {qty_text(shipped)} units, cost {money_text(cost)}; {order.status}")
        changes.emit(session, "sales_orders", order.number)
        session.flush()
        view = view_so(session, order.id)
        docs = _documents(session, shipment, view, per_line, lines)
        return ShipResult(view, shipment.number, shipment.sscc, shipped, cost, value, result.posting_id, posting_key, docs)

    try:
        return store.transact(work)
    except _AlreadyPosted as done:
        with store.read() as session:
            order = load_so(session, number)
            shipment = session.execute(select(Shipment.number, Shipment.sscc)
                                       .where(Shipment.posting_id == done.result.posting_id)).first()
            view = view_so(session, order.id)
        return ShipResult(view, shipment.number if shipment else "", shipment.sscc if shipment else "", Decimal(0),
                          Decimal(0), Decimal(0), done.result.posting_id, posting_key, ShipmentDocs("", ""),
                          already_posted=True)


def _documents(session: Session, shipment: Shipment, order: SalesOrderView, per_line: dict[int, Decimal],
               lines: dict[int, SalesOrderLine]) -> ShipmentDocs:
    customer = session.scalars(select(Customer).where(Customer.code == order.customer_code)).one()
    slip = [f"Packing slip {shipment.number}  order {order.number}",
            f"Customer: {customer.name} ({customer.code})",
            f"SSCC: (00) {shipment.sscc}",
            f"{'#':>3} {'SKU':<16} {'qty':>8}  description"]
    for line_id, qty in sorted(per_line.items(), key=lambda kv: lines[kv[0]].line_no):
        line = lines[line_id]
        slip.append(f"{line.line_no:>3} {line.product.sku:<16} {qty_text(qty):>8}  {line.product.name[:40]}")
    backorder = [line for line in order.lines if line.open_qty > 0]
    if backorder:
        slip.append("Still to follow:")
        slip += [f"{line.line_no:>3} {line.sku:<16} {qty_text(line.open_qty):>8}" for line in backorder]
    slip.append(f"Total units: {qty_text(sum(per_line.values(), Decimal(0)))}")
    ship_to = [customer.name] + [part.strip() for part in (customer.address or "").splitlines() if part.strip()]
    zpl = text_pages_zpl(f"Packing slip {shipment.number}", slip[1:]) + sscc_label_zpl(
        shipment.sscc, ship_to=ship_to, ship_from="ims-tui warehouse", order=order.number)
    return ShipmentDocs("\n".join(slip), zpl)


def shipment_documents(store: Store, actor: Actor, shipment_number: str) -> ShipmentDocs:
    """The packing slip and shipping label of a past shipment (for a reprint)."""
    check(store, actor, Permission.LOOKUP, shipment_number)
    with store.read() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.number == shipment_number.strip().upper())).one_or_none()
        if shipment is None:
            raise NotFound(f"unknown shipment {shipment_number.strip()!r}")
        order = session.get(SalesOrder, shipment.order_id)
        lines = {line.id: line for line in order.lines}
        by_ref = {f"{order.number}/{line.line_no}": line.id for line in order.lines}
        per_line: dict[int, Decimal] = defaultdict(Decimal)
        for reference, qty in session.execute(
            select(Movement.reference, Movement.qty).where(Movement.posting_id == shipment.posting_id)
        ):
            if reference in by_ref:
                per_line[by_ref[reference]] += qty
        return _documents(session, shipment, view_so(session, order.id), per_line, lines)


def print_documents(
    store: Store, actor: Actor, zpl: str, *, what: str, printer: str | None = None, output: Path | TextIO | None = None,
    timeout: float = 5.0,
) -> str:
    """Send a ZPL document (pick list, packing slip and label) to a printer or a file; audited."""
    from ims_tui.devices.labels import LabelError, send_zpl
    from ims_tui.services.labels import PrinterError, parse_printer

    if (printer is None) == (output is None):
        raise BadInput("print to a printer or to a file: exactly one of the two")
    check(store, actor, Permission.PRINT_LABELS, what)
    payload = zpl.encode("utf-8")
    try:
        if printer is not None:
            address = parse_printer(printer)
            destination = f"printer {address}"
            try:
                send_zpl(address.host, payload, port=address.port, timeout=timeout)
            except LabelError as exc:
                raise PrinterError(str(exc)) from None
        elif isinstance(output, Path):
            destination = f"file {output}"
            if not output.parent.is_dir():
                raise BadInput(f"cannot write {output}: no such directory {output.parent}")
            output.write_bytes(payload)
        else:
            destination = "stdout"
            output.write(zpl)
            output.flush()
    except ImsError as exc:
        with store.write() as session:
            audit.record(session, actor, "document.print", what, f"not printed: {exc}", outcome="failed")
        raise
    with store.write() as session:
        audit.record(session, actor, "document.print", what, f"{len(payload)} bytes to {destination}")
    return destination


def pick_list_zpl(view: PickListView) -> str:
    return text_pages_zpl(f"Pick list {view.number}", view.render_lines()[1:])


# --- customer returns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnResult:
    order: SalesOrderView
    sku: str
    qty: Decimal
    location: str
    unit_cost: Decimal
    posting_id: int
    key: str
    already_posted: bool

    def to_dict(self) -> dict:
        return {"order": self.order.number, "sku": self.sku, "qty": self.qty, "location": self.location,
                "unit_cost": self.unit_cost, "posting_id": self.posting_id, "key": self.key,
                "already_posted": self.already_posted}

    def describe(self) -> str:
        if self.already_posted:
            return f"already posted (key {self.key}): nothing changed"
        return (f"returned {qty_text(self.qty)} {self.sku} of {self.order.number} into {self.location} "
                f"at {money_text(self.unit_cost)} each (posting {self.posting_id})")


def return_from_customer(
    store: Store, actor: Actor, number: str, code: str, qty: Decimal, *, to: str, reason: str,
    lot: str | None = None, serials: Sequence[str] = (), key: str | None = None,
) -> ReturnResult:
    """Goods of a shipped order come back into ``to`` (stock or quarantine) at the cost they left at."""
    check(store, actor, Permission.MANAGE_ORDERS, number)
    reason = clean_text("reason", reason, 150) or ""
    if not reason:
        raise BadInput("a return needs a reason (--reason)")
    qty = parse_quantity(qty, positive=True)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> ReturnResult:
        _posted_before(session, posting_key)
        order = load_so(session, number, lock=True)
        match = find_product(session, code)
        if match is None:
            raise NotFound(f"unknown product {code!r}")
        product = match.product
        line = next((ln for ln in order.lines if ln.product_id == product.id), None)
        if line is None:
            raise RuleViolation(f"{product.sku} is not on {order.number}")
        returnable = line.qty_shipped - line.qty_returned
        if qty > returnable:
            raise RuleViolation(f"{order.number} shipped {qty_text(line.qty_shipped)} {product.sku}, "
                                f"{qty_text(line.qty_returned)} returned already: at most {qty_text(returnable)} can come back")
        destination = find_location(session, to)
        if destination is None:
            raise NotFound(f"unknown location {to!r}")
        customer_loc = _customer_location(session)
        reference = f"{order.number}/{line.line_no}"
        shipped = session.execute(select(Movement.qty, Movement.unit_cost).where(
            Movement.reference == reference, Movement.to_location_id == customer_loc.id, Movement.product_id == product.id)).all()
        total = sum((q for q, _ in shipped), Decimal(0))
        unit_cost = (sum((q * c for q, c in shipped), Decimal(0)) / total).quantize(Decimal("0.0001")) if total else None
        result = ledger.post(
            session, actor, "return",
            [StockMove(product.sku, qty, customer_loc.code, destination.code, lot, None, tuple(serials), unit_cost,
                       reference=reference)],
            key=posting_key, reason=f"customer return: {reason}", reference=order.number,
        )
        if result.already_posted:
            raise _AlreadyPosted(result)
        session.execute(update(_lines).where(_lines.c.id == line.id).values(qty_returned=_lines.c.qty_returned + _qty("qty")),
                        {"qty": qty})
        audit.record(session, actor, "so.return", order.number,
                     f"{qty_text(qty)} {product.sku} -> {destination.code}: {reason}", product_id=product.id)
        changes.emit(session, "sales_orders", order.number)
        session.flush()
        cost = session.scalar(select(Movement.unit_cost).where(Movement.id == result.movement_ids[0]))
        return ReturnResult(view_so(session, order.id), product.sku, qty, destination.code, cost, result.posting_id, posting_key, False)

    try:
        return store.transact(work)
    except _AlreadyPosted as done:
        with store.read() as session:
            view = view_so(session, load_so(session, number).id)
        return ReturnResult(view, code, qty, to, Decimal(0), done.result.posting_id, posting_key, True)


# --- the picking station's draft --------------------------------------------------------------

DRAFT_KIND = "pick"
drafts.register_kind(DRAFT_KIND, Permission.PICK, "pick")


def open_pick_draft(store: Store, actor: Actor, number: str) -> drafts.Draft:
    """The picker's draft for an open pick list: their own one when there is one, else a new one."""
    check(store, actor, Permission.PICK, number)

    def work(session: Session) -> drafts.Draft:
        pick = _load_pick(session, number)
        if pick.status != "open":
            raise RuleViolation(f"{pick.number} is {pick.status}: nothing left to pick")
        existing = drafts.find_own(session, actor, DRAFT_KIND, pick.number)
        return existing or drafts.create(session, actor, DRAFT_KIND, pick.number, {"pick": pick.number})

    return store.transact(work)


def resume_pick_draft(store: Store, actor: Actor) -> drafts.Draft | None:
    """The picker's most recent pick draft, if any."""
    return drafts.resume(store, actor, DRAFT_KIND)


def close_pick_draft(store: Store, actor: Actor, draft_id: int) -> None:
    """The picker's list is done (every line picked or short, all posted): its draft goes."""
    check(store, actor, Permission.PICK, f"draft {draft_id}")

    def work(session: Session) -> None:
        owner = session.scalar(select(TaskDraft.username).where(TaskDraft.id == draft_id, TaskDraft.kind == DRAFT_KIND))
        if owner is not None and owner != actor.username:
            raise RuleViolation(f"pick draft {draft_id} is {owner}'s")
        drafts.close(session, DRAFT_KIND, draft_id)

    store.transact(work)


def check_pick_lot(store: Store, actor: Actor, number: str, line_no: int, lot: str | None) -> str | None:
    """Refuse (RuleViolation) a scanned lot the line may not take; returns the lot taken instead of
    the allocated one (an equally good lot in the same bin), or None when it is the allocated one."""
    check(store, actor, Permission.PICK, f"{number} line {line_no}")
    with store.read() as session:
        pick = _load_pick(session, number)
        line = session.scalars(select(PickLine).where(PickLine.pick_id == pick.id, PickLine.line_no == line_no)).one_or_none()
        if line is None:
            raise NotFound(f"{pick.number} has no line {line_no}")
        product = session.get(Product, line.product_id)
        taken = _lot_to_take(session, product, line, lot, 0)
        if taken is not None and taken.id != line.lot_id:
            free = session.scalar(select(Balance.on_hand - Balance.reserved).where(
                Balance.lot_id == taken.id, Balance.location_id == line.location_id))
            if not free or free <= 0:
                raise RuleViolation(f"lot {taken.code} is not in {session.get(Location, line.location_id).code}")
            return taken.code
        return None
