"""Inter-warehouse transfers as a step flow: pick a transfer, ship it from bins, receive it by
scans at the other warehouse, close it (managers).

1. **transfer** - the open transfers are listed; scan or type a number (``TR-000004``).
2. **ship** (a transfer not shipped yet) - scan the bins to ship from, in the order to take from;
   F10 ships every line into transit in one posting
   (:func:`~ims_tui.services.stock_transfers.ship`, all lines or nothing).
3. **item** / **bin** (a shipped transfer) - scan an item that arrived (a case counts its pack,
   type a number to set how many), then the bin it goes to: received at once
   (:func:`~ims_tui.services.stock_transfers.receive`, never more than was shipped).
4. F12 twice closes the transfer: what never arrived leaves transit as a loss (the service
   allows it to managers only and says so to anyone else).

Every posting carries its own idempotency key, so a retried step never posts twice.
"""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome, typed_quantity
from ims_tui.services import ledger, stock_transfers
from ims_tui.services.changes import Change
from ims_tui.services.permissions import Permission
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.services.stock_transfers import TRANSFER_PREFIX, TransferSummary, TransferView
from ims_tui.values import format_quantity

qty_text = format_quantity


class TransfersFlow(Flow):
    """Transfer -> ship bins + F10, or items + bins; F12 twice closes."""

    KIND, TASK_ID, TITLE = "transfer", "transfers", "Transfers"
    FIRST_STEP = "transfer"
    STEPS = {
        "transfer": "Scan or type the transfer number",
        "ship": "Scan the bins to ship {number} from{bins}, then F10 ships",
        "item": "Scan an item of {number} that arrived (F12 twice closes the transfer)",
        "bin": "{what}: scan the bin it goes to, or type a quantity",
    }
    ACTIONS = (
        FlowAction("f10", "ship", "Ship", permission=Permission.MOVE),
        FlowAction("f12", "close", "Close", permission=Permission.ADJUST),
        FlowAction("escape", "cancel", "Back"),
    )

    def __init__(self, store, actor, *, station=None) -> None:
        super().__init__(store, actor, station=station)
        self.transfer: TransferView | None = None
        self.sources: list[str] = []
        self.item: dict | None = None
        self.open: list[TransferSummary] = []
        self.key = ledger.new_key()

    def prompt_fields(self) -> dict[str, str]:
        item = self.item
        return {"number": self.transfer.number if self.transfer else "",
                "bins": f" (so far {' '.join(self.sources)})" if self.sources else "",
                "what": f"{item['units']} {item['sku']}" if item else ""}

    def view_body(self) -> FlowView:
        if self.transfer is None:
            rows = tuple((t.number, f"{t.source} -> {t.destination}", t.status, qty_text(t.qty), qty_text(t.shipped),
                          qty_text(t.received)) for t in self.open)
            return FlowView(head="Open transfers" if rows else "No open transfer",
                            columns=("Transfer", "Route", "Status", "Qty", "Shipped", "Recvd"), rows=rows)
        t = self.transfer
        rows = tuple((str(ln.line_no), ln.sku, ln.name[:22], qty_text(ln.qty), qty_text(ln.shipped), qty_text(ln.received))
                     for ln in t.lines)
        return FlowView(head=f"{t.number}  {t.source} -> {t.destination}  [{t.status}]  {qty_text(t.in_transit)} in transit",
                        columns=("#", "SKU", "Item", "Qty", "Shipped", "Recvd"), rows=rows,
                        pending=f"Now: {self.prompt_fields()['what']}" if self.item else "")

    def resume(self) -> Outcome:
        self._list()
        return Outcome()

    def on_change(self, change: Change) -> Outcome:
        if not change.touches("transfers"):
            return Outcome()
        if self.transfer is None:
            self._list()
        elif change.everything or self.transfer.number in change.idents("transfers"):
            self.transfer = stock_transfers.get_transfer(self.store, self.actor, self.transfer.number)
        return Outcome()

    # -- commands -----------------------------------------------------------------------------

    def ship(self) -> Outcome:
        if self.transfer is None or self.step != "ship":
            return Outcome("pick a transfer that is not shipped yet", error=True)
        if not self.sources:
            return Outcome(f"scan the bins to ship {self.transfer.number} from first", error=True)
        self.transfer = stock_transfers.ship(self.store, self.actor, self.transfer.number, self.sources, key=self.key)
        self.key, self.sources = ledger.new_key(), []
        return Outcome(f"{self.transfer.number} shipped: {qty_text(self.transfer.in_transit)} in transit", next="item")

    def close(self) -> Outcome:
        if self.transfer is None:
            return Outcome("pick a transfer first", error=True)
        if not self.armed("close"):
            return Outcome(f"press F12 again to close {self.transfer.number} (what did not arrive is written off)",
                           error=True)
        view = stock_transfers.close(self.store, self.actor, self.transfer.number, key=self.key)
        self.key = ledger.new_key()
        self._leave()
        lost = view.differences()
        return Outcome(f"{view.number} closed" + (f": {'; '.join(lost)[:60]}" if lost else ""), next="transfer")

    def cancel_step(self) -> Outcome:
        if self.item is not None:
            self.item = None
            return Outcome("item dropped", next="item")
        if self.transfer is not None:
            self._leave()
            return Outcome("", next="transfer")
        return Outcome(back=True)

    # -- steps --------------------------------------------------------------------------------

    def typed_transfer(self, text: str) -> Outcome:
        if not text:
            return Outcome(self.prompt, error=True)
        number = text.strip().upper()
        if number.isdigit():
            number = f"{TRANSFER_PREFIX}{int(number):06d}"
        return self._open(number)

    def scan_transfer(self, resolution: ScanResolution, text: str) -> Outcome:
        code = printable(text.strip()).upper()
        if code.startswith(TRANSFER_PREFIX):
            return self._open(code)
        return Outcome(f"{resolution.message or code}: scan a transfer number first", error=True)

    def scan_ship(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind != "location":
            return Outcome(f"{resolution.message or printable(text)}: scan a bin to ship from", error=True)
        code = stock_transfers.stock_bin(self.store, self.actor, resolution.location_code)
        if code in self.sources:
            return Outcome(f"{code} is on the list already", error=True)
        self.sources.append(code)
        return Outcome(f"ship from {' '.join(self.sources)}")

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "location":
            return Outcome("scan the item first, then its bin", error=True)
        if resolution.kind != "product":
            return Outcome(resolution.message or f"unknown code: {printable(text)}", error=True)
        if resolution.sku not in {ln.sku for ln in self.transfer.lines}:
            return Outcome(f"{resolution.sku} is not on {self.transfer.number}", error=True)
        units = Decimal(1) if resolution.serial else resolution.pack_qty * (resolution.quantity or Decimal(1))
        self.item = {"code": text.strip(), "sku": resolution.sku, "qty": None, "units": qty_text(units),
                     "lot": resolution.lot, "serials": [resolution.serial] if resolution.serial else [],
                     "key": ledger.new_key()}
        return Outcome(f"{resolution.sku}: {qty_text(units)}", next="bin")

    def scan_bin(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind != "location":
            return Outcome(f"scan the bin for {self.item['sku']} (Esc drops it)", error=True)
        item = self.item
        qty = Decimal(item["qty"]) if item["qty"] else None
        self.transfer = stock_transfers.receive(self.store, self.actor, self.transfer.number, item["code"], qty,
                                                to=resolution.location_code, lot=item["lot"],
                                                serials=item["serials"] if item["code"] != item["sku"] else (),
                                                key=item["key"])
        self.item = None
        return Outcome(f"received {item['units']} {item['sku']} into {resolution.location_code}", next="item")

    def typed_bin(self, text: str) -> Outcome | None:
        qty = typed_quantity(text) if text else None
        if qty is not None:
            self.item.update(code=self.item["sku"], qty=str(qty), units=qty_text(qty))
            return Outcome(f"{self.item['sku']}: {qty_text(qty)}")
        return None

    # -- state ----------------------------------------------------------------------------------

    def _open(self, number: str) -> Outcome:
        view = stock_transfers.get_transfer(self.store, self.actor, number)
        if view.status == "draft":
            self.transfer, self.sources = view, []
            return Outcome(f"{view.number}: scan the bins to ship from", next="ship")
        if view.status in ("shipped", "partial"):
            self.transfer = view
            return Outcome(f"{view.number}: scan what arrived", next="item")
        return Outcome(f"{view.number} is {view.status}: nothing to do", error=True)

    def _leave(self) -> None:
        self.transfer, self.sources, self.item = None, [], None
        self._list()

    def _list(self) -> None:
        self.open = stock_transfers.list_transfers(self.store, self.actor, open_only=True, limit=12)


__all__ = ["TransfersFlow"]
