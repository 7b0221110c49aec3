"""Receiving as a step flow: scan a PO, then items and bins, then confirm.

Steps, one prompt at a time, scans accepted at every step:

1. **po** - scan the PO barcode (or type its number, or a supplier's name for a receipt without
   a PO).  The user's own open receipt is resumed where it was left.
2. **item** - scan a product barcode, a case barcode (counts its pack), or a GS1 label (lot,
   expiry, serial and count fill themselves in).  Each further scan of the same item adds to
   it; typing a number sets the quantity.
3. **lot** / **expiry** - for a lot-tracked item whose label did not carry them (or whose label
   could not be trusted: a lot that swallowed the next element is shown and asked for).
4. **serial** - one scan per serial; one already in stock is refused.
5. **putaway** - scan the bin (an area or a virtual location is refused here), or Enter for the
   product's default bin.

Refused at the step, with the bell: an item not on the PO or more than ordered (a manager's badge
+ PIN approves it, also at confirm when another station received the line meanwhile), an expired
lot (a manager approves it), a fraction of a whole-unit item, an area as the bin.  A lot expiring
within the product's minimum shelf life rings and is taken.  F10 posts the receipt in one posting.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ims_tui.devices.decode import decode_scan
from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome
from ims_tui.services import receiving
from ims_tui.services.changes import Change
from ims_tui.services.errors import RuleViolation
from ims_tui.services.purchasing import PO_PREFIX
from ims_tui.services.receiving import ReceiptDraft, ReceiptLine, ReceivingItem
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.values import format_quantity, is_quantity, parse_date, parse_quantity, whole_unit_refusal

qty_text = format_quantity


class ReceivingFlow(Flow):
    """The receiving steps for one user; a screen runs each command on a worker, one at a time."""

    KIND = receiving.DRAFT_KIND
    TASK_ID = "receive"
    TITLE = "Receive"
    FIRST_STEP = "po"
    STEPS = {
        "po": "Scan the PO (or type its number, or a supplier's name)",
        "item": "Scan an item",
        "putaway": "Scan the bin{default} - or scan the item again, or type a quantity",
        "lot": "Lot of {sku} (type or scan)",
        "expiry": "Expiry of lot {lot} (YYYY-MM-DD, or Enter for none)",
        "serial": "Scan a serial of {sku}{count} - or scan the bin{default}",
    }
    ACTIONS = (
        FlowAction("f10", "confirm", "Confirm"),
        FlowAction("ctrl+z", "undo", "Undo"),
        FlowAction("ctrl+r", "remove", "Remove line"),
        FlowAction("f12", "discard", "Discard"),
        FlowAction("escape", "cancel", "Back"),
    )

    def __init__(self, store, actor, *, station=None, today: dt.date | None = None) -> None:
        super().__init__(store, actor, station=station)
        self.draft: ReceiptDraft | None = None
        self.last_result: receiving.ReceiptResult | None = None
        self._items: dict[str, ReceivingItem] = {}
        self._today = today

    # -- the engine's hooks -------------------------------------------------------------------

    @property
    def pending(self) -> ReceiptLine | None:
        return self.draft.pending if self.draft else None

    def snapshot(self) -> dict | None:
        return self.draft.to_payload() if self.draft else None

    def restore(self, snapshot: dict | None) -> None:
        if self.draft is None or snapshot is None:
            return
        self.draft.lines = [ReceiptLine.from_payload(line) for line in snapshot["lines"]]
        pending = snapshot["pending"]
        self.draft.pending = ReceiptLine.from_payload(pending) if pending else None

    def payload(self) -> dict | None:
        return self.snapshot()

    def draft_ref(self) -> tuple[int, str] | None:
        return (self.draft.draft_id, self.draft.username) if self.draft else None

    def lines(self) -> list[str]:
        return [line.describe() for line in self.draft.lines] if self.draft else []

    def open_work(self) -> str | None:
        draft = self.draft
        if draft is None or not (draft.lines or draft.pending):
            return None
        return f"a receipt for {draft.po_number or draft.supplier} ({len(draft.lines)} line(s) scanned)"

    def remove_line(self, index: int) -> str:
        return self.draft.remove_line(index).describe()

    def prompt_fields(self) -> dict[str, str]:
        pending = self.pending
        item = self._items.get(pending.sku) if pending else None
        default = (item.default_location if item else None) or (self.station.default_location if self.station else None)
        return {
            "default": f" (Enter = {default})" if pending and default else "",
            "count": f", {qty_text(pending.qty)} so far" if pending and pending.qty else "",
            "sku": pending.sku if pending else "",
            "lot": (pending.lot or "") if pending else "",
        }

    def view_body(self) -> FlowView:
        draft = self.draft
        if draft is None:
            return FlowView(head="No receipt open")
        po = draft.po
        title = f"{po.number}  {po.supplier}  [{po.status}]" if po else f"Receipt without PO from {draft.supplier}"
        rows = []
        for row in draft.rows():
            ordered = qty_text(row.ordered) if row.ordered is not None else "-"
            left = qty_text(row.remaining) if row.remaining is not None else "-"
            rows.append((row.sku, row.name[:24], ordered, qty_text(row.received), qty_text(row.this_receipt), left))
        pending = self.pending
        shown = ""
        if pending is not None:
            shown = "Now: " + pending.describe() + (f" (approved by {pending.approved_by})" if pending.approved_by else "")
        return FlowView(
            head=f"{title}   {len(draft.lines)} line(s), {qty_text(draft.total)} scanned",
            columns=("SKU", "Item", "Ordered", "Recvd", "This", "Left"), rows=tuple(rows), pending=shown,
        )

    def on_change(self, change: Change) -> Outcome:
        """A PO line received (or the PO changed) on another station: show it now."""
        draft = self.draft
        if draft is not None and draft.po_number and (
            change.everything or draft.po_number in change.idents("purchase_orders")
        ):
            receiving.refresh_receipt(self.store, self.actor, draft)
        return Outcome()

    def resume(self) -> Outcome:
        draft = receiving.resume_receipt(self.store, self.actor)
        if draft is None:
            return Outcome()
        return self._opened(draft, "resumed your open receipt")

    def refresh(self) -> Outcome:
        if self.draft is not None and self.draft.po_number:
            receiving.refresh_receipt(self.store, self.actor, self.draft)
        return Outcome()

    # -- commands -----------------------------------------------------------------------------

    def confirm(self) -> Outcome:
        if self.draft is None:
            if self.last_result is not None:
                return Outcome(f"already confirmed: {self.last_result.describe()}")
            return Outcome("nothing to confirm: scan a PO first", error=True)
        if self.pending is not None:
            return Outcome(f"scan the bin for {self.pending.describe()} first", error=True)
        if not self.draft.lines:
            return Outcome("nothing scanned yet", error=True)
        self.refresh()
        over = self._over_receipt()
        if over:
            return self.hold("; ".join(refusal for _, refusal in over), self._approved_confirm(over),
                             target=self.draft.po_number or "")
        try:
            result = receiving.confirm_receipt(self.store, self.actor, self.draft)
        except RuleViolation as exc:
            self.refresh()
            over = self._over_receipt()
            if over:  # another station received meanwhile: a manager may still approve it
                return self.hold(str(exc), self._approved_confirm(over), target=self.draft.po_number or "")
            return Outcome(str(exc), error=True)
        self.last_result = result
        self.draft = None
        self._items.clear()
        self.forget_undo()
        return Outcome(result.describe(), next="po")

    def _over_receipt(self) -> list[tuple[str, str]]:
        """(sku, why) for every product this receipt would take beyond the PO unapproved."""
        draft = self.draft
        skus = dict.fromkeys(line.sku for line in draft.lines)
        return [(sku, refusal) for sku in skus if (refusal := draft.refusal(sku, Decimal(0)))]

    def _approved_confirm(self, over: list[tuple[str, str]]):
        skus = {sku for sku, _ in over}

        def retry(manager: str) -> Outcome:
            for line in self.draft.lines:
                if line.sku in skus and not line.approved_by:
                    line.approved_by = manager
            return self.confirm()

        return retry

    def cancel_step(self) -> Outcome:
        if self.pending is not None:
            dropped = self.pending.describe()
            self.draft.pending = None
            return Outcome(f"dropped {dropped}", next="item")
        return Outcome(back=True)

    def discard(self) -> Outcome:
        """Throw the whole receipt away; asks for the key a second time."""
        if self.draft is None:
            return Outcome("no receipt to discard", error=True)
        if not self.armed("discard"):
            return Outcome("press F12 again to discard this receipt (nothing is posted)", error=True)
        receiving.discard_receipt(self.store, self.actor, self.draft.draft_id)
        self.draft = None
        self.forget_undo()
        return Outcome("receipt discarded", next="po")

    # -- steps --------------------------------------------------------------------------------

    def scan_po(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "purchase_order":
            return self._start(po=resolution.po_number)
        if resolution.kind == "unknown":
            return Outcome(resolution.message, error=True)
        return Outcome(f"{resolution.message}: scan a purchase order first", error=True)

    def typed_po(self, text: str) -> Outcome:
        if not text:
            return Outcome(self.prompt, error=True)
        if text.upper().startswith(PO_PREFIX):  # a PO number, maybe typed in lower case
            return self._start(po=text)
        return self._start(supplier=text)

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "product":
            return self._add_item(resolution)
        if resolution.kind == "location":
            if self.pending is None:
                return Outcome(f"{resolution.location_code}: scan an item first", error=True)
            return self._put_away(resolution.location_code)
        if resolution.kind == "purchase_order":
            if resolution.po_number == self.draft.po_number:
                return Outcome(f"already receiving {resolution.po_number}")
            return Outcome(f"confirm (F10) or discard (F12) this receipt before {resolution.po_number}", error=True)
        return Outcome(resolution.message, error=True)

    scan_putaway = scan_item

    def typed_putaway(self, text: str) -> Outcome | None:
        if not text:
            return self._put_away(None)
        if is_quantity(text):
            return self._set_qty(parse_quantity(text))
        return None

    def scan_lot(self, resolution: ScanResolution, text: str) -> Outcome:
        pending = self.pending
        if resolution.kind == "product" and resolution.sku == pending.sku and resolution.lot and not resolution.problems:
            return self._lot_given(resolution.lot, resolution.expiry)
        if resolution.kind in ("product", "location", "purchase_order", "badge"):
            return Outcome(f"{resolution.message} is not a lot: type or scan the lot of {pending.sku}", error=True)
        return self._lot_given(decode_scan(text).plain_code or printable(text.strip()), None)

    def typed_lot(self, text: str) -> Outcome:
        if not text:
            return Outcome(f"{self.pending.sku} is lot-tracked: give the lot", error=True)
        return self._lot_given(text, None)

    def scan_expiry(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "product" and resolution.expiry:
            return self._expiry_given(resolution.expiry)
        if resolution.kind == "location":
            return self._put_away(resolution.location_code)
        return self._expiry_given(parse_date(decode_scan(text).plain_code or printable(text), what="expiry"))

    def typed_expiry(self, text: str) -> Outcome:
        if not text:
            return Outcome("no expiry", next="putaway")
        return self._expiry_given(parse_date(text, what="expiry"))

    def scan_serial(self, resolution: ScanResolution, text: str) -> Outcome:
        pending = self.pending
        if resolution.kind == "location":
            return self._put_away(resolution.location_code)
        if resolution.kind == "product":
            if resolution.sku != pending.sku:
                return Outcome(f"finish {pending.describe()} first: scan its bin", error=True)
            if not resolution.serial:
                return Outcome(f"scan the serial number of {pending.sku}, not its product code", error=True)
            return self._add_item(resolution)
        if resolution.kind in ("purchase_order", "badge"):
            return Outcome(f"scan a serial of {pending.sku} or its bin", error=True)
        return self._add_serial(pending.sku, decode_scan(text).plain_code or printable(text.strip()), None)

    def typed_serial(self, text: str) -> Outcome | None:
        return self._put_away(None) if not text else None

    # -- changes ------------------------------------------------------------------------------

    def _item(self, sku: str) -> ReceivingItem:
        if sku not in self._items:
            self._items[sku] = receiving.receiving_item(self.store, self.actor, sku)
        return self._items[sku]

    def _add_item(self, resolution: ScanResolution, approved_by: str | None = None,
                  expiry_ok: str | None = None) -> Outcome:
        item = self._item(resolution.sku)
        pending = self.pending
        if pending is not None and pending.sku != item.sku:
            return Outcome(f"scan the bin for {pending.describe()} first (Esc drops it)", error=True)
        if item.tracking == "serial":
            refusal = None if approved_by or pending is not None else self.draft.refusal(item.sku, Decimal(1))
            if refusal:
                return self.hold(refusal, lambda manager: self._add_item(resolution, manager), target=self._target())
            if pending is None:
                self.draft.pending = ReceiptLine(item.sku, Decimal(0), approved_by=approved_by)
            if not resolution.serial:
                return Outcome(f"{item.sku} {item.name}: scan each serial", next="serial")
            return self._add_serial(item.sku, resolution.serial, approved_by)
        # a label that could not be read as printed: its lot and expiry are not trusted
        label_problem = resolution.problems[0] if resolution.problems else None
        lot = None if label_problem else resolution.lot
        expiry = None if label_problem else resolution.expiry
        qty = resolution.quantity or resolution.pack_qty
        whole = whole_unit_refusal(item.sku, item.uom, qty)
        if whole:
            return Outcome(whole, error=True)
        if pending is not None and lot and pending.lot and lot != pending.lot:
            return Outcome(f"another lot ({lot}): scan the bin for lot {pending.lot} first", error=True)
        refusal = None if approved_by else self.draft.refusal(item.sku, qty)
        if refusal:
            return self.hold(refusal, lambda manager: self._add_item(resolution, manager, expiry_ok), target=self._target())
        expiry_check = self._expiry_check(item, expiry, expiry_ok or (pending.expiry_approved_by if pending else None))
        if expiry_check is not None and expiry_check.error:
            return self.hold(expiry_check.message, lambda manager: self._add_item(resolution, approved_by, manager),
                             target=self._target())
        if pending is None:
            pending = self.draft.pending = ReceiptLine(item.sku, Decimal(0), lot=lot, expiry=expiry)
        pending.qty += qty
        pending.approved_by = pending.approved_by or approved_by
        pending.expiry_approved_by = pending.expiry_approved_by or expiry_ok
        pending.lot = pending.lot or lot
        pending.expiry = pending.expiry or expiry
        pack = f" (case of {qty_text(qty)})" if qty != 1 else ""
        said = f"{item.sku} {item.name}: {qty_text(pending.qty)}{pack}"
        if label_problem and item.tracking == "lot" and not pending.lot:
            return Outcome(f"label problem: {label_problem} - type or scan the lot of {item.sku}", error=True, next="lot")
        next_step = "lot" if item.tracking == "lot" and not pending.lot else "putaway"
        if label_problem:
            return Outcome(f"{said}; label problem: {label_problem} (lot/expiry not taken)", warning=True, next=next_step)
        if expiry_check is not None:
            return Outcome(f"{said}; {expiry_check.message}", warning=True, next=next_step)
        return Outcome(said, next=next_step)

    def _lot_given(self, lot: str, expiry: dt.date | None) -> Outcome:
        pending = self.pending
        pending.lot = lot
        if expiry is not None:
            return self._expiry_given(expiry, said=f"lot {lot}")
        return Outcome(f"lot {lot}", next="expiry" if pending.expiry is None else "putaway")

    def _expiry_given(self, expiry: dt.date, approved_by: str | None = None, *, said: str = "") -> Outcome:
        pending = self.pending
        check = self._expiry_check(self._item(pending.sku), expiry, approved_by or pending.expiry_approved_by)
        if check is not None and check.error:
            return self.hold(check.message, lambda manager: self._expiry_given(expiry, manager, said=said),
                             target=self._target())
        pending.expiry = expiry
        pending.expiry_approved_by = pending.expiry_approved_by or approved_by
        text = ", ".join(part for part in (said, f"expiry {expiry.isoformat()}") if part)
        if check is not None:
            return Outcome(f"{text}; {check.message}", warning=True, next="putaway")
        return Outcome(text, next="putaway")

    def _expiry_check(self, item: ReceivingItem, expiry: dt.date | None, approved_by: str | None) -> Outcome | None:
        """An error for expired goods (unless a manager approved them), a warning for short shelf life."""
        if expiry is None:
            return None
        today = self._today or dt.date.today()
        if expiry < today:
            if approved_by:
                return Outcome(f"expired {expiry.isoformat()} (approved by {approved_by})")
            return Outcome(f"{item.sku} expired {expiry.isoformat()}: expired goods need a manager", error=True)
        left = (expiry - today).days
        if item.min_shelf_life_days and left < item.min_shelf_life_days:
            return Outcome(f"expires {expiry.isoformat()}: {left} days left, {item.sku} needs {item.min_shelf_life_days}")
        return None

    def _add_serial(self, sku: str, serial: str, approved_by: str | None) -> Outcome:
        serial = serial.strip()
        if not serial:
            return Outcome("empty serial", error=True)
        if serial in self.draft.serials(sku):
            return Outcome(f"serial {serial} is already in this receipt", error=True)
        receiving.check_serial_free(self.store, sku, serial)
        refusal = None if approved_by else self.draft.refusal(sku, Decimal(1))
        if refusal:
            return self.hold(refusal, lambda manager: self._add_serial(sku, serial, manager), target=self._target())
        pending = self.pending
        pending.qty += 1
        pending.serials = (*pending.serials, serial)
        pending.approved_by = pending.approved_by or approved_by
        return Outcome(f"serial {serial}: {qty_text(pending.qty)} {sku}", next="serial")

    def _set_qty(self, qty: Decimal, approved_by: str | None = None) -> Outcome:
        pending = self.pending
        if pending is None:
            return Outcome("scan an item first", error=True)
        if qty <= 0:
            return Outcome("a quantity must be more than zero", error=True)
        whole = whole_unit_refusal(pending.sku, self._item(pending.sku).uom, qty)
        if whole:
            return Outcome(whole, error=True)
        if approved_by is None and not pending.approved_by:
            refusal = self.draft.refusal(pending.sku, qty - pending.qty)
            if refusal:
                return self.hold(refusal, lambda manager: self._set_qty(qty, manager), target=self._target())
        pending.qty = qty
        pending.approved_by = pending.approved_by or approved_by
        return Outcome(f"{pending.sku}: {qty_text(qty)}")

    def _put_away(self, location: str | None) -> Outcome:
        pending = self.pending
        if pending is None:
            return Outcome("scan an item first", error=True)
        if pending.qty <= 0:
            return Outcome(f"scan a serial of {pending.sku} first", error=True)
        item = self._item(pending.sku)
        if item.tracking == "lot" and not pending.lot:
            return Outcome(f"{pending.sku} is lot-tracked: give the lot first", error=True, next="lot")
        location = location or item.default_location or (self.station.default_location if self.station else None)
        if not location:
            return Outcome(f"{pending.sku} has no default location: scan the bin", error=True)
        location = receiving.putaway_bin(self.store, self.actor, location)
        done = f"{qty_text(pending.qty)} {pending.sku} -> {location}"
        self.draft.put_away(location)
        return Outcome(done, next="item")

    def _target(self) -> str:
        return self.draft.po_number or self.draft.supplier

    def _start(self, *, po: str | None = None, supplier: str | None = None) -> Outcome:
        draft = receiving.start_receipt(self.store, self.actor, po=po, supplier=supplier)
        return self._opened(draft, f"receiving {draft.po_number or 'from ' + draft.supplier}")

    def _opened(self, draft: ReceiptDraft, message: str) -> Outcome:
        self.draft = draft
        self.last_result = None
        pending = draft.pending
        if pending is None:
            return Outcome(message, next="item")
        item = self._item(pending.sku)
        if item.tracking == "serial":
            return Outcome(message, next="serial")
        if item.tracking == "lot" and not pending.lot:
            return Outcome(message, next="lot")
        return Outcome(message, next="putaway")


__all__ = ["ReceivingFlow"]
