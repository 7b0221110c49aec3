"""Bin-to-bin moves as a step flow: scan the source bin, the items, then the destination bin.

Steps, one prompt at a time, scans accepted at every step:

1. **source** - scan the bin the goods come from (an area or a virtual location is refused).
2. **item** - scan each item taken: a product barcode is one, a case barcode its pack, a GS1
   label its count (and lot, serial); scanning the same code again adds one more of it; typing
   a number sets how many units of the item just scanned.  Scanning a bin ends the list: that
   bin is the destination and everything posts at once, in one posting, through
   :func:`~ims_tui.services.stock_transfers.move_bin_to_bin` (idempotent: a retried post is a no-op).

The list is saved after every scan (a draft per mover); Ctrl+Z takes back the last scan, Ctrl+R
removes a line by number, F12 twice throws the move away.  The ledger refuses what the source
bin does not hold (nothing moves), so the mover scans again or removes the line.
"""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome, typed_quantity
from ims_tui.services import stock_transfers
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.services.stock_transfers import BinItem
from ims_tui.values import format_quantity

qty_text = format_quantity


class MovingFlow(Flow):
    """Source bin -> items -> destination bin (posts)."""

    KIND = stock_transfers.MOVE_DRAFT
    TASK_ID = "move"
    TITLE = "Move"
    FIRST_STEP = "source"
    STEPS = {
        "source": "Scan the bin to move from",
        "item": "Scan the items taken from {source} (or type a quantity), then scan the destination bin",
    }
    ACTIONS = (
        FlowAction("ctrl+z", "undo", "Undo"),
        FlowAction("ctrl+r", "remove", "Remove line"),
        FlowAction("f12", "discard", "Discard"),
        FlowAction("escape", "cancel", "Back"),
    )

    def __init__(self, store, actor, *, station=None) -> None:
        super().__init__(store, actor, station=station)
        self.source: str | None = None
        self.key: str | None = None
        self.draft_id: int | None = None
        self.owner: str | None = None
        self.items: list[dict] = []
        """{code, sku, name, qty (of the code), units, lot, serials} in scan order."""
        self.last_result: str | None = None

    # -- the engine's hooks -------------------------------------------------------------------

    def snapshot(self) -> dict | None:
        return {"items": self.items} if self.source else None

    def restore(self, snapshot: dict | None) -> None:
        if snapshot is not None:
            self.items = snapshot["items"]

    def payload(self) -> dict | None:
        if self.source is None:
            return None
        return {"source": self.source, "key": self.key, "items": self.items, "lines": self.items}

    def draft_ref(self) -> tuple[int, str] | None:
        return (self.draft_id, self.owner) if self.draft_id is not None else None

    def lines(self) -> list[str]:
        return [self._describe(item) for item in self.items]

    def remove_line(self, index: int) -> str:
        return self._describe(self.items.pop(index))

    def prompt_fields(self) -> dict[str, str]:
        return {"source": self.source or ""}

    def view_body(self) -> FlowView:
        if self.source is None:
            return FlowView(head=self.last_result or "Move stock from bin to bin")
        units = sum((Decimal(item["units"]) for item in self.items), Decimal(0))
        rows = tuple((item["sku"], item["name"][:30], item.get("lot") or "", qty_text(Decimal(item["units"])))
                     for item in self.items)
        return FlowView(head=f"From {self.source}: {len(self.items)} line(s), {qty_text(units)} unit(s)",
                        columns=("SKU", "Item", "Lot", "Units"), rows=rows)

    def resume(self) -> Outcome:
        draft = stock_transfers.resume_move_draft(self.store, self.actor)
        if draft is None:
            return Outcome()
        self._opened(draft)
        return Outcome(f"resumed your move from {self.source}", next="item")

    # -- commands -----------------------------------------------------------------------------

    def discard(self) -> Outcome:
        if self.source is None:
            return Outcome("no move to discard", error=True)
        if not self.armed("discard"):
            return Outcome("press F12 again to discard this move (nothing is posted)", error=True)
        stock_transfers.discard_move_draft(self.store, self.actor, self.draft_id)
        self._reset()
        self.forget_undo()
        return Outcome("move discarded", next="source")

    def cancel_step(self) -> Outcome:
        return Outcome(back=True)

    # -- steps --------------------------------------------------------------------------------

    def scan_source(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind != "location":
            return Outcome(f"{resolution.message or printable(text)}: scan the bin to move from first", error=True)
        draft = stock_transfers.open_move_draft(self.store, self.actor, resolution.location_code, {"items": []})
        self.last_result = None
        self._opened(draft)
        return Outcome(f"moving from {self.source}: scan the items", next="item")

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "location":
            return self._post(resolution.location_code)
        if resolution.kind != "product":
            return Outcome(resolution.message or f"unknown code: {printable(text)}", error=True)
        if resolution.problems:
            return Outcome(f"label problem: {resolution.problems[0]} - scan the item's barcode", error=True)
        code = text.strip()
        per_scan = resolution.pack_qty * (resolution.quantity or Decimal(1))
        if resolution.serial:
            entry = next((i for i in self.items if i["sku"] == resolution.sku and i["serials"]), None)
            if entry is not None and resolution.serial in entry["serials"]:
                return Outcome(f"serial {resolution.serial} is already in this move", error=True)
            if entry is None:
                entry = {"code": resolution.sku, "sku": resolution.sku, "name": resolution.product_name or "",
                         "qty": "1", "units": "0", "lot": resolution.lot, "serials": []}
                self.items.append(entry)
            entry["serials"].append(resolution.serial)
            entry["units"] = str(len(entry["serials"]))
            return Outcome(f"serial {resolution.serial}: {entry['units']} {resolution.sku}")
        entry = next((i for i in self.items if i["code"] == code and not i["serials"]), None)
        if entry is None:
            entry = {"code": code, "sku": resolution.sku, "name": resolution.product_name or "", "qty": "0",
                     "units": "0", "lot": resolution.lot, "serials": []}
            self.items.append(entry)
        else:
            self.items.append(self.items.pop(self.items.index(entry)))  # the last scanned is last
        entry["qty"] = qty_text(Decimal(entry["qty"]) + 1)
        entry["units"] = qty_text(Decimal(entry["units"]) + per_scan)
        pack = f" (case of {qty_text(per_scan)})" if per_scan != 1 else ""
        return Outcome(f"{resolution.sku} {resolution.product_name or ''}: {qty_text(Decimal(entry['units']))}{pack}")

    def typed_item(self, text: str) -> Outcome | None:
        if not text:
            return Outcome(self.prompt, error=True)
        qty = typed_quantity(text)
        if qty is None:
            return None  # a code typed by hand: resolved like a scan
        if not self.items:
            return Outcome("scan the item first, then type how many", error=True)
        entry = self.items[-1]
        if entry["serials"]:
            return Outcome(f"{entry['sku']} moves by serial: scan each one", error=True)
        entry.update(code=entry["sku"], qty=qty_text(qty), units=qty_text(qty))  # units of the product now
        return Outcome(f"{entry['sku']}: {qty_text(qty)}")

    # -- posting --------------------------------------------------------------------------------

    def _post(self, destination: str) -> Outcome:
        if not self.items:
            return Outcome(f"scan the items to move from {self.source} first", error=True)
        destination = stock_transfers.stock_bin(self.store, self.actor, destination)
        if destination == self.source:
            return Outcome(f"{destination} is the bin you move from: scan the destination bin", error=True)
        items = [BinItem(i["code"], Decimal(i["qty"]), i.get("lot"), tuple(i["serials"])) for i in self.items]
        stock_transfers.move_bin_to_bin(self.store, self.actor, self.source, destination, items, key=self.key,
                                        draft_id=self.draft_id)
        units = sum((Decimal(i["units"]) for i in self.items), Decimal(0))
        said = f"moved {len(self.items)} line(s), {qty_text(units)} unit(s): {self.source} -> {destination}"
        self._reset()
        self.forget_undo()
        self.last_result = said
        return Outcome(said, next="source")

    def _opened(self, draft) -> None:
        payload = draft.payload
        self.source, self.key = payload["source"], payload["key"]
        self.items = list(payload.get("items") or [])
        self.draft_id, self.owner = draft.id, draft.username

    def _reset(self) -> None:
        self.source = self.key = self.draft_id = self.owner = None
        self.items = []

    @staticmethod
    def _describe(item: dict) -> str:
        lot = f" lot {item['lot']}" if item.get("lot") else ""
        serials = f" ({', '.join(item['serials'][:3])}{'...' if len(item['serials']) > 3 else ''})" if item["serials"] else ""
        return f"{qty_text(Decimal(item['units']))} {item['sku']}{lot}{serials}"


__all__ = ["MovingFlow"]
