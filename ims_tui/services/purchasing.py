"""Purchase orders: create, edit, order, cancel, list and show.

A PO moves draft -> ordered -> partial -> received, or to cancelled.  Receiving against a PO
lives in :mod:`ims_tui.services.receiving`; this module owns the order itself and the plain
read models (:class:`PurchaseOrderView`) the screens and the CLI render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ims_tui.db.engine import Store
from ims_tui.db.models import PO_STATUSES  # noqa: F401 - re-exported: the statuses the CLI offers
from ims_tui.db.models import Product, PurchaseOrder, PurchaseOrderLine, Supplier, SupplierItem
from ims_tui.services import alerts, audit
from ims_tui.services.actor import Actor
from ims_tui.services.changes import emit
from ims_tui.services.catalogue import find_product
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.orders import filter_orders, load_order
from ims_tui.services.permissions import Permission, check
from ims_tui.values import format_money, format_quantity, parse_po_line, parse_quantity

EDITABLE_STATUSES = ("draft", "ordered", "partial")
RECEIVABLE_STATUSES = ("ordered", "partial")
PO_PREFIX = "PO-"


qty_text = format_quantity
money_text = format_money


@dataclass(frozen=True)
class POLineView:
    line_no: int
    sku: str
    product_name: str
    tracking: str
    uom: str
    default_location: str | None
    qty_ordered: Decimal
    qty_received: Decimal
    unit_cost: Decimal
    expected_date: dt.date | None

    @property
    def remaining(self) -> Decimal:
        return max(self.qty_ordered - self.qty_received, Decimal(0))

    def to_dict(self) -> dict:
        return asdict(self) | {"remaining": self.remaining}


@dataclass(frozen=True)
class PurchaseOrderView:
    number: str
    supplier: str
    status: str
    expected_date: dt.date | None
    note: str
    created_by: str
    created_at: dt.datetime | None
    ordered_at: dt.datetime | None
    lines: tuple[POLineView, ...]

    @property
    def qty_ordered(self) -> Decimal:
        return sum((line.qty_ordered for line in self.lines), Decimal(0))

    @property
    def qty_received(self) -> Decimal:
        return sum((line.qty_received for line in self.lines), Decimal(0))

    @property
    def backorder(self) -> Decimal:
        """What the supplier still owes: the remaining quantity of an order that is still open."""
        if self.status not in RECEIVABLE_STATUSES:
            return Decimal(0)
        return sum((line.remaining for line in self.lines), Decimal(0))

    @property
    def value(self) -> Decimal:
        return sum((line.qty_ordered * line.unit_cost for line in self.lines), Decimal(0))

    def line_for(self, sku: str) -> POLineView | None:
        """The first line of ``sku`` with something left to receive, else its first line."""
        lines = [line for line in self.lines if line.sku == sku]
        return next((line for line in lines if line.remaining > 0), lines[0] if lines else None)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["lines"] = [line.to_dict() for line in self.lines]
        data |= {"qty_ordered": self.qty_ordered, "qty_received": self.qty_received, "backorder": self.backorder,
                 "value": self.value}
        return data

    def render(self) -> str:
        expected = self.expected_date.isoformat() if self.expected_date else "-"
        out = [
            f"{self.number}  {self.supplier}  [{self.status}]",
            f"expected {expected}, created by {self.created_by}, value {money_text(self.value)}"
            + (f", backorder {qty_text(self.backorder)}" if self.backorder and self.status == "partial" else ""),
        ]
        if self.note:
            out.append(f"note: {self.note}")
        out.append(f"{'#':>3} {'SKU':<16} {'ordered':>9} {'received':>9} {'remaining':>9} {'cost':>9}  name")
        for line in self.lines:
            out.append(
                f"{line.line_no:>3} {line.sku:<16} {qty_text(line.qty_ordered):>9} {qty_text(line.qty_received):>9} "
                f"{qty_text(line.remaining):>9} {money_text(line.unit_cost):>9}  {line.product_name}"
            )
        if not self.lines:
            out.append("  no lines")
        return "\n".join(out)


@dataclass(frozen=True)
class POSummary:
    number: str
    supplier: str
    status: str
    expected_date: dt.date | None
    lines: int
    qty_ordered: Decimal
    qty_received: Decimal

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LineInput:
    """A PO line as a person gives it: any product code, a quantity, optionally a cost."""

    code: str
    qty: Decimal
    unit_cost: Decimal | None = None
    expected_date: dt.date | None = None

    @classmethod
    def parse(cls, text: str, *, qty_required: bool = True) -> LineInput:
        """The one PO-line grammar (:func:`ims_tui.values.parse_po_line`): ``CODE:QTY[:COST]``."""
        line = parse_po_line(text, qty_required=qty_required)
        return cls(line.code, line.qty if line.qty is not None else Decimal(1), line.unit_cost)


def _number(what: str, value: object) -> Decimal:
    return parse_quantity(value, what=what)


def _positive_qty(value: object) -> Decimal:
    return parse_quantity(value, positive=True)


# --- reading ------------------------------------------------------------------------------------


def load_po(session: Session, number: str, *, lock: bool = False) -> PurchaseOrder:
    """The PO by number (case-insensitive); ``lock`` takes its row lock for the transaction."""
    return load_order(session, PurchaseOrder, number, "purchase order", lock=lock)


def view_po(session: Session, order_id: int) -> PurchaseOrderView:
    order = session.scalars(
        select(PurchaseOrder)
        .where(PurchaseOrder.id == order_id)
        .options(
            selectinload(PurchaseOrder.supplier),
            selectinload(PurchaseOrder.lines).selectinload(PurchaseOrderLine.product).selectinload(Product.default_location),
        )
        .execution_options(populate_existing=True)
    ).one()
    return PurchaseOrderView(
        number=order.number,
        supplier=order.supplier.name,
        status=order.status,
        expected_date=order.expected_date,
        note=order.note or "",
        created_by=order.created_by,
        created_at=order.created_at,
        ordered_at=order.ordered_at,
        lines=tuple(
            POLineView(
                line_no=line.line_no,
                sku=line.product.sku,
                product_name=line.product.name,
                tracking=line.product.tracking,
                uom=line.product.uom,
                default_location=line.product.default_location.code if line.product.default_location else None,
                qty_ordered=line.qty_ordered,
                qty_received=line.qty_received,
                unit_cost=line.unit_cost,
                expected_date=line.expected_date,
            )
            for line in order.lines
        ),
    )


def get_po(store: Store, actor: Actor, number: str) -> PurchaseOrderView:
    check(store, actor, Permission.LOOKUP, number)
    with store.read() as session:
        return view_po(session, load_po(session, number).id)


def list_pos(
    store: Store,
    actor: Actor,
    *,
    status: str | None = None,
    open_only: bool = False,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[POSummary]:
    """One page of POs, newest first; ``open_only`` keeps draft, ordered and partial."""
    check(store, actor, Permission.LOOKUP, "purchase orders")
    totals = (
        select(
            PurchaseOrderLine.order_id,
            func.count().label("lines"),
            func.sum(PurchaseOrderLine.qty_ordered).label("ordered"),
            func.sum(PurchaseOrderLine.qty_received).label("received"),
        )
        .group_by(PurchaseOrderLine.order_id)
        .subquery()
    )
    query = (
        select(PurchaseOrder.number, Supplier.name, PurchaseOrder.status, PurchaseOrder.expected_date,
               totals.c.lines, totals.c.ordered, totals.c.received)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .outerjoin(totals, totals.c.order_id == PurchaseOrder.id)
        .order_by(PurchaseOrder.id.desc())
        .limit(limit)
        .offset(offset)
    )
    query = filter_orders(query, PurchaseOrder, Supplier.name, status=status, open_only=open_only,
                          open_statuses=EDITABLE_STATUSES, search=search)
    with store.read() as session:
        return [
            POSummary(number, supplier, state, expected, lines or 0, ordered or Decimal(0), received or Decimal(0))
            for number, supplier, state, expected, lines, ordered, received in session.execute(query)
        ]


# --- changing ---------------------------------------------------------------------------------


def find_supplier(session: Session, name: str) -> Supplier:
    """An active supplier by name (any case) or code; one line when there is none."""
    name = name.strip()
    if not name:
        raise BadInput("a purchase order needs a supplier")
    supplier = session.scalars(
        select(Supplier).where((Supplier.name == name) | (Supplier.code == name.upper()))
    ).first() or session.scalars(select(Supplier).where(func.lower(Supplier.name) == name.lower())).first()
    if supplier is None:
        raise NotFound(f"unknown supplier {name!r}")
    if not supplier.active:
        raise RuleViolation(f"supplier {supplier.name} is inactive")
    return supplier


def _editable(order: PurchaseOrder) -> None:
    if order.status not in EDITABLE_STATUSES:
        raise RuleViolation(f"{order.number} is {order.status}: it can no longer be changed")


def add_line(session: Session, order: PurchaseOrder, line: LineInput) -> PurchaseOrderLine:
    """Add ``line`` to ``order``; the same product again adds to its open line."""
    match = find_product(session, line.code)
    if match is None:
        raise NotFound(f"unknown product {line.code!r}")
    product = match.product
    if not product.active:
        raise RuleViolation(f"product {product.sku} is inactive")
    qty = _positive_qty(line.qty)
    if line.unit_cost is not None and _number("cost", line.unit_cost) < 0:
        raise BadInput(f"cost cannot be negative ({line.unit_cost})")
    existing = next((ln for ln in order.lines if ln.product_id == product.id), None)
    if existing is not None:
        existing.qty_ordered += qty
        if line.unit_cost is not None:
            existing.unit_cost = line.unit_cost
        return existing
    item = session.scalars(
        select(SupplierItem).where(SupplierItem.supplier_id == order.supplier_id, SupplierItem.product_id == product.id)
    ).first()
    cost = line.unit_cost if line.unit_cost is not None else (item.cost if item and item.cost else product.standard_cost)
    expected = line.expected_date or order.expected_date
    new = PurchaseOrderLine(
        line_no=max((ln.line_no for ln in order.lines), default=0) + 1,
        product=product, qty_ordered=qty, qty_received=Decimal(0), unit_cost=cost, expected_date=expected,
    )
    order.lines.append(new)
    return new


def _new_number(session: Session) -> str:
    last = session.scalar(select(func.max(PurchaseOrder.id))) or 0
    return f"{PO_PREFIX}{last + 1:06d}"


def new_po(session: Session, actor: Actor, vendor: Supplier, *, expected_date: dt.date | None = None,
           note: str = "") -> PurchaseOrder:
    """A new draft PO for ``vendor`` in the caller's transaction, under the next free number;
    expected date defaults to today + the supplier's lead time."""
    expected = expected_date or dt.date.today() + dt.timedelta(days=vendor.lead_time_days or 0)
    for attempt in range(10):
        order = PurchaseOrder(number=_new_number(session), supplier=vendor, status="draft", expected_date=expected,
                              note=note.strip(), created_by=actor.username)
        if attempt:
            order.number = f"{PO_PREFIX}{int(order.number[len(PO_PREFIX):]) + attempt:06d}"
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
            return order
        except IntegrityError:  # another manager took that number a moment ago
            continue
    raise RuleViolation("could not allocate a PO number; try again")


def record_created(session: Session, actor: Actor, order: PurchaseOrder) -> None:
    """Audit and announce a PO just created with its lines; its products' alerts follow."""
    audit.record(session, actor, "po.create", order.number,
                 f"{order.supplier.name}; " + "; ".join(f"{qty_text(ln.qty_ordered)} {ln.product.sku}" for ln in order.lines))
    emit(session, "purchase_orders", order.number)
    alerts.refresh(session, {line.product_id for line in order.lines})


def create_po(
    store: Store,
    actor: Actor,
    supplier: str,
    lines: Sequence[LineInput] = (),
    *,
    expected_date: dt.date | None = None,
    note: str = "",
) -> PurchaseOrderView:
    """A new draft PO for ``supplier``; expected date defaults to today + the supplier's lead time."""
    check(store, actor, Permission.MANAGE_ORDERS, supplier)

    def work(session: Session) -> PurchaseOrderView:
        order = new_po(session, actor, find_supplier(session, supplier), expected_date=expected_date, note=note)
        for line in lines:
            add_line(session, order, line)
        session.flush()
        record_created(session, actor, order)
        return view_po(session, order.id)

    return store.transact(work)


def add_po_line(store: Store, actor: Actor, number: str, line: LineInput) -> PurchaseOrderView:
    """Add a product to an open PO (scanning it again adds to its quantity)."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> PurchaseOrderView:
        order = load_po(session, number, lock=True)
        _editable(order)
        added = add_line(session, order, line)
        session.flush()
        audit.record(session, actor, "po.line", order.number,
                     f"line {added.line_no}: {added.product.sku} ordered {qty_text(added.qty_ordered)}",
                     product_id=added.product_id)
        emit(session, "purchase_orders", order.number)
        alerts.refresh(session, [added.product_id])
        return view_po(session, order.id)

    return store.transact(work)


def set_po_line(
    store: Store,
    actor: Actor,
    number: str,
    line_no: int,
    *,
    qty: Decimal | None = None,
    unit_cost: Decimal | None = None,
    expected_date: dt.date | None = None,
) -> PurchaseOrderView:
    """Change a line's quantity, cost or date; the quantity never goes below what was received."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> PurchaseOrderView:
        order = load_po(session, number, lock=True)
        _editable(order)
        line = next((ln for ln in order.lines if ln.line_no == line_no), None)
        if line is None:
            raise NotFound(f"{order.number} has no line {line_no}")
        changes = []
        if qty is not None:
            new_qty = _positive_qty(qty)
            if new_qty < line.qty_received:
                raise RuleViolation(f"line {line_no} has {qty_text(line.qty_received)} received already: cannot order less")
            changes.append(f"qty {qty_text(line.qty_ordered)} -> {qty_text(new_qty)}")
            line.qty_ordered = new_qty
        if unit_cost is not None:
            cost = _number("cost", unit_cost)
            if cost < 0:
                raise BadInput(f"cost cannot be negative ({unit_cost})")
            if line.qty_received > 0 and cost != line.unit_cost:
                raise RuleViolation(f"line {line_no} has goods received at {money_text(line.unit_cost)}: its cost is fixed")
            changes.append(f"cost {money_text(line.unit_cost)} -> {money_text(cost)}")
            line.unit_cost = cost
        if expected_date is not None:
            changes.append(f"expected {line.expected_date} -> {expected_date}")
            line.expected_date = expected_date
        if changes:
            _refresh_status(order)
            audit.record(session, actor, "po.line", order.number, f"line {line_no} {line.product.sku}: " + ", ".join(changes),
                         product_id=line.product_id)
            emit(session, "purchase_orders", order.number)
            session.flush()
            alerts.refresh(session, [line.product_id])
        session.flush()
        return view_po(session, order.id)

    return store.transact(work)


def remove_po_line(store: Store, actor: Actor, number: str, line_no: int) -> PurchaseOrderView:
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> PurchaseOrderView:
        order = load_po(session, number, lock=True)
        _editable(order)
        line = next((ln for ln in order.lines if ln.line_no == line_no), None)
        if line is None:
            raise NotFound(f"{order.number} has no line {line_no}")
        if line.qty_received > 0:
            raise RuleViolation(f"line {line_no} has goods received: it cannot be removed")
        order.lines.remove(line)
        audit.record(session, actor, "po.line.remove", order.number, f"line {line_no} {line.product.sku}",
                     product_id=line.product_id)
        emit(session, "purchase_orders", order.number)
        session.flush()
        alerts.refresh(session, [line.product_id])
        return view_po(session, order.id)

    return store.transact(work)


def order_po(store: Store, actor: Actor, number: str) -> PurchaseOrderView:
    """Draft -> ordered: the PO was sent to the supplier and can be received."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> PurchaseOrderView:
        order = load_po(session, number, lock=True)
        if order.status != "draft":
            raise RuleViolation(f"{order.number} is {order.status}, not a draft")
        if not order.lines:
            raise RuleViolation(f"{order.number} has no lines to order")
        order.status = "ordered"
        order.ordered_at = dt.datetime.now(dt.timezone.utc)
        audit.record(session, actor, "po.order", order.number, f"{len(order.lines)} lines")
        emit(session, "purchase_orders", order.number)
        session.flush()
        return view_po(session, order.id)

    return store.transact(work)


def cancel_po(store: Store, actor: Actor, number: str, reason: str = "") -> PurchaseOrderView:
    """Cancel a PO nothing was received on yet."""
    check(store, actor, Permission.MANAGE_ORDERS, number)

    def work(session: Session) -> PurchaseOrderView:
        order = load_po(session, number, lock=True)
        if order.status in ("cancelled", "received"):
            raise RuleViolation(f"{order.number} is already {order.status}")
        if any(line.qty_received > 0 for line in order.lines):
            raise RuleViolation(f"{order.number} has goods received: it cannot be cancelled")
        order.status = "cancelled"
        audit.record(session, actor, "po.cancel", order.number, reason.strip())
        emit(session, "purchase_orders", order.number)
        session.flush()
        alerts.refresh(session, {line.product_id for line in order.lines})
        return view_po(session, order.id)

    return store.transact(work)


def _refresh_status(order: PurchaseOrder) -> None:
    """ordered/partial/received from the lines' received quantities (drafts stay drafts)."""
    if order.status not in RECEIVABLE_STATUSES + ("received",):
        return
    received = [line.qty_received for line in order.lines]
    if order.lines and all(line.qty_received >= line.qty_ordered for line in order.lines):
        order.status = "received"
    elif any(value > 0 for value in received):
        order.status = "partial"
    else:
        order.status = "ordered"


def refresh_status(session: Session, order: PurchaseOrder) -> None:
    """Re-read the lines (other transactions may have received) and set the status from them."""
    for line in order.lines:
        session.refresh(line)
    _refresh_status(order)
