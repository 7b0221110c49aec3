"""Scrap as a step flow: scan the bin, the item (type how many), then type the reason: posted.

Steps, one prompt at a time:

1. **bin** - scan the bin the goods are in (an area or a virtual location is refused).
2. **item** - scan the item: a case barcode counts its pack, a GS1 label its count, lot, serial.
3. **reason** - type a quantity to change how many, or the reason code (damaged, expired, lost,
   sample): that posts the scrap, once (idempotency key per item), through
   :func:`~ims_tui.services.scrap.scrap`.  Scrap worth more than the site's approval value is
   refused with the bell and waits for a manager's badge and PIN, then posts approved by them.
"""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome, typed_quantity
from ims_tui.services import ledger, scrap, stock_transfers
from ims_tui.services.errors import RuleViolation
from ims_tui.services.permissions import Permission
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.values import format_quantity

qty_text = format_quantity


class ScrapFlow(Flow):
    """Bin -> item -> reason (posts)."""

    KIND, TASK_ID, TITLE = "scrap", "scrap", "Scrap"
    FIRST_STEP = "bin"
    STEPS = {
        "bin": "Scan the bin the goods to scrap are in",
        "item": "Scan the item to scrap from {bin}",
        "reason": "{what}: type a quantity, or the reason (" + ", ".join(scrap.REASONS) + ") to scrap",
    }
    ACTIONS = (FlowAction("f9", "sweep", "Expired sweep", permission=Permission.ADJUST), FlowAction("escape", "cancel", "Back"))

    def __init__(self, store, actor, *, station=None) -> None:
        super().__init__(store, actor, station=station)
        self.bin: str | None = None
        self.item: dict | None = None
        self.done: list[str] = []
        self.expired: list[scrap.ExpiredLot] = []
        self.sweep_key = ledger.new_key()

    def lines(self) -> list[str]:
        return list(self.done)

    def prompt_fields(self) -> dict[str, str]:
        item = self.item
        what = f"{qty_text(Decimal(item['units']))} {item['sku']}" + (f" lot {item['lot']}" if item and item["lot"] else "") \
            if item else ""
        return {"bin": self.bin or "", "what": what}

    def view_body(self) -> FlowView:
        head = f"Scrap from {self.bin}" if self.bin else "Scrap"
        pending = f"Now: {self.prompt_fields()['what']} {self.item['name']}" if self.item else ""
        rows = tuple((row.sku, row.lot, row.expiry.isoformat(), row.location, qty_text(row.on_hand), str(row.value))
                     for row in self.expired)
        columns = ("SKU", "Lot", "Expired", "Bin", "Qty", "Value") if rows else ()
        return FlowView(head=head, columns=columns, rows=rows, pending=pending)

    def sweep(self) -> Outcome:
        """F9: list the expired lots in bins; F9 again scraps them all in one posting (managers)."""
        if not self.armed("sweep"):
            self.expired = scrap.expired_lots(self.store, self.actor)
            if not self.expired:
                self.armed("other")  # nothing to confirm
                return Outcome("no expired lots in bins")
            value = sum((row.value for row in self.expired), Decimal(0))
            return Outcome(f"{len(self.expired)} expired lot(s) worth about {value}: press F9 again to scrap them all",
                           warning=True)
        result = scrap.scrap_expired(self.store, self.actor, [(r.sku, r.lot, r.location) for r in self.expired],
                                     key=self.sweep_key)
        self.sweep_key, self.expired = ledger.new_key(), []
        self.done.append(f"expired-lot sweep: {result.describe()}")
        return Outcome(f"expired-lot sweep: {result.describe()}")

    def cancel_step(self) -> Outcome:
        if self.item is not None:
            dropped, self.item = self.item["sku"], None
            return Outcome(f"dropped {dropped}", next="item")
        return Outcome(back=True)

    def scan_bin(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind != "location":
            return Outcome(f"{resolution.message or printable(text)}: scan the bin first", error=True)
        self.bin = stock_transfers.stock_bin(self.store, self.actor, resolution.location_code)
        return Outcome(f"scrapping from {self.bin}", next="item")

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "location":
            return self.scan_bin(resolution, text)
        if resolution.kind != "product":
            return Outcome(resolution.message or f"unknown code: {printable(text)}", error=True)
        if resolution.problems:
            return Outcome(f"label problem: {resolution.problems[0]} - scan the item's barcode", error=True)
        units = Decimal(1) if resolution.serial else resolution.pack_qty * (resolution.quantity or Decimal(1))
        self.item = {"code": text.strip(), "sku": resolution.sku, "name": resolution.product_name or "",
                     "qty": None, "units": qty_text(units), "lot": resolution.lot, "key": ledger.new_key()}
        return Outcome(f"{resolution.sku}: {qty_text(units)}", next="reason")

    scan_reason = scan_item

    def typed_reason(self, text: str) -> Outcome | None:
        if not text:
            return Outcome(self.prompt, error=True)
        qty = typed_quantity(text)
        if qty is not None:
            self.item.update(code=self.item["sku"], qty=str(qty), units=qty_text(qty))
            return Outcome(f"{self.item['sku']}: {qty_text(qty)}")
        if text.lower() not in scrap.REASONS:
            return Outcome(f"the reason is one of {', '.join(scrap.REASONS)}", error=True)
        return self._post(text.lower(), None)

    def _post(self, reason: str, approved_by: str | None) -> Outcome:
        item = self.item
        qty = Decimal(item["qty"]) if item["qty"] else None
        try:
            result = scrap.scrap(self.store, self.actor, item["code"], qty, source=self.bin, reason=reason,
                                 lot=item["lot"], approved_by=approved_by, key=item["key"])
        except RuleViolation as exc:
            if approved_by is None and "manager must approve" in str(exc):
                return self.hold(str(exc), lambda manager: self._post(reason, manager), target=item["sku"])
            raise
        said = f"{item['sku']} from {self.bin}: {result.describe()}"
        self.done.append(said)
        self.item = None
        return Outcome(said, next="item")


__all__ = ["ScrapFlow"]
