"""Receiving goods against a purchase order (or from a named supplier), and returns to suppliers.

A receipt being scanned is a :class:`ReceiptDraft`: plain data the screen changes scan by scan
and saves to the store after every step (a ``TaskDraft`` row), so a dropped session or a
rebooted kiosk loses nothing.  Confirming posts every line in ONE ledger posting under the
draft's idempotency key, raises the PO lines' received quantities with conditional UPDATEs in
the same transaction, sets the PO status and deletes the draft - all or nothing.  Pressing
confirm twice finds the key already posted and changes nothing.

Concurrency: the PO row is locked first (``SELECT ... FOR UPDATE``), then the ledger takes its
own locks in its fixed order; each PO line's ``qty_received`` only grows through
``UPDATE ... WHERE qty_received + n <= qty_ordered`` (unless a manager approved the excess),
so two receivers on one line can never record more than was posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import (
    Location,
    Movement,
    Posting,
    Product,
    PurchaseOrderLine,
    SerialNumber,
    Supplier,
    SupplierItem,
    User,
)
from ims_tui.services import alerts, audit, drafts, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.catalogue import find_product, resolve_bin
from ims_tui.services.changes import emit
from ims_tui.services.drafts import DraftSummary
from ims_tui.services.errors import BadInput, NotFound, RuleViolation
from ims_tui.services.ledger import StockMove
from ims_tui.services.permissions import Permission, allows, check
from ims_tui.services.purchasing import (
    RECEIVABLE_STATUSES,
    LineInput,
    PurchaseOrderView,
    add_line,
    find_supplier,
    load_po,
    qty_text,
    refresh_status,
    view_po,
)
from ims_tui.values import SUPPLIER

DRAFT_KIND = "receipt"
drafts.register_kind(DRAFT_KIND, Permission.RECEIVE, "receipt")


# --- the receipt being scanned (plain data) -----------------------------------------------------


@dataclass
class ReceiptLine:
    """Goods of one product going to one bin (one lot); ``approved_by`` names the manager who
    allowed it beyond the PO."""

    sku: str
    qty: Decimal
    location: str = ""
    lot: str | None = None
    expiry: dt.date | None = None
    serials: tuple[str, ...] = ()
    approved_by: str | None = None
    expiry_approved_by: str | None = None
    """The manager who allowed an expired lot in."""

    def describe(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        expiry = f" exp {self.expiry.isoformat()}" if self.expiry else ""
        where = f" -> {self.location}" if self.location else ""
        shown = ", ".join(self.serials[-3:]) + (" ..." if len(self.serials) > 3 else "")
        serials = f" serial {shown}" if self.serials else ""
        return f"{qty_text(self.qty)} {self.sku}{lot}{expiry}{serials}{where}"

    def to_payload(self) -> dict:
        return {
            "sku": self.sku, "qty": str(self.qty), "location": self.location, "lot": self.lot,
            "expiry": self.expiry.isoformat() if self.expiry else None, "serials": list(self.serials),
            "approved_by": self.approved_by, "expiry_approved_by": self.expiry_approved_by,
        }

    @classmethod
    def from_payload(cls, data: dict) -> ReceiptLine:
        return cls(
            sku=data["sku"], qty=Decimal(data["qty"]), location=data.get("location") or "", lot=data.get("lot"),
            expiry=dt.date.fromisoformat(data["expiry"]) if data.get("expiry") else None,
            serials=tuple(data.get("serials") or ()), approved_by=data.get("approved_by"),
            expiry_approved_by=data.get("expiry_approved_by"),
        )


@dataclass(frozen=True)
class ReceiptRow:
    """One row of the receiving screen: what was ordered, posted before, scanned now, still due."""

    sku: str
    name: str
    ordered: Decimal | None
    received: Decimal
    this_receipt: Decimal

    @property
    def remaining(self) -> Decimal | None:
        if self.ordered is None:
            return None
        return max(self.ordered - self.received - self.this_receipt, Decimal(0))


@dataclass
class ReceiptDraft:
    """A receipt in progress; ``pending`` is the line whose bin has not been scanned yet."""

    draft_id: int
    key: str
    username: str
    station: str
    supplier: str
    po_number: str | None = None
    lines: list[ReceiptLine] = field(default_factory=list)
    pending: ReceiptLine | None = None
    po: PurchaseOrderView | None = None
    updated_at: dt.datetime | None = None

    # -- figures ------------------------------------------------------------------------------

    def in_receipt(self, sku: str) -> Decimal:
        lines = [*self.lines, *([self.pending] if self.pending else [])]
        return sum((line.qty for line in lines if line.sku == sku), Decimal(0))

    def serials(self, sku: str) -> set[str]:
        lines = [*self.lines, *([self.pending] if self.pending else [])]
        return {serial for line in lines if line.sku == sku for serial in line.serials}

    def ordered(self, sku: str) -> Decimal | None:
        if self.po is None:
            return None
        lines = [line for line in self.po.lines if line.sku == sku]
        return sum((line.qty_ordered for line in lines), Decimal(0)) if lines else None

    def received(self, sku: str) -> Decimal:
        if self.po is None:
            return Decimal(0)
        return sum((line.qty_received for line in self.po.lines if line.sku == sku), Decimal(0))

    def approved(self, sku: str) -> str | None:
        """The manager who already approved going beyond the PO for ``sku`` in this receipt."""
        lines = [*self.lines, *([self.pending] if self.pending else [])]
        return next((line.approved_by for line in lines if line.sku == sku and line.approved_by), None)

    def refusal(self, sku: str, more: Decimal) -> str | None:
        """Why ``more`` of ``sku`` cannot be added without a manager, or None when it can."""
        if self.po is None or self.approved(sku):
            return None
        ordered = self.ordered(sku)
        if ordered is None:
            return f"{sku} is not on {self.po_number}"
        total = self.received(sku) + self.in_receipt(sku) + more
        if total > ordered:
            return (f"over-receipt: {sku} ordered {qty_text(ordered)}, received {qty_text(self.received(sku))}, "
                    f"this receipt would make {qty_text(total - self.received(sku))}")
        return None

    def rows(self) -> list[ReceiptRow]:
        rows: list[ReceiptRow] = []
        seen: set[str] = set()
        for line in self.po.lines if self.po else ():
            if line.sku in seen:
                continue
            seen.add(line.sku)
            rows.append(ReceiptRow(line.sku, line.product_name, self.ordered(line.sku), self.received(line.sku),
                                   self.in_receipt(line.sku)))
        for line in [*self.lines, *([self.pending] if self.pending else [])]:
            if line.sku not in seen:
                seen.add(line.sku)
                rows.append(ReceiptRow(line.sku, "", None, Decimal(0), self.in_receipt(line.sku)))
        return rows

    @property
    def total(self) -> Decimal:
        return sum((line.qty for line in self.lines), Decimal(0))

    # -- changes ------------------------------------------------------------------------------

    def put_away(self, location: str) -> ReceiptLine:
        """The pending line goes to ``location``; merges into an equal line already there."""
        if self.pending is None:
            raise RuleViolation("scan an item first")
        line = replace(self.pending, location=location)
        self.pending = None
        for existing in self.lines:
            if (existing.sku, existing.location, existing.lot, existing.expiry, existing.approved_by) == (
                line.sku, line.location, line.lot, line.expiry, line.approved_by
            ):
                existing.qty += line.qty
                existing.serials = (*existing.serials, *line.serials)
                return existing
        self.lines.append(line)
        return line

    def remove_line(self, index: int) -> ReceiptLine:
        return self.lines.pop(index)

    def to_payload(self) -> dict:
        return {
            "key": self.key,
            "supplier": self.supplier,
            "po": self.po_number,
            "lines": [line.to_payload() for line in self.lines],
            "pending": self.pending.to_payload() if self.pending else None,
        }


@dataclass(frozen=True)
class ReceivingItem:
    """What the receiving screen needs to know about a product to ask the right questions."""

    sku: str
    name: str
    tracking: str
    uom: str
    default_location: str | None
    min_shelf_life_days: int = 0


@dataclass(frozen=True)
class ReceiptResult:
    posting_id: int
    key: str
    already_posted: bool
    po: PurchaseOrderView | None
    lines: int
    qty: Decimal

    def to_dict(self) -> dict:
        return {
            "posting_id": self.posting_id, "key": self.key, "already_posted": self.already_posted,
            "po": self.po.number if self.po else None, "status": self.po.status if self.po else None,
            "backorder": self.po.backorder if self.po else Decimal(0), "lines": self.lines, "qty": self.qty,
        }

    def describe(self) -> str:
        if self.already_posted:
            return f"already posted (key {self.key}): nothing changed"
        text = f"received {qty_text(self.qty)} in {self.lines} line(s) (posting {self.posting_id})"
        if self.po:
            text += f"; {self.po.number} is {self.po.status}"
            if self.po.backorder:
                text += f", backorder {qty_text(self.po.backorder)}"
        return text


# --- drafts in the store (the one drafts service, kind "receipt") -------------------------------


def _receipt_from(session: Session, row: drafts.Draft) -> ReceiptDraft:
    payload = row.payload
    number = payload.get("po")
    po = view_po(session, load_po(session, number).id) if number else None
    pending = payload.get("pending")
    return ReceiptDraft(
        draft_id=row.id, key=payload["key"], username=row.username, station=row.station,
        supplier=payload.get("supplier", ""), po_number=number,
        lines=[ReceiptLine.from_payload(line) for line in payload.get("lines", [])],
        pending=ReceiptLine.from_payload(pending) if pending else None, po=po, updated_at=row.updated_at,
    )


def start_receipt(store: Store, actor: Actor, *, po: str | None = None, supplier: str | None = None) -> ReceiptDraft:
    """Open a receipt for a PO (or, without one, from ``supplier``); resumes this user's open
    draft of the same PO instead of starting a second one."""
    check(store, actor, Permission.RECEIVE, po or supplier or "")
    if not po and not (supplier or "").strip():
        raise BadInput("scan a purchase order, or name the supplier for a receipt without one")

    def work(session: Session) -> ReceiptDraft:
        if po:
            order = load_po(session, po)
            _check_receivable(order)
            reference, vendor = order.number, order.supplier.name
        else:
            vendor = find_supplier(session, supplier or "").name
            reference = vendor
        existing = drafts.find_own(session, actor, DRAFT_KIND, reference)
        if existing is not None and po:
            return _receipt_from(session, existing)
        row = drafts.create(session, actor, DRAFT_KIND, reference,
                            {"key": f"receipt-{ledger.new_key()}", "supplier": vendor, "po": reference if po else None,
                             "lines": [], "pending": None})
        return _receipt_from(session, row)

    return store.transact(work)


def resume_receipt(store: Store, actor: Actor) -> ReceiptDraft | None:
    """This user's most recently touched open receipt, where they left it."""
    row = drafts.resume(store, actor, DRAFT_KIND)
    if row is None:
        return None
    with store.read() as session:
        return _receipt_from(session, row)


def load_receipt(store: Store, actor: Actor, draft_id: int) -> ReceiptDraft:
    """A draft by id: the user's own, or anyone's for a manager."""
    row = drafts.load(store, actor, DRAFT_KIND, draft_id)
    with store.read() as session:
        return _receipt_from(session, row)


def save_receipt(store: Store, actor: Actor, draft: ReceiptDraft) -> None:
    """Keep the draft as it is now (called after every scan)."""
    drafts.save(store, actor, DRAFT_KIND, draft.draft_id, draft.username, draft.to_payload())


def refresh_receipt(store: Store, actor: Actor, draft: ReceiptDraft) -> ReceiptDraft:
    """The draft with the PO's received figures as they are now (others may be receiving too)."""
    if draft.po_number is None:
        return draft
    with store.read() as session:
        draft.po = view_po(session, load_po(session, draft.po_number).id)
    return draft


def list_receipt_drafts(store: Store, actor: Actor, *, everyone: bool = False) -> list[DraftSummary]:
    """Open receipts: the user's own, or (``everyone``, managers) every station's."""
    return drafts.list_drafts(store, actor, DRAFT_KIND, everyone=everyone)


def discard_receipt(store: Store, actor: Actor, draft_id: int) -> None:
    """Throw an open receipt away (nothing was posted); others' drafts need MANAGE_DRAFTS."""
    drafts.discard(store, actor, DRAFT_KIND, draft_id)


# --- looking things up while scanning ---------------------------------------------------------


def receiving_item(store: Store, actor: Actor, code: str) -> ReceivingItem:
    check(store, actor, Permission.RECEIVE, code)
    with store.read() as session:
        match = find_product(session, code)
        if match is None:
            raise NotFound(f"unknown product {code!r}")
        product = match.product
        return ReceivingItem(product.sku, product.name, product.tracking, product.uom,
                             product.default_location.code if product.default_location else None,
                             product.min_shelf_life_days or 0)


def putaway_bin(store: Store, actor: Actor, code: str) -> str:
    """The code of a bin goods can be put away in; an area, an inactive or a virtual location is refused."""
    check(store, actor, Permission.RECEIVE, code)
    with store.read() as session:
        return resolve_bin(session, code, what="the bin to put the goods in").code


def check_serial_free(store: Store, sku: str, serial: str) -> None:
    """Refuse a serial that is already in stock (the ledger would refuse it at confirm)."""
    with store.read() as session:
        location = session.execute(
            select(SerialNumber.location_id)
            .join(Product, Product.id == SerialNumber.product_id)
            .where(Product.sku == sku, SerialNumber.serial == serial.strip())
        ).scalar_one_or_none()
    if location is not None:
        raise RuleViolation(f"serial {serial.strip()} of {sku} is already in stock")


# --- posting --------------------------------------------------------------------------------


def confirm_receipt(store: Store, actor: Actor, draft: ReceiptDraft) -> ReceiptResult:
    """Post the draft's lines in one posting under its key and close the draft."""
    if draft.pending is not None:
        raise RuleViolation(f"scan a location for {draft.pending.describe()} first")
    return post_receipt(store, actor, draft.lines, po=draft.po_number, supplier=draft.supplier, key=draft.key,
                        draft_id=draft.draft_id)


def receive_po(
    store: Store,
    actor: Actor,
    po: str,
    code: str,
    qty: Decimal,
    *,
    to: str,
    lot: str | None = None,
    expiry: dt.date | None = None,
    serials: Sequence[str] = (),
    override: bool = False,
    key: str | None = None,
) -> ReceiptResult:
    """One line against a PO in one call (the CLI); ``override`` is the actor's own approval."""
    if override:
        check(store, actor, Permission.APPROVE_OVERRIDE, po)
    item = receiving_item(store, actor, code)
    line = ReceiptLine(item.sku, qty, to, lot, expiry, tuple(serials), actor.username if override else None)
    return post_receipt(store, actor, [line], po=po, key=key or ledger.new_key())


def post_receipt(
    store: Store,
    actor: Actor,
    lines: Sequence[ReceiptLine],
    *,
    po: str | None = None,
    supplier: str | None = None,
    key: str,
    draft_id: int | None = None,
) -> ReceiptResult:
    """The one way goods are received: one posting for all ``lines``, PO updated alongside."""
    check(store, actor, Permission.RECEIVE, po or supplier or "")
    if not lines:
        raise BadInput("nothing scanned to receive")
    for line in lines:
        if not line.location:
            raise BadInput(f"{line.describe()}: scan the putaway location")
    return store.transact(lambda session: _post_receipt(session, actor, lines, po, supplier, key, draft_id))


def _post_receipt(
    session: Session,
    actor: Actor,
    lines: Sequence[ReceiptLine],
    po: str | None,
    supplier: str | None,
    key: str,
    draft_id: int | None,
) -> ReceiptResult:
    order = load_po(session, po, lock=True) if po else None
    qty = sum((line.qty for line in lines), Decimal(0))
    if session.scalar(select(Posting.id).where(Posting.idempotency_key == key)) is not None:
        return _already(session, key, order, draft_id, lines, qty)
    _check_approvers(session, actor, lines)
    if order is not None:
        _check_receivable(order, approved=all(ln.approved_by for ln in lines))
        moves, increments = _allocate(session, order, lines)
        reference = order.number
        vendor = order.supplier
    else:
        vendor = find_supplier(session, supplier or "")
        moves, increments = _unplanned_moves(session, vendor, lines), []
        reference = f"receipt from {vendor.name}"
    result = ledger.post(session, actor, "receive", moves, key=key, reference=reference)
    if result.already_posted:  # the same confirm won a race a moment ago
        return _already(session, key, order, draft_id, lines, qty)
    for line_id, amount, over_allowed in sorted(increments):
        condition = [PurchaseOrderLine.id == line_id]
        if not over_allowed:
            condition.append(PurchaseOrderLine.qty_received + amount <= PurchaseOrderLine.qty_ordered)
        updated = session.execute(
            update(PurchaseOrderLine).where(*condition).values(qty_received=PurchaseOrderLine.qty_received + amount),
            execution_options={"synchronize_session": False},
        )
        if updated.rowcount != 1:
            raise RuleViolation(f"over-receipt: another station received on {reference} meanwhile; look again")
    view = None
    if order is not None:
        refresh_status(session, order)
        approvers = sorted({ln.approved_by for ln in lines if ln.approved_by})
        audit.record(session, actor, "po.receive", order.number,
                     "; ".join(ln.describe() for ln in lines[:10]) + f" -> {order.status}"
                     + (f" (over-receipt approved by {', '.join(approvers)})" if approvers else ""))
        emit(session, "purchase_orders", order.number)
        session.flush()
        alerts.refresh(session, {line.product_id for line in order.lines})  # the PO owes less now
        view = view_po(session, order.id)
    if draft_id is not None:
        drafts.close(session, DRAFT_KIND, draft_id)
    return ReceiptResult(result.posting_id, key, False, view, len(lines), qty)


def _check_receivable(order, *, approved: bool = False) -> None:
    """Only ordered and partially received POs take goods (a received one with a manager's approval)."""
    if order.status in RECEIVABLE_STATUSES or (order.status == "received" and approved):
        return
    if order.status == "draft":
        raise RuleViolation(f"{order.number} is still a draft: a manager must order it before it is received")
    if order.status == "received":
        raise RuleViolation(f"{order.number} is fully received: more needs a manager's approval")
    raise RuleViolation(f"{order.number} is {order.status}: nothing to receive")


def _already(session: Session, key: str, order, draft_id: int | None, lines: Sequence[ReceiptLine], qty: Decimal) -> ReceiptResult:
    posting_id = session.scalar(select(Posting.id).where(Posting.idempotency_key == key))
    if draft_id is not None:
        drafts.close(session, DRAFT_KIND, draft_id)
    view = view_po(session, order.id) if order is not None else None
    return ReceiptResult(posting_id, key, True, view, len(lines), qty)


def _check_approvers(session: Session, actor: Actor, lines: Sequence[ReceiptLine]) -> None:
    """Every approval names a user allowed to approve: the actor themselves, or an active manager."""
    for name in {line.approved_by for line in lines if line.approved_by}:
        if name == actor.username and allows(actor.role, Permission.APPROVE_OVERRIDE):
            continue
        user = session.scalars(select(User).where(User.username == name)).one_or_none()
        if user is None or not user.active or not allows(user.role, Permission.APPROVE_OVERRIDE):
            raise RuleViolation(f"{name} may not approve receiving beyond the order")


def _allocate(session: Session, order, lines: Sequence[ReceiptLine]) -> tuple[list[StockMove], list[tuple[int, Decimal, bool]]]:
    """Spread each receipt line over the PO's lines of that product, in line order.

    Returns the ledger moves (cost from the PO line they are received on) and the increments
    of ``qty_received`` per PO line as ``(line id, qty, over-receipt approved)``.
    """
    left = {line.id: line.qty_ordered - line.qty_received for line in order.lines}
    moves: list[StockMove] = []
    increments: dict[int, list] = {}
    for receipt in lines:
        product = session.scalars(select(Product).where(Product.sku == receipt.sku)).one_or_none()
        if product is None:
            raise NotFound(f"unknown product {receipt.sku!r}")
        po_lines = [line for line in order.lines if line.product_id == product.id]
        if not po_lines:
            if not receipt.approved_by:
                raise RuleViolation(f"{receipt.sku} is not on {order.number}: a manager must approve it")
            added = add_line(session, order, LineInput(receipt.sku, receipt.qty))
            session.flush()
            left[added.id] = receipt.qty
            po_lines = [added]
        need = receipt.qty
        serials = list(receipt.serials)
        for index, po_line in enumerate(po_lines):
            last = index == len(po_lines) - 1
            take = need if last else min(need, max(left[po_line.id], Decimal(0)))
            if take <= 0:
                continue
            if take > left[po_line.id] and not receipt.approved_by:
                due = sum((max(left[ln.id], Decimal(0)) for ln in po_lines), Decimal(0))
                raise RuleViolation(
                    f"over-receipt: {receipt.sku} has {qty_text(due)} left to receive on {order.number}, not "
                    f"{qty_text(need)}; a manager must approve it"
                )
            left[po_line.id] -= take
            need -= take
            chunk = tuple(serials[: int(take)]) if serials else ()
            serials = serials[int(take):] if serials else []
            moves.append(StockMove(receipt.sku, take, SUPPLIER, receipt.location, receipt.lot, receipt.expiry, chunk,
                                   po_line.unit_cost, f"{order.number}/{po_line.line_no}"))
            entry = increments.setdefault(po_line.id, [po_line.id, Decimal(0), False])
            entry[1] += take
            entry[2] = entry[2] or bool(receipt.approved_by)
            if need <= 0:
                break
    return moves, [tuple(entry) for entry in increments.values()]


def _unplanned_moves(session: Session, vendor: Supplier, lines: Sequence[ReceiptLine]) -> list[StockMove]:
    """Without a PO the cost is the supplier's price for the item, else the ledger's default."""
    moves = []
    for line in lines:
        cost = session.scalar(
            select(SupplierItem.cost).join(Product, Product.id == SupplierItem.product_id)
            .where(SupplierItem.supplier_id == vendor.id, Product.sku == line.sku)
        )
        moves.append(StockMove(line.sku, line.qty, SUPPLIER, line.location, line.lot, line.expiry, line.serials,
                               cost or None, f"supplier {vendor.code}"))
    return moves


# --- returns to supplier -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnResult:
    posting_id: int
    key: str
    already_posted: bool
    unit_cost: Decimal
    po: PurchaseOrderView | None

    def to_dict(self) -> dict:
        return {"posting_id": self.posting_id, "key": self.key, "already_posted": self.already_posted,
                "unit_cost": self.unit_cost, "po": self.po.number if self.po else None,
                "status": self.po.status if self.po else None}


def return_to_supplier(
    store: Store,
    actor: Actor,
    code: str,
    qty: Decimal,
    *,
    source: str,
    reason: str,
    po: str | None = None,
    lot: str | None = None,
    serials: Sequence[str] = (),
    key: str | None = None,
) -> ReturnResult:
    """Send stock back to the supplier.  With ``po`` the goods count as not received on it any
    more (the supplier owes them again: the PO goes back to partial)."""
    if not reason.strip():
        raise BadInput("a return to the supplier needs a reason")
    check(store, actor, Permission.RECEIVE, po or code)
    item = receiving_item(store, actor, code)
    posting_key = key or ledger.new_key()

    def work(session: Session) -> ReturnResult:
        order = load_po(session, po, lock=True) if po else None
        existing = session.scalars(select(Posting).where(Posting.idempotency_key == posting_key)).one_or_none()
        if existing is not None:
            cost = existing.movements[0].unit_cost if existing.movements else Decimal(0)
            return ReturnResult(existing.id, posting_key, True, cost, view_po(session, order.id) if order else None)
        reference = order.number if order else ""
        if order is not None:
            product_id = session.scalar(select(Product.id).where(Product.sku == item.sku))
            po_line = next((ln for ln in sorted(order.lines, key=lambda ln: -ln.line_no)
                            if ln.product_id == product_id and ln.qty_received >= qty), None)
            if po_line is None:
                raise RuleViolation(f"{order.number} has not received {qty_text(qty)} of {item.sku} to return")
            reference = f"{order.number}/{po_line.line_no}"
            receipts = tuple(session.scalars(
                select(Movement.id).join(Location, Location.id == Movement.from_location_id)
                .where(Movement.reference == reference, Movement.product_id == product_id, Location.code == SUPPLIER)
            ))
        else:
            receipts = ()
        move = StockMove(item.sku, qty, source, SUPPLIER, lot, None, tuple(serials), None, reference, receipts)
        result = ledger.post(session, actor, "return", [move], key=posting_key, reason=reason.strip(), reference=reference)
        view = None
        if order is not None:
            updated = session.execute(
                update(PurchaseOrderLine)
                .where(PurchaseOrderLine.id == po_line.id, PurchaseOrderLine.qty_received >= qty)
                .values(qty_received=PurchaseOrderLine.qty_received - qty),
                execution_options={"synchronize_session": False},
            )
            if updated.rowcount != 1:
                raise RuleViolation(f"{order.number} has not received {qty_text(qty)} of {item.sku} to return")
            refresh_status(session, order)
            audit.record(session, actor, "po.return", order.number, f"{qty_text(qty)} {item.sku} from {source}: {reason.strip()}")
            emit(session, "purchase_orders", order.number)
            session.flush()
            alerts.refresh(session, [product_id])  # the PO owes it again
            view = view_po(session, order.id)
        cost = session.scalar(
            select(Movement.unit_cost).where(Movement.id == result.movement_ids[0])
        ) if result.movement_ids else Decimal(0)
        return ReturnResult(result.posting_id, posting_key, result.already_posted, cost, view)

    return store.transact(work)

