"""The receiving desk: scan a PO, then items and bins, then confirm - no mouse, no dialogs.

RF-style steps, one prompt at a time, scans accepted at every step:

1. **PO** - scan the PO barcode (or type its number, or a supplier's name for a receipt
   without a PO).  The user's own open receipt is resumed where it was left.
2. **Item** - scan a product barcode, a case barcode (counts its pack), or a GS1 label (lot,
   expiry, serial and count fill themselves in).  The quantity starts at the pack quantity and
   each further scan of the same item adds to it; typing a number + Enter sets it.
3. **Lot / expiry** - only for a lot-tracked item whose label did not carry them.
4. **Serial** - a serial-tracked item takes one scan per serial; one already in stock is refused.
5. **Bin** - scan the putaway location, or Enter for the product's default location.

An item not on the PO, or more than ordered, rings the bell and says why; a manager may scan
their badge and type their PIN right there to approve it.  F10 posts the receipt in one posting.
The draft is saved after every step, so a dropped session loses nothing.

The step machine (:class:`ReceivingFlow`) is plain Python calling services; the screen runs it
in one thread worker at a time, in the order the scans and keys arrived.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from ims_tui.devices.decode import decode_scan
from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import receiving
from ims_tui.services.actor import Actor
from ims_tui.services.errors import AuthError, ImsError, RuleViolation
from ims_tui.services.permissions import Permission
from ims_tui.services.purchasing import PO_PREFIX, qty_text
from ims_tui.services.receiving import ReceiptDraft, ReceiptLine, ReceivingItem
from ims_tui.services.scans import ScanResolution, printable, resolve_scan
from ims_tui.widgets.scan import Scanned

PROMPTS = {
    "po": "Scan the PO (or type its number, or a supplier's name)",
    "item": "Scan an item",
    "putaway": "Scan the bin{default} - or scan the item again, or type a quantity",
    "lot": "Lot of {sku} (type or scan)",
    "expiry": "Expiry of lot {lot} (YYYY-MM-DD, or Enter for none)",
    "serial": "Scan a serial of {sku}{count} - or scan the bin{default}",
    "badge": "Manager: scan your badge to approve (Esc cancels)",
    "pin": "Manager: type your PIN and Enter",
}


@dataclass(frozen=True)
class Outcome:
    """What the last step says: one line, an error rings the bell; ``back`` leaves the screen."""

    message: str = ""
    error: bool = False
    back: bool = False


def parse_expiry(text: str) -> dt.date:
    """``2027-03-31``, ``20270331`` or GS1-style ``270331``."""
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RuleViolation(f"not a date: {text!r} (YYYY-MM-DD)")


class ReceivingFlow:
    """The receiving steps for one user; every method runs on a worker thread, one at a time."""

    def __init__(self, store, actor: Actor) -> None:
        self.store = store
        self.actor = actor
        self.step = "po"
        self.draft: ReceiptDraft | None = None
        self._items: dict[str, ReceivingItem] = {}
        self._held: Callable[[str], Outcome] | None = None
        self._return_step = "item"
        self._badge = ""
        self._discard_armed = False
        self.last_result: receiving.ReceiptResult | None = None

    # -- what the screen shows ------------------------------------------------------------------

    @property
    def pending(self) -> ReceiptLine | None:
        return self.draft.pending if self.draft else None

    @property
    def prompt(self) -> str:
        pending = self.pending
        item = self._items.get(pending.sku) if pending else None
        default = f" (Enter = {item.default_location})" if item and item.default_location else ""
        count = f", {qty_text(pending.qty)} so far" if pending and pending.qty else ""
        return PROMPTS[self.step].format(
            default=default, count=count, sku=pending.sku if pending else "", lot=pending.lot if pending else ""
        )

    @property
    def secret(self) -> bool:
        return self.step == "pin"

    # -- entry points ---------------------------------------------------------------------------

    def resume(self) -> Outcome:
        draft = receiving.resume_receipt(self.store, self.actor)
        if draft is None:
            return Outcome()
        return self._opened(draft, "resumed your open receipt")

    def refresh(self) -> Outcome:
        if self.draft is not None and self.draft.po_number:
            receiving.refresh_receipt(self.store, self.actor, self.draft)
        return Outcome()

    def scan(self, text: str) -> Outcome:
        self._discard_armed = False
        resolution = resolve_scan(self.store, text)
        if self.step in ("badge", "pin"):
            if resolution.kind == "badge" and self.step == "badge":
                self._badge = text.strip()
                self.step = "pin"
                return Outcome("badge read: PIN please")
            self._drop_approval()
        handler = getattr(self, f"_scan_{self.step}", self._scan_item)
        return handler(resolution, text)

    def typed(self, text: str) -> Outcome:
        self._discard_armed = False
        text = text.strip()
        step = self.step
        if step == "po":
            if not text:
                return Outcome(self.prompt, error=True)
            resolution = resolve_scan(self.store, text)
            if resolution.kind == "purchase_order":
                return self._start(po=resolution.po_number)
            if text.upper().startswith(PO_PREFIX):  # a PO number typed in lower case
                return self._start(po=text)
            return self._start(supplier=text)
        if step == "badge":
            self._badge = text
            self.step = "pin" if text else step
            return Outcome("PIN please" if text else self.prompt)
        if step == "pin":
            return self._approve(text)
        if step == "lot":
            if not text:
                return Outcome(f"{self.pending.sku} is lot-tracked: give the lot", error=True)
            self.pending.lot = text
            self.step = "expiry" if self.pending.expiry is None else "putaway"
            return self._saved(f"lot {text}")
        if step == "expiry":
            if text:
                self.pending.expiry = parse_expiry(text)
            self.step = "putaway"
            return self._saved(f"expiry {self.pending.expiry.isoformat()}" if self.pending.expiry else "no expiry")
        if step in ("putaway", "serial") and not text:
            return self._put_away(None)
        if step == "putaway" and _is_number(text):
            return self._set_qty(Decimal(text), None)
        if not text:
            return Outcome(self.prompt)
        return self.scan(text)

    def confirm(self) -> Outcome:
        self._discard_armed = False
        if self.draft is None:
            if self.last_result is not None:
                return Outcome(f"already confirmed: {self.last_result.describe()}")
            return Outcome("nothing to confirm: scan a PO first", error=True)
        if self.pending is not None:
            return Outcome(f"scan the bin for {self.pending.describe()} first", error=True)
        if not self.draft.lines:
            return Outcome("nothing scanned yet", error=True)
        try:
            result = receiving.confirm_receipt(self.store, self.actor, self.draft)
        except RuleViolation as exc:
            receiving.refresh_receipt(self.store, self.actor, self.draft)
            return Outcome(str(exc), error=True)
        self.last_result = result
        self.draft = None
        self.step = "po"
        self._items.clear()
        return Outcome(result.describe())

    def cancel(self) -> Outcome:
        """Escape: step back out of an approval or an unfinished line; else leave the screen."""
        self._discard_armed = False
        if self.step in ("badge", "pin"):
            self._drop_approval()
            return Outcome("approval cancelled")
        if self.pending is not None:
            dropped = self.pending.describe()
            self.draft.pending = None
            self.step = "item"
            return self._saved(f"dropped {dropped}")
        return Outcome(back=True)

    def undo(self) -> Outcome:
        """Take the last put-away line off the receipt."""
        self._discard_armed = False
        if self.draft is None or not self.draft.lines:
            return Outcome("no line to undo", error=True)
        line = self.draft.remove_line(len(self.draft.lines) - 1)
        return self._saved(f"removed {line.describe()}")

    def discard(self) -> Outcome:
        """Throw the whole receipt away; asks for the key a second time."""
        if self.draft is None:
            return Outcome("no receipt to discard", error=True)
        if not self._discard_armed:
            self._discard_armed = True
            return Outcome("press F12 again to discard this receipt (nothing is posted)", error=True)
        receiving.discard_receipt(self.store, self.actor, self.draft.draft_id)
        self._discard_armed = False
        self.draft = None
        self.step = "po"
        return Outcome("receipt discarded")

    # -- steps ----------------------------------------------------------------------------------

    def _scan_po(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "purchase_order":
            return self._start(po=resolution.po_number)
        if resolution.kind == "unknown":
            return Outcome(resolution.message, error=True)
        return Outcome(f"{resolution.message}: scan a purchase order first", error=True)

    def _scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "product":
            return self._add_item(resolution, None)
        if resolution.kind == "location":
            if self.pending is None:
                return Outcome(f"{resolution.location_code}: scan an item first", error=True)
            return self._put_away(resolution.location_code)
        if resolution.kind == "purchase_order":
            if resolution.po_number == self.draft.po_number:
                return Outcome(f"already receiving {resolution.po_number}")
            return Outcome(f"confirm (F10) or discard (F12) this receipt before {resolution.po_number}", error=True)
        if resolution.kind == "badge":
            return Outcome("nothing needs approval", error=True)
        return Outcome(resolution.message, error=True)

    _scan_putaway = _scan_item

    def _scan_lot(self, resolution: ScanResolution, text: str) -> Outcome:
        pending = self.pending
        if resolution.kind == "product" and resolution.sku == pending.sku and resolution.lot:
            pending.lot, pending.expiry = resolution.lot, resolution.expiry or pending.expiry
        elif resolution.kind in ("product", "location", "purchase_order", "badge"):
            return Outcome(f"{resolution.message} is not a lot: type or scan the lot of {pending.sku}", error=True)
        else:
            pending.lot = decode_scan(text).plain_code or printable(text)
        self.step = "expiry" if pending.expiry is None else "putaway"
        return self._saved(f"lot {pending.lot}")

    def _scan_expiry(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "product" and resolution.expiry:
            self.pending.expiry = resolution.expiry
        elif resolution.kind == "location":
            self.step = "putaway"
            return self._put_away(resolution.location_code)
        else:
            self.pending.expiry = parse_expiry(decode_scan(text).plain_code or text)
        self.step = "putaway"
        return self._saved(f"expiry {self.pending.expiry.isoformat()}")

    def _scan_serial(self, resolution: ScanResolution, text: str) -> Outcome:
        pending = self.pending
        if resolution.kind == "location":
            return self._put_away(resolution.location_code)
        if resolution.kind == "product":
            if resolution.sku != pending.sku:
                return Outcome(f"finish {pending.describe()} first: scan its bin", error=True)
            if not resolution.serial:
                return Outcome(f"scan the serial number of {pending.sku}, not its product code", error=True)
            return self._add_item(resolution, None)
        if resolution.kind in ("purchase_order", "badge"):
            return Outcome(f"scan a serial of {pending.sku} or its bin", error=True)
        serial = decode_scan(text).plain_code or printable(text)
        return self._add_serial(pending.sku, serial, None)

    # -- changes --------------------------------------------------------------------------------

    def _item(self, sku: str) -> ReceivingItem:
        if sku not in self._items:
            self._items[sku] = receiving.receiving_item(self.store, self.actor, sku)
        return self._items[sku]

    def _add_item(self, resolution: ScanResolution, approved_by: str | None) -> Outcome:
        item = self._item(resolution.sku)
        pending = self.pending
        if pending is not None and pending.sku != item.sku:
            return Outcome(f"scan the bin for {pending.describe()} first (Esc drops it)", error=True)
        if item.tracking == "serial":
            refusal = None if approved_by or pending is not None else self.draft.refusal(item.sku, Decimal(1))
            if refusal:
                return self._hold(refusal, lambda manager: self._add_item(resolution, manager))
            if pending is None:
                self.draft.pending = ReceiptLine(item.sku, Decimal(0), approved_by=approved_by)
            self.step = "serial"
            if not resolution.serial:
                return self._saved(f"{item.sku} {item.name}: scan each serial")
            return self._add_serial(item.sku, resolution.serial, approved_by)
        qty = resolution.quantity or resolution.pack_qty
        if pending is not None and resolution.lot and pending.lot and resolution.lot != pending.lot:
            return Outcome(f"another lot ({resolution.lot}): scan the bin for lot {pending.lot} first", error=True)
        refusal = None if approved_by else self.draft.refusal(item.sku, qty)
        if refusal:
            return self._hold(refusal, lambda manager: self._add_item(resolution, manager))
        if pending is None:
            pending = self.draft.pending = ReceiptLine(item.sku, Decimal(0), lot=resolution.lot, expiry=resolution.expiry)
        pending.qty += qty
        pending.approved_by = pending.approved_by or approved_by
        pending.lot = pending.lot or resolution.lot
        pending.expiry = pending.expiry or resolution.expiry
        self.step = "lot" if item.tracking == "lot" and not pending.lot else "putaway"
        pack = f" (case of {qty_text(qty)})" if qty != 1 else ""
        return self._saved(f"{item.sku} {item.name}: {qty_text(pending.qty)}{pack}")

    def _add_serial(self, sku: str, serial: str, approved_by: str | None) -> Outcome:
        serial = serial.strip()
        if not serial:
            return Outcome("empty serial", error=True)
        if serial in self.draft.serials(sku):
            return Outcome(f"serial {serial} is already in this receipt", error=True)
        receiving.check_serial_free(self.store, sku, serial)
        refusal = None if approved_by else self.draft.refusal(sku, Decimal(1))
        if refusal:
            return self._hold(refusal, lambda manager: self._add_serial(sku, serial, manager))
        pending = self.pending
        pending.qty += 1
        pending.serials = (*pending.serials, serial)
        pending.approved_by = pending.approved_by or approved_by
        self.step = "serial"
        return self._saved(f"serial {serial}: {qty_text(pending.qty)} {sku}")

    def _set_qty(self, qty: Decimal, approved_by: str | None) -> Outcome:
        pending = self.pending
        if qty <= 0:
            return Outcome("a quantity must be more than zero", error=True)
        if approved_by is None and not pending.approved_by:
            refusal = self.draft.refusal(pending.sku, qty - pending.qty)
            if refusal:
                return self._hold(refusal, lambda manager: self._set_qty(qty, manager))
        pending.qty = qty
        pending.approved_by = pending.approved_by or approved_by
        return self._saved(f"{pending.sku}: {qty_text(qty)}")

    def _put_away(self, location: str | None) -> Outcome:
        pending = self.pending
        if pending is None:
            return Outcome("scan an item first", error=True)
        if pending.qty <= 0:
            return Outcome(f"scan a serial of {pending.sku} first", error=True)
        location = location or self._item(pending.sku).default_location
        if not location:
            return Outcome(f"{pending.sku} has no default location: scan the bin", error=True)
        done = f"{qty_text(pending.qty)} {pending.sku} -> {location}"
        self.draft.put_away(location)
        self.step = "item"
        return self._saved(done)

    def _hold(self, refusal: str, retry: Callable[[str], Outcome]) -> Outcome:
        self._held = retry
        self._return_step = self.step if self.step not in ("badge", "pin") else "item"
        self.step = "badge"
        return Outcome(f"{refusal} - manager: scan badge to approve", error=True)

    def _approve(self, pin: str) -> Outcome:
        retry, badge = self._held, self._badge
        target = self.draft.po_number or self.draft.supplier
        try:
            manager = receiving.approve_override(self.store, badge, pin, station=self.actor.station, target=target)
        except AuthError as exc:
            self._drop_approval()
            return Outcome(f"not approved: {exc}", error=True)
        self._drop_approval()
        outcome = retry(manager)
        return Outcome(f"approved by {manager}: {outcome.message}", error=outcome.error)

    def _drop_approval(self) -> None:
        self._held = None
        self._badge = ""
        if self.step in ("badge", "pin"):
            self.step = self._return_step

    def _start(self, *, po: str | None = None, supplier: str | None = None) -> Outcome:
        draft = receiving.start_receipt(self.store, self.actor, po=po, supplier=supplier)
        return self._opened(draft, f"receiving {draft.po_number or 'from ' + draft.supplier}")

    def _opened(self, draft: ReceiptDraft, message: str) -> Outcome:
        self.draft = draft
        self.last_result = None
        pending = draft.pending
        if pending is None:
            self.step = "item"
        else:
            item = self._item(pending.sku)
            if item.tracking == "serial":
                self.step = "serial"
            elif item.tracking == "lot" and not pending.lot:
                self.step = "lot"
            else:
                self.step = "putaway"
        return Outcome(message)

    def _saved(self, message: str) -> Outcome:
        receiving.save_receipt(self.store, self.actor, self.draft)
        return Outcome(message)


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


class ReceivingScreen(ImsScreen):
    """Goods in: PO -> items -> bins -> F10."""

    TITLE = "Receive"
    SCAN_STEPS = True
    CSS_PATH = Path(__file__).with_name("receiving.tcss")
    HELP = (
        "Scan the PO, then for each item: scan it (again to add a case or a unit, or type a quantity), "
        "give lot/expiry or serials when asked, and scan the bin (Enter takes the default bin). "
        "F10 posts everything at once. The receipt is saved after every scan: if the station drops, "
        "open Receive again and carry on. Refused items ring the bell; a manager's badge + PIN approves."
    )
    BINDINGS = [
        Binding("f10", "confirm", "Confirm", id="receive.confirm", priority=True),
        Binding("ctrl+z", "undo", "Undo line", id="receive.undo", priority=True),
        Binding("f12", "discard", "Discard", id="receive.discard", priority=True),
        Binding("escape", "cancel", "Back", id="receive.cancel", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._flow_commands: deque[tuple[str, tuple]] = deque()
        self._flow_lock = threading.Lock()
        self._flow_busy = False
        self._flow_closed = False
        self.flow: ReceivingFlow | None = None

    def open_work(self) -> str | None:
        """The receipt being scanned, for the quit question (ctrl+q); None when nothing is open."""
        draft = self.flow.draft if self.flow is not None else None
        if draft is None or not (draft.lines or draft.pending):
            return None
        return f"a receipt for {draft.po_number or draft.supplier} ({len(draft.lines)} line(s) scanned)"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="receipt-head")
        table = DataTable(id="receipt-lines", cursor_type="row", zebra_stripes=True)
        table.add_columns("SKU", "Item", "Ordered", "Recvd", "This", "Left")
        yield table
        yield Static("", id="receipt-done")
        yield Static("", id="receipt-pending")
        yield Label("", id="receipt-prompt")
        yield Input(id="receipt-input")
        yield Static("", id="receipt-message", classes="status-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.flow = ReceivingFlow(self.app.store, self.app.actor)
        self.query_one("#receipt-input", Input).focus()
        self._show(Outcome())
        self._run("resume")

    def on_unmount(self) -> None:
        self._flow_closed = True

    # -- input ----------------------------------------------------------------------------------

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        self._run("scan", message.text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        event.input.value = ""
        self._run("typed", text)

    def on_store_changed(self, message: StoreChanged) -> None:
        self._run("refresh")

    def action_confirm(self) -> None:
        self._run("confirm")

    def action_undo(self) -> None:
        self._run("undo")

    def action_discard(self) -> None:
        self._run("discard")

    def action_cancel(self) -> None:
        self._run("cancel")

    # -- the one worker that runs the flow ------------------------------------------------------

    def _run(self, command: str, *args: object) -> None:
        with self._flow_lock:
            self._flow_commands.append((command, args))
            if self._flow_busy:
                return
            self._flow_busy = True
        self._drain()

    @work(thread=True, group="receiving", exit_on_error=False)
    def _drain(self) -> None:
        while True:
            with self._flow_lock:
                if not self._flow_commands:
                    self._flow_busy = False
                    return
                command, args = self._flow_commands.popleft()
            try:
                outcome = getattr(self.flow, command)(*args)
            except ImsError as exc:
                outcome = Outcome(str(exc), error=True)
            except Exception as exc:  # noqa: BLE001 - the station must keep working and say what happened
                outcome = Outcome(f"unexpected {type(exc).__name__}: {exc}", error=True)
            self.app.call_from_thread(self._show, outcome)

    # -- showing ----------------------------------------------------------------------------------

    def _show(self, outcome: Outcome) -> None:
        if self._flow_closed:
            return
        if outcome.back:
            self.app.action_back()
            return
        flow = self.flow
        draft = flow.draft
        head = self.query_one("#receipt-head", Static)
        if draft is None:
            head.update(Text("No receipt open", style="bold"))
        else:
            po = draft.po
            title = f"{po.number}  {po.supplier}  [{po.status}]" if po else f"Receipt without PO from {draft.supplier}"
            head.update(Text.assemble((title, "bold"), f"   {len(draft.lines)} line(s), {qty_text(draft.total)} scanned"))
        table = self.query_one("#receipt-lines", DataTable)
        table.clear()
        for row in draft.rows() if draft else ():
            ordered = qty_text(row.ordered) if row.ordered is not None else "-"
            left = qty_text(row.remaining) if row.remaining is not None else "-"
            table.add_row(row.sku, row.name[:24], ordered, qty_text(row.received), qty_text(row.this_receipt), left, key=row.sku)
        done = draft.lines[-3:] if draft else []
        self.query_one("#receipt-done", Static).update(
            "\n".join(f"  {line.describe()}" for line in done) if done else ""
        )
        pending = flow.pending
        self.query_one("#receipt-pending", Static).update(
            Text.assemble(("Now: ", "bold"), pending.describe() + (" (approved by " + pending.approved_by + ")" if pending.approved_by else ""))
            if pending else ""
        )
        self.query_one("#receipt-prompt", Label).update(flow.prompt)
        field = self.query_one("#receipt-input", Input)
        field.password = flow.secret
        message = self.query_one("#receipt-message", Static)
        if outcome.message:
            message.update(outcome.message)
            message.set_class(outcome.error, "error-line")
            message.set_class(not outcome.error, "status-line")
            self.app.messages.append(outcome.message)
            if outcome.error:
                self.app.bell()


register_task(Task("receive", "Receive", "f3", Permission.RECEIVE, ReceivingScreen,
                   "goods in against a PO: scan items and bins"))
