"""Customers and sales orders: create, edit, confirm (reserve), cancel, close, list and show.

An order moves draft -> confirmed (stock reserved, or waiting) -> picking (on a pick list) ->
shipped, or partial (shipped in part; the rest is a backorder that keeps waiting for stock) ->
closed; or cancelled.  Its policy says what a shortage does: ``as-available`` ships what is
picked and backorders the rest, ``complete`` holds the order until every line can ship.
Reservation rules live in :mod:`ims_tui.services.reservations`; picking, shipping and returns
in :mod:`ims_tui.services.picking`.  Both the screens and the CLI call these functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    SO_POLICIES,
    SO_STATUSES,
    Allocation,
    Customer,
    Location,
    Lot,
    PickLine,
    Product,
    SalesOrder,
    SalesOrderLine,
)
from ims_tui.services import alerts, audit, changes, reservations
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_product
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.permissions import Permission, check
from ims_tui.services.orders import filter_orders, load_order, normalise_number
from ims_tui.services.purchasing import money_text, qty_text
from ims_tui.values import parse_money, parse_quantity

SO_PREFIX = "SO-"
EDITABLE_STATUSES = ("draft", "confirmed", "picking", "partial")
OPEN_STATUSES = reservations.OPEN_STATUSES
WHOLE_UNITS = ("ea", "pcs", "unit")

__all__ = ["SO_POLICIES", "SO_STATUSES"]


def clean_text(what: str, value: str | None, limit: int) -> str | None:
    """``value`` stripped; refused when it holds control characters or is longer than ``limit``."""
    if value is None:
        return None
    value = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadInput(f"{what} cannot contain control characters")
    if len(value) > limit:
        raise BadInput(f"{what} is longer than {limit} characters")
    return value


# --- customers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerView:
    code: str
    name: str
    email: str | None
    phone: str | None
    min_shelf_days: int
    active: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _customer_view(customer: Customer) -> CustomerView:
    return CustomerView(customer.code, customer.name, customer.email, customer.phone, customer.min_shelf_days or 0,
                        customer.active)


def code_from_name(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())[:12]


def add_customer(
    store: Store, actor: Actor, name: str, *, code: str | None = None, email: str | None = None,
    phone: str | None = None, min_shelf_days: int = 0,
) -> CustomerView:
    """A new customer; without a code, one is made from the name."""
    check(store, actor, Permission.MANAGE_ORDERS, name)
    name = clean_text("name", name, 200) or ""
    if not name:
        raise BadInput("a customer needs a name")
    code = (clean_text("code", code, 40) or code_from_name(name)).upper()
    if not code:
        raise BadInput("give a code: none can be made from this name")
    email = clean_text("email", email, 200) or None
    phone = clean_text("phone", phone, 60) or None
    if min_shelf_days is None or int(min_shelf_days) < 0:
        raise BadInput(f"minimum shelf life cannot be negative ({min_shelf_days})")

    def work(session: Session) -> CustomerView:
        if session.scalar(select(Customer.id).where(func.lower(Customer.name) == name.lower())) is not None:
            raise RuleViolation(f"customer {name} exists already")
        if session.scalar(select(Customer.id).where(Customer.code == code)) is not None:
            raise RuleViolation(f"customer code {code} is taken: give another with --code")
        customer = Customer(code=code, name=name, email=email, phone=phone, min_shelf_days=int(min_shelf_days), active=True)
        session.add(customer)
        session.flush()
        audit.record(session, actor, "customer.add", code, f"{name}; min shelf life {min_shelf_days} days")
        return _customer_view(customer)

    return store.transact(work)


def list_customers(store: Store, actor: Actor, *, limit: int = 500) -> list[CustomerView]:
    check(store, actor, Permission.LOOKUP, "customers")
    with store.read() as session:
        return [_customer_view(c) for c in session.scalars(select(Customer).order_by(Customer.name).limit(limit))]


def find_customer(session: Session, text: str) -> Customer:
    text = text.strip()
    if not text:
        raise BadInput("a sales order needs a customer")
    customer = session.scalars(select(Customer).where((Customer.name == text) | (Customer.code == text.upper()))).first() \
        or session.scalars(select(Customer).where(func.lower(Customer.name) == text.lower())).first()
    if customer is None:
        raise NotFound(f"unknown customer {text!r}")
    if not customer.active:
        raise RuleViolation(f"customer {customer.name} is inactive")
    return customer


# --- views -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationView:
    line_no: int
    location: str
    lot: str | None
    expiry: dt.date | None
    stage: str
    qty: Decimal

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SOLineView:
    line_no: int
    sku: str
    product_name: str
    tracking: str
    qty_ordered: Decimal
    qty_waiting: Decimal
    qty_reserved: Decimal
    qty_picked: Decimal
    qty_shipped: Decimal
    qty_returned: Decimal
    unit_price: Decimal
    requested_date: dt.date | None

    @property
    def open_qty(self) -> Decimal:
        return self.qty_waiting + self.qty_reserved + self.qty_picked

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SalesOrderView:
    number: str
    customer: str
    customer_code: str
    min_shelf_days: int
    status: str
    policy: str
    hold_reason: str
    due_date: dt.date | None
    note: str
    created_by: str
    lines: tuple[SOLineView, ...]
    allocations: tuple[AllocationView, ...] = field(default=())

    @property
    def value(self) -> Decimal:
        return sum((line.qty_ordered * line.unit_price for line in self.lines), Decimal(0))

    @property
    def waiting(self) -> Decimal:
        return sum((line.qty_waiting for line in self.lines), Decimal(0))

    @property
    def backorder(self) -> Decimal:
        """What is still owed on an order that shipped in part."""
        return sum((line.open_qty for line in self.lines), Decimal(0)) if self.status == "partial" else Decimal(0)

    def line(self, line_no: int) -> SOLineView:
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise NotFound(f"{self.number} has no line {line_no}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lines"] = [line.to_dict() for line in self.lines]
        data["allocations"] = [a.to_dict() for a in self.allocations]
        data |= {"value": self.value, "waiting": self.waiting, "backorder": self.backorder}
        return data

    def render(self) -> str:
        due = self.due_date.isoformat() if self.due_date else "-"
        out = [
            f"{self.number}  {self.customer}  [{self.status}]  policy {self.policy}",
            f"due {due}, created by {self.created_by}, value {money_text(self.value)}"
            + (f", min shelf life {self.min_shelf_days} days" if self.min_shelf_days else ""),
        ]
        if self.hold_reason:
            out.append(f"held: {self.hold_reason}")
        if self.note:
            out.append(f"note: {self.note}")
        out.append(f"{'#':>3} {'SKU':<14} {'ordered':>7} {'waiting':>7} {'reserved':>8} {'picked':>6} {'shipped':>7} {'price':>9}  name")
        for line in self.lines:
            out.append(
                f"{line.line_no:>3} {line.sku:<14} {qty_text(line.qty_ordered):>7} {qty_text(line.qty_waiting):>7} "
                f"{qty_text(line.qty_reserved):>8} {qty_text(line.qty_picked):>6} {qty_text(line.qty_shipped):>7} "
                f"{money_text(line.unit_price):>9}  {line.product_name}"
            )
        if not self.lines:
            out.append("  no lines")
        for a in self.allocations:
            lot = f" lot {a.lot}" + (f" exp {a.expiry.isoformat()}" if a.expiry else "") if a.lot else ""
            out.append(f"    line {a.line_no}: {qty_text(a.qty)} {a.stage} at {a.location}{lot}")
        return "\n".join(out)


@dataclass(frozen=True)
class SOSummary:
    number: str
    customer: str
    status: str
    policy: str
    due_date: dt.date | None
    lines: int
    qty_ordered: Decimal
    qty_shipped: Decimal
    qty_waiting: Decimal
    held: bool

    def to_dict(self) -> dict:
        return asdict(self)


def load_so(session: Session, number: str, *, lock: bool = False) -> SalesOrder:
    return load_order(session, SalesOrder, number, "sales order", lock=lock)


def view_so(session: Session, order_id: int) -> SalesOrderView:
    order = session.scalars(
        select(SalesOrder)
        .where(SalesOrder.id == order_id)
        .options(selectinload(SalesOrder.customer), selectinload(SalesOrder.lines).selectinload(SalesOrderLine.product))
        .execution_options(populate_existing=True)
    ).one()
    line_no = {line.id: line.line_no for line in order.lines}
    allocations = session.execute(
        select(Allocation.line_id, Location.code, Lot.code, Lot.expiry, Allocation.stage, func.sum(Allocation.qty))
        .join(Location, Location.id == Allocation.location_id)
        .outerjoin(Lot, Lot.id == Allocation.lot_id)
        .where(Allocation.order_id == order_id, Allocation.qty > 0)
        .group_by(Allocation.line_id, Location.code, Lot.code, Lot.expiry, Allocation.stage)
        .order_by(Allocation.line_id, Location.code)
    ).all()
    return SalesOrderView(
        number=order.number, customer=order.customer.name, customer_code=order.customer.code,
        min_shelf_days=order.customer.min_shelf_days or 0, status=order.status, policy=order.policy,
        hold_reason=order.hold_reason or "", due_date=order.due_date, note=order.note or "", created_by=order.created_by,
        lines=tuple(
            SOLineView(line.line_no, line.product.sku, line.product.name, line.product.tracking, line.qty_ordered,
                       line.qty_waiting, line.qty_reserved, line.qty_picked, line.qty_shipped, line.qty_returned,
                       line.unit_price, line.requested_date)
            for line in order.lines
        ),
        allocations=tuple(AllocationView(line_no[lid], loc, lot, expiry, stage, qty)
                          for lid, loc, lot, expiry, stage, qty in allocations),
    )


def get_so(store: Store, actor: Actor, number: str) -> SalesOrderView:
    check(store, actor, Permission.LOOKUP, number)
    with store.read() as session:
        return view_so(session, load_so(session, number).id)


def list_sos(
    store: Store, actor: Actor, *, status: str | None = None, open_only: bool = False, search: str = "",
    limit: int = 50, offset: int = 0,
) -> list[SOSummary]:
    """One page of sales orders, newest first; ``open_only`` keeps draft to partial."""
    check(store, actor, Permission.LOOKUP, "sales orders")
    totals = (
        select(SalesOrderLine.order_id, func.count().label("lines"), func.sum(SalesOrderLine.qty_ordered).label("ordered"),
               func.sum(SalesOrderLine.qty_shipped).label("shipped"), func.sum(SalesOrderLine.qty_waiting).label("waiting"))
        .group_by(SalesOrderLine.order_id)
        .subquery()
    )
    query = (
        select(SalesOrder.number, Customer.name, SalesOrder.status, SalesOrder.policy, SalesOrder.due_date,
               totals.c.lines, totals.c.ordered, totals.c.shipped, totals.c.waiting, SalesOrder.hold_reason)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .outerjoin(totals, totals.c.order_id == SalesOrder.id)
        .order_by(SalesOrder.id.desc())
        .limit(limit)
        .offset(offset)
    )
    query = filter_orders(query, SalesOrder, Customer.name, status=status, open_only=open_only,
                          open_statuses=EDITABLE_STATUSES, search=search)
    with store.read() as session:
        return [
            SOSummary(number, customer, state, policy, due, lines or 0, ordered or Decimal(0), shipped or Decimal(0),
                      waiting or Decimal(0), bool(hold))
            for number, customer, state, policy, due, lines, ordered, shipped, waiting, hold in session.execute(query)
        ]


# --- creating and editing --------------------------------------------------------------------


@dataclass(frozen=True)
class SOLineInput:
    """A line as a person gives it: any product code, a quantity, optionally a price and date."""

    code: str
    qty: Decimal
    unit_price: Decimal | None = None
    requested_date: dt.date | None = None

    @classmethod
    def parse(cls, text: str) -> SOLineInput:
        """``CODE:QTY[:PRICE]`` as on the command line (the PO line's grammar, with a price)."""
        parts = text.rsplit(":", 2) if text.count(":") >= 2 else text.rsplit(":", 1)
        if len(parts) < 2 or not parts[0].strip():
            raise BadInput(f"a line is CODE:QTY[:PRICE], not {text!r}")
        return cls(parts[0].strip(), parse_quantity(parts[1]), parse_money(parts[2], what="price") if len(parts) == 3 else None)


def _check_policy(policy: str) -> str:
    policy = policy.strip().lower().replace("_", "-")
    if policy not in SO_POLICIES:
        raise BadInput(f"policy must be one of {', '.join(SO_POLICIES)}, not {policy!r}")
    return policy


def _add_line(session: Session, order: SalesOrder, line: SOLineInput) -> tuple[SalesOrderLine, Decimal]:
    """Add ``line`` (the same product again adds to its line); returns the line and the added qty."""
    match = find_product(session, line.code)
    if match is None:
        raise NotFound(f"unknown product {line.code!r}")
    product = match.product
    if not product.active:
        raise RuleViolation(f"product {product.sku} is inactive")
    qty = parse_quantity(line.qty) * match.pack_qty
    if qty <= 0:
        raise BadInput(f"quantity must be more than zero, not {qty_text(qty)}")
    if qty != qty.to_integral_value() and (product.uom in WHOLE_UNITS or product.tracking == "serial"):
        raise BadInput(f"{product.sku} is sold in whole {product.uom}, not {qty_text(qty)}")
    price = None if line.unit_price is None else parse_money(line.unit_price, what="price")
    if price is not None and price < 0:
        raise BadInput(f"price cannot be negative ({line.unit_price})")
    existing = next((ln for ln in order.lines if ln.product_id == product.id), None)
    if existing is not None:
        existing.qty_ordered += qty
        if price is not None:
            existing.unit_price = price
        if line.requested_date is not None:
            existing.requested_date = line.requested_date
        return existing, qty
    new = SalesOrderLine(
        line_no=max((ln.line_no for ln in order.lines), default=0) + 1, product=product, qty_ordered=qty,
        qty_reserved=Decimal(0), qty_shipped=Decimal(0), qty_waiting=Decimal(0), qty_picked=Decimal(0),
        qty_returned=Decimal(0), unit_price=price if price is not None else product.unit_price,
        requested_date=line.requested_date or order.due_date,
    )
    order.lines.append(new)
    return new, qty


def _new_number(session: Session, attempt: int) -> str:
    last = session.scalar(select(func.max(SalesOrder.id))) or 0
    return f"{SO_PREFIX}{last + 1 + attempt:06d}"


def create_so(
    store: Store, actor: Actor, customer: str, lines: Sequence[SOLineInput] = (), *, policy: str = "as-available",
    due_date: dt.date | None = None, note: str = "",
) -> SalesOrderView:
    """A new draft order for ``customer``."""
    check(store, actor, Permission.MANAGE_ORDERS, customer)
    policy = _check_policy(policy)
    note = clean_text("note", note, 2000) or ""

    def work(session: Session) -> SalesOrderView:
        buyer = find_customer(session, customer)
        for attempt in range(10):
            order = SalesOrder(number=_new_number(session, attempt), customer=buyer, status="draft", policy=policy,
                               due_date=due_date, note=note, created_by=actor.username, hold_reason="")
            try:
                with session.begin_nested():
                    session.add(order)
                    session.flush()
                break
            except IntegrityError:  # another manager took that number a moment ago
                session.expunge(order)
                continue
        else:
            raise RuleViolation("could not allocate an order number; try again")
        for line in lines:
            _add_line(session, order, line)
        session.flush()
        audit.record(session, actor, "so.create", order.number,
                     f"{buyer.name}; {policy}; " + "; ".join(f"{qty_text(ln.qty_ordered)} {ln.product.sku}" for ln in order.lines))
        changes.emit(session, "sales_orders", order.number)
        return view_so(session, order.id)

    return store.transact(work)


def add_so_line(store: Store, actor: Actor, number: str, line: SOLineInput) -> SalesOrderView:
    """Add a product to an open order (again: adds to its line); a confirmed order reserves it at once."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> SalesOrderView:
        order = load_so(session, number, lock=True)
        if order.status not in EDITABLE_STATUSES:
            raise RuleViolation(f"{order.number} is {order.status}: it can no longer be changed")
        added, qty = _add_line(session, order, line)
        session.flush()
        summary = f"line {added.line_no}: {added.product.sku} +{qty_text(qty)} = {qty_text(added.qty_ordered)}"
        if order.status != "draft":
            session.execute(update(SalesOrderLine.__table__).where(SalesOrderLine.__table__.c.id == added.id)
                            .values(qty_waiting=SalesOrderLine.__table__.c.qty_waiting + reservations._qty("qty")),
                            {"qty": qty})
            held = reservations.allocate_line(session, order_id=order.id, line_id=added.id, product_id=added.product_id,
                                              qty=qty, min_shelf_days=order.customer.min_shelf_days or 0)
            summary += f"; reserved {qty_text(sum((h.qty for h in held), Decimal(0)))}"
            alerts.refresh(session, [added.product_id])
        audit.record(session, actor, "so.line", order.number, summary, product_id=added.product_id)
        changes.emit(session, "sales_orders", order.number)
        return view_so(session, order.id)

    return store.transact(work)


# --- confirming, cancelling, closing ------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmResult:
    order: SalesOrderView

    @property
    def reserved(self) -> Decimal:
        return sum((line.qty_reserved for line in self.order.lines), Decimal(0))

    @property
    def waiting(self) -> Decimal:
        return self.order.waiting

    def to_dict(self) -> dict:
        return self.order.to_dict() | {"reserved": self.reserved}

    def describe(self) -> str:
        out = [f"{self.order.number} confirmed: {qty_text(self.reserved)} reserved, {qty_text(self.waiting)} waiting for stock"]
        for a in self.order.allocations:
            lot = f" lot {a.lot}" + (f" (exp {a.expiry.isoformat()})" if a.expiry else "") if a.lot else ""
            sku = self.order.line(a.line_no).sku
            out.append(f"  line {a.line_no} {sku}: {qty_text(a.qty)} at {a.location}{lot}")
        for line in self.order.lines:
            if line.qty_waiting:
                out.append(f"  line {line.line_no} {line.sku}: {qty_text(line.qty_waiting)} waits")
        return "\n".join(out)


_ORDER_TO_CONFIRM = (
    select(SalesOrder.id, SalesOrder.number, SalesOrder.status, SalesOrder.policy, SalesOrder.hold_reason,
           SalesOrder.due_date, SalesOrder.note, SalesOrder.created_by, Customer.name, Customer.code, Customer.min_shelf_days)
    .join(Customer, Customer.id == SalesOrder.customer_id)
    .where(SalesOrder.number == bindparam("number"))
    .with_for_update(of=SalesOrder)
)
_LINES_TO_CONFIRM = (
    select(SalesOrderLine.id, SalesOrderLine.line_no, SalesOrderLine.product_id, SalesOrderLine.qty_ordered,
           SalesOrderLine.unit_price, SalesOrderLine.requested_date, Product.sku, Product.name, Product.tracking)
    .join(Product, Product.id == SalesOrderLine.product_id)
    .where(SalesOrderLine.order_id == bindparam("order"))
    .order_by(SalesOrderLine.line_no)
)
_SET_CONFIRMED = (
    update(SalesOrder.__table__).where(SalesOrder.__table__.c.id == bindparam("b_id"))
    .values(status="confirmed", confirmed_at=bindparam("b_at"))
)
_SET_LINE_HELD = (
    update(SalesOrderLine.__table__).where(SalesOrderLine.__table__.c.id == bindparam("b_id"))
    .values(qty_waiting=bindparam("b_waiting", type_=SalesOrderLine.__table__.c.qty_waiting.type),
            qty_reserved=bindparam("b_reserved", type_=SalesOrderLine.__table__.c.qty_reserved.type))
)
"""Confirming is the hot path of reservations: its statements are built once, and it reads
and writes plain rows (no ORM objects to track)."""


def confirm_so(store: Store, actor: Actor, number: str) -> ConfirmResult:
    """Draft -> confirmed: reserve every line (FEFO/FIFO); what cannot be held waits for stock.

    The order's row lock is held from the start, and a draft's lines are seen by nobody else
    (waiting lines are served only on open orders), so the lines are set once, at the end.
    """
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> ConfirmResult:
        order = session.execute(_ORDER_TO_CONFIRM, {"number": normalise_number(number)}).one_or_none()
        if order is None:
            raise NotFound(f"unknown sales order {number.strip()!r}")
        if order.status != "draft":
            raise RuleViolation(f"{order.number} is {order.status}, not a draft")
        lines = session.execute(_LINES_TO_CONFIRM, {"order": order.id}).all()
        if not lines:
            raise RuleViolation(f"{order.number} has no lines to confirm")
        min_shelf = order.min_shelf_days or 0
        held: dict[int, list[reservations.Held]] = {}
        for line in sorted(lines, key=lambda ln: (ln.product_id, ln.line_no)):  # a fixed lock order
            pool = reservations.candidates(session, line.product_id, min_shelf_days=min_shelf)
            held[line.id] = reservations.hold(session, order_id=order.id, line_id=line.id, product_id=line.product_id,
                                              qty=line.qty_ordered, pool=pool)
        reserved = {line.id: sum((h.qty for h in held[line.id]), Decimal(0)) for line in lines}
        session.execute(_SET_LINE_HELD, [{"b_id": line.id, "b_waiting": line.qty_ordered - reserved[line.id],
                                          "b_reserved": reserved[line.id]} for line in lines])
        session.execute(_SET_CONFIRMED, {"b_id": order.id, "b_at": dt.datetime.now(dt.timezone.utc)})
        view = SalesOrderView(
            number=order.number, customer=order.name, customer_code=order.code, min_shelf_days=min_shelf,
            status="confirmed", policy=order.policy, hold_reason=order.hold_reason or "", due_date=order.due_date,
            note=order.note or "", created_by=order.created_by,
            lines=tuple(SOLineView(ln.line_no, ln.sku, ln.name, ln.tracking, ln.qty_ordered, ln.qty_ordered - reserved[ln.id],
                                   reserved[ln.id], Decimal(0), Decimal(0), Decimal(0), ln.unit_price, ln.requested_date)
                        for ln in lines),
            allocations=tuple(AllocationView(ln.line_no, h.candidate.location_code, h.candidate.lot_code, h.candidate.expiry,
                                             "reserved", h.qty) for ln in lines for h in held[ln.id]),
        )
        result = ConfirmResult(view)
        alerts.refresh(session, {line.product_id for line in lines})  # reserved or backordered now
        audit.record(session, actor, "so.confirm", order.number,
                     f"reserved {qty_text(result.reserved)}, waiting {qty_text(result.waiting)}")
        changes.emit(session, "sales_orders", order.number)
        return result

    return store.transact(work)


def _release_everything(session: Session, order: SalesOrder, status: str) -> Decimal:
    """Release every open allocation of ``order`` and give it ``status``; its lines hold and wait
    for nothing after, and lines of other orders waiting for the same products take what it let go."""
    released = Decimal(0)
    products = set()
    for row in reservations.open_allocations(session, order_id=order.id):
        released += reservations.release(session, row.id)
        products.add(row.product_id)
    table = SalesOrderLine.__table__
    session.execute(update(table).where(table.c.order_id == order.id).values(qty_waiting=0, qty_reserved=0, qty_picked=0))
    pick_lines = PickLine.__table__
    session.execute(update(pick_lines).where(pick_lines.c.order_id == order.id, pick_lines.c.status == "open")
                    .values(status="released"))
    order.status = status
    order.hold_reason = ""
    session.flush()
    reservations.allocate_waiting(session, products)
    alerts.refresh(session, {line.product_id for line in order.lines})  # neither reserved nor backordered now
    return released


def cancel_so(store: Store, actor: Actor, number: str, reason: str = "") -> SalesOrderView:
    """Cancel an order and release exactly what it held (picked goods stay, free, in packing).

    An order that shipped in part is closed instead: its backorder is cancelled.
    """
    check(store, actor, Permission.MANAGE_ORDERS, number)
    reason = clean_text("reason", reason, 200) or ""

    def work(session: Session) -> SalesOrderView:
        order = load_so(session, number, lock=True)
        if order.status not in EDITABLE_STATUSES:
            raise RuleViolation(f"{order.number} is already {order.status}")
        shipped_any = any(line.qty_shipped > 0 for line in order.lines)
        released = _release_everything(session, order, "closed" if shipped_any else "cancelled")
        audit.record(session, actor, "so.cancel", order.number,
                     f"{order.status}; released {qty_text(released)}" + (f"; {reason}" if reason else ""))
        changes.emit(session, "sales_orders", order.number)
        session.flush()
        return view_so(session, order.id)

    return store.transact(work)


def close_so(store: Store, actor: Actor, number: str) -> SalesOrderView:
    """Shipped or partially shipped -> closed (a partial order's backorder is released)."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> SalesOrderView:
        order = load_so(session, number, lock=True)
        if order.status not in ("shipped", "partial"):
            raise RuleViolation(f"{order.number} is {order.status}: only a shipped order is closed (cancel the others)")
        released = _release_everything(session, order, "closed")
        audit.record(session, actor, "so.close", order.number, f"released {qty_text(released)}")
        changes.emit(session, "sales_orders", order.number)
        session.flush()
        return view_so(session, order.id)

    return store.transact(work)


def refresh_status(session: Session, order: SalesOrder) -> None:
    """partial/shipped from the lines once something shipped; the caller's status otherwise."""
    for line in order.lines:
        session.refresh(line)
    if any(line.qty_shipped > 0 for line in order.lines):
        if all(line.qty_shipped >= line.qty_ordered for line in order.lines):
            order.status = "shipped"
        else:
            order.status = "partial"


def line_open(line: SalesOrderLine) -> Decimal:
    return line.qty_waiting + line.qty_reserved + line.qty_picked


__all__ += [
    "AllocationView", "ConfirmResult", "CustomerView", "SOLineInput", "SOLineView", "SOSummary", "SalesOrderView",
    "add_customer", "add_so_line", "cancel_so", "close_so", "confirm_so", "create_so", "find_customer", "get_so",
    "list_customers", "list_sos", "load_so", "view_so", "Product",
]
