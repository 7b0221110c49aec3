"""The picking station as a step flow: a pick list, then bin -> item per line in walking order.

Steps, one prompt at a time:

1. **pick** - scan or type the pick list number (``PK-...``), or a confirmed sales order's
   number to make its pick list now.  The picker's own open pick draft is resumed.
2. **bin** - the screen shows the next line (walking order): its bin, item, lot and what is
   left.  Scan that bin; another bin rings and says which one is wanted.
3. **item** - scan the item: a product code, a case code (counts its pack) or a GS1 label (its
   lot must be the allocated one or an equally good one in the same bin - the picking service
   decides; a later, sooner or expired lot rings and says why).  The quantity defaults to what
   is left (Enter or F10 takes it, or a typed number); each scan adds, and the line posts itself
   when the scans reach what is left.  Serial items: scan each serial.

F8 twice is a short pick: what was counted is posted, the rest is released and re-allocated
from the next bin (new lines, the list re-routes), else backordered or the order held (the
picking service's ``short_pick``).  Every post goes through ``picking.confirm_pick`` with the
idempotency key kept in the draft, so a station that drops mid-post posts once on resume.
"""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome
from ims_tui.services import ledger, picking
from ims_tui.services.changes import Change
from ims_tui.services.errors import NotFound
from ims_tui.services.picking import PICK_PREFIX, PickLineView, PickListView
from ims_tui.services.sales import SO_PREFIX
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.values import format_quantity, is_quantity, parse_quantity

qty_text = format_quantity


class PickingFlow(Flow):
    """The picking steps for one picker; a screen runs each command on a worker, one at a time."""

    KIND = picking.DRAFT_KIND
    TASK_ID = "pick"
    TITLE = "Pick"
    FIRST_STEP = "pick"
    STEPS = {
        "pick": "Scan or type the pick list (or a sales order to make its list)",
        "bin": "Go to {bin}: scan the bin",
        "item": "Scan {sku}{lot}: {left} to pick{counted} - Enter takes {take}, F8 twice = short",
    }
    ACTIONS = (
        FlowAction("f10", "confirm", "Post line"),
        FlowAction("f8", "short", "Short pick"),
        FlowAction("ctrl+z", "undo", "Undo"),
        FlowAction("escape", "cancel", "Back"),
    )

    def __init__(self, store, actor, *, station=None) -> None:
        super().__init__(store, actor, station=station)
        self.pick: PickListView | None = None
        self.draft_id: int | None = None
        self.owner = actor.username
        self.state: dict | None = None
        """The line in hand: ``line``, ``bin_ok``, ``counted``, ``lot``, ``serials``, ``key``."""
        self.last: str = ""
        self._open_lists: list[picking.PickSummary] | None = None

    # -- the engine's hooks -------------------------------------------------------------------

    @property
    def line(self) -> PickLineView | None:
        if self.pick is None or self.state is None:
            return None
        try:
            line = self.pick.line(self.state["line"])
        except NotFound:
            return None
        return line if line.status == "open" else None

    def snapshot(self) -> dict | None:
        return dict(self.state) if self.state is not None else None

    def restore(self, snapshot: dict | None) -> None:
        if snapshot is not None:
            self.state = dict(snapshot)

    def payload(self) -> dict | None:
        return {"pick": self.pick.number, **self.state} if self.pick and self.state is not None else None

    def draft_ref(self) -> tuple[int, str] | None:
        return (self.draft_id, self.owner) if self.draft_id is not None else None

    def prompt_fields(self) -> dict[str, str]:
        line = self.line
        if line is None:
            return {}
        counted = self._counted()
        return {
            "bin": f"{line.location} for {qty_text(line.remaining)} {line.sku}",
            "sku": line.sku,
            "lot": f" lot {self.state.get('lot') or line.lot}" if line.lot else "",
            "left": qty_text(line.remaining),
            "counted": f", {qty_text(counted)} scanned" if counted else "",
            "take": qty_text(Decimal(self.state.get("typed") or line.remaining)),
        }

    def view_body(self) -> FlowView:
        if self.pick is None:
            lists = self._open_lists if self._open_lists is not None else []
            return FlowView(head="Open pick lists" if lists else "No pick list open",
                            columns=("Pick list", "Orders", "Open", "Lines"),
                            rows=tuple((p.number, p.orders[:40], str(p.open_lines), str(p.lines)) for p in lists))
        pick = self.pick
        done = sum(1 for line in pick.lines if line.status != "open")
        rows = tuple((str(line.line_no), line.location, line.sku, (line.lot or "")[:10], qty_text(line.qty),
                      qty_text(line.qty_picked), line.order, line.status) for line in pick.lines)
        line = self.line
        pending = ""
        if line is not None:
            pending = (f"Now: line {line.line_no}  {line.location}{' (scanned)' if self.state['bin_ok'] else ''}  "
                       f"{line.sku} {line.product_name[:20]}{' lot ' + line.lot if line.lot else ''}  "
                       f"{qty_text(self._counted())} of {qty_text(line.remaining)}")
        return FlowView(head=f"{pick.number} [{pick.status}] {', '.join(pick.orders)} -> {pick.packing}  "
                             f"{done}/{len(pick.lines)} lines done",
                        columns=("#", "Bin", "SKU", "Lot", "Qty", "Picked", "Order", "Status"), rows=rows, pending=pending)

    def on_change(self, change: Change) -> Outcome:
        """Another station picked on (or re-routed) this list, or made a new one: show it now."""
        if self.pick is None:
            if change.everything or change.idents("picks"):
                self._open_lists = picking.list_picks(self.store, self.actor, open_only=True, limit=20)
            return Outcome()
        if change.everything or self.pick.number in change.idents("picks"):
            self._reload()
            if self.line is None:
                return self._next_line(self.pick.status == "open" and "another station took this line" or "")
        return Outcome()

    def resume(self) -> Outcome:
        draft = picking.resume_pick_draft(self.store, self.actor)
        if draft is None or not draft.payload.get("pick"):
            self._open_lists = picking.list_picks(self.store, self.actor, open_only=True, limit=20)
            return Outcome()
        self.draft_id, self.owner = draft.id, draft.username
        try:
            self.pick = picking.get_pick(self.store, self.actor, draft.payload["pick"])
        except NotFound:
            return self._leave(f"pick list {draft.payload['pick']} is gone")
        saved = {k: v for k, v in draft.payload.items() if k != "pick"}
        if saved.get("line") and self.pick.status == "open":
            self.state = saved
            if self.line is not None:
                return Outcome(f"resumed {self.pick.number} at line {saved['line']}",
                               next="item" if saved.get("bin_ok") else "bin")
        return self._next_line(f"resumed {self.pick.number}")

    # -- commands -----------------------------------------------------------------------------

    def confirm(self) -> Outcome:
        line = self.line
        if line is None:
            return Outcome("scan a pick list first", error=True)
        if not self.state["bin_ok"]:
            return Outcome(f"scan the bin {line.location} first", error=True)
        if not self.state.get("item_ok"):
            return Outcome(f"scan {line.sku} first", error=True)
        return self._post(Decimal(self.state.get("typed") or line.remaining))

    def short(self) -> Outcome:
        """F8 twice: post what was counted, the rest of the line is short (re-routed or backordered)."""
        line = self.line
        if line is None:
            return Outcome("no line to short-pick", error=True)
        if not self.armed("short"):
            counted = self._counted()
            keep = f" ({qty_text(counted)} scanned are posted)" if counted else ""
            return Outcome(f"F8 again: {qty_text(line.remaining - counted)} {line.sku} not in {line.location}{keep}",
                           warning=True)
        said = ""
        if self._counted() and self.state["bin_ok"]:
            posted = picking.confirm_pick(self.store, self.actor, self.pick.number, line.line_no, self._counted(),
                                          source=line.location, lot=self.state.get("lot"),
                                          serials=self.state.get("serials", ()), key=self.state["key"])
            said = f"picked {qty_text(posted.qty)}; "
            self.pick = posted.pick
        result = picking.short_pick(self.store, self.actor, self.pick.number, line.line_no)
        self.pick = result.pick
        self.forget_undo()
        outcome = self._next_line(said + result.describe())
        return Outcome(outcome.message, warning=True, next=outcome.next)

    def cancel_step(self) -> Outcome:
        if self.step == "item" and (self._counted() or self.state.get("item_ok")):
            self.state.update(counted="0", typed=None, item_ok=False, lot=None, serials=[])
            return Outcome("scans of this line dropped", next="item")
        if self.step == "item":
            self.state["bin_ok"] = False
            return Outcome("scan the bin again", next="bin")
        return Outcome(back=True)

    # -- steps --------------------------------------------------------------------------------

    def scan_pick(self, resolution: ScanResolution, text: str) -> Outcome:
        return self.typed_pick(printable(text.strip()))

    def typed_pick(self, text: str) -> Outcome:
        code = text.strip().upper()
        if not code:
            return Outcome(self.prompt, error=True)
        if code.startswith(SO_PREFIX):
            listed = [p for p in picking.list_picks(self.store, self.actor, open_only=True)
                      if code in p.orders.split(", ")]
            if listed:  # its list exists already (printed, or begun on another station)
                self.pick = picking.get_pick(self.store, self.actor, listed[0].number)
            else:
                self.pick = picking.create_pick(self.store, self.actor, [code])
        elif code.startswith(PICK_PREFIX):
            self.pick = picking.get_pick(self.store, self.actor, code)
        else:
            return Outcome(f"{text.strip()} is not a pick list ({PICK_PREFIX}...) or a sales order ({SO_PREFIX}...)",
                           error=True)
        draft = picking.open_pick_draft(self.store, self.actor, self.pick.number)
        self.draft_id, self.owner = draft.id, draft.username
        return self._next_line(f"picking {self.pick.number} for {', '.join(self.pick.orders)}")

    def scan_bin(self, resolution: ScanResolution, text: str) -> Outcome:
        line = self.line
        if resolution.kind == "location":
            if resolution.location_code != line.location:
                return Outcome(f"wrong bin: {resolution.location_code} - line {line.line_no} is in {line.location}",
                               error=True)
            self.state["bin_ok"] = True
            return Outcome(f"{line.location}: take {qty_text(line.remaining)} {line.sku}", next="item")
        if resolution.kind == "product":
            return Outcome(f"scan the bin {line.location} first", error=True)
        return Outcome(f"{resolution.message}: scan the bin {line.location}", error=True)

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        line = self.line
        if resolution.kind == "location":
            if resolution.location_code == line.location:
                return Outcome(f"already at {line.location}: scan {line.sku}")
            return Outcome(f"wrong bin: {resolution.location_code} - line {line.line_no} is in {line.location}",
                           error=True)
        if line.tracking == "serial" and resolution.kind == "unknown" and not resolution.problems:
            return self._add_serial(printable(text.strip()))  # a serial label: the serial alone
        if resolution.kind != "product":
            return Outcome(f"{resolution.message}: scan {line.sku}", error=True)
        if resolution.sku != line.sku:
            return Outcome(f"wrong item: {resolution.sku} - line {line.line_no} is {line.sku}", error=True)
        if resolution.problems:
            return Outcome(f"label problem: {resolution.problems[0]} - scan it again or the product code", error=True)
        said = ""
        if resolution.lot:
            swapped = picking.check_pick_lot(self.store, self.actor, self.pick.number, line.line_no, resolution.lot)
            held = self.state.get("lot")
            if held and held != resolution.lot:
                return Outcome(f"another lot ({resolution.lot}): finish lot {held} first (F10)", error=True)
            self.state["lot"] = resolution.lot
            said = f" (lot {swapped} swapped for {line.lot}: same expiry)" if swapped else f" lot {resolution.lot}"
        if line.tracking == "serial":
            if not resolution.serial:
                return Outcome(f"scan the serial of {line.sku}, not its product code", error=True)
            return self._add_serial(resolution.serial)
        self.state["item_ok"] = True
        qty = resolution.quantity or resolution.pack_qty
        return self._add(qty, said)

    def typed_item(self, text: str) -> Outcome | None:
        line = self.line
        if not text:
            return self.confirm()
        if not is_quantity(text):
            return None
        qty = parse_quantity(text)
        if not self.state.get("item_ok"):
            return Outcome(f"scan {line.sku} first, then type the quantity", error=True)
        if line.tracking == "serial":
            return Outcome(f"{line.sku} is serial-tracked: scan each serial", error=True)
        if qty <= 0 or qty > line.remaining:
            return Outcome(f"give 1 to {qty_text(line.remaining)}", error=True)
        self.state["typed"] = str(qty)
        return Outcome(f"{qty_text(qty)} {line.sku}: Enter posts it")

    # -- changes ------------------------------------------------------------------------------

    def _counted(self) -> Decimal:
        return Decimal(self.state.get("counted") or 0) if self.state else Decimal(0)

    def _add(self, qty: Decimal, said: str) -> Outcome:
        line = self.line
        counted = self._counted() + qty
        if counted > line.remaining:
            return Outcome(f"too many: line {line.line_no} needs {qty_text(line.remaining)}, "
                           f"{qty_text(self._counted())} scanned already", error=True)
        self.state["counted"] = str(counted)
        if counted == line.remaining:
            return self._post(counted)
        return Outcome(f"{line.sku}{said}: {qty_text(counted)} of {qty_text(line.remaining)}")

    def _add_serial(self, serial: str) -> Outcome:
        line = self.line
        if serial in self.state["serials"]:
            return Outcome(f"serial {serial} scanned already", error=True)
        every = len(line.serials) < int(line.remaining) + 3  # the view lists that many at most
        if line.serials and every and serial not in line.serials:
            return Outcome(f"serial {serial} is not in {line.location}: take one of {', '.join(line.serials[:3])}",
                           error=True)
        self.state["serials"] = [*self.state["serials"], serial]
        self.state["item_ok"] = True
        return self._add(Decimal(1), f" serial {serial}")

    def _post(self, qty: Decimal) -> Outcome:
        line = self.line
        serials = self.state.get("serials") or ()
        if line.tracking == "serial" and len(serials) != qty:
            return Outcome(f"scan {qty_text(qty - len(serials))} more serial(s) of {line.sku}", error=True)
        result = picking.confirm_pick(self.store, self.actor, self.pick.number, line.line_no, qty,
                                      source=line.location, lot=self.state.get("lot"), serials=serials,
                                      key=self.state["key"])
        self.pick = result.pick
        self.forget_undo()
        swap = f" (lot {result.swapped_lot})" if result.swapped_lot else ""
        return self._next_line(f"picked {qty_text(qty)} {line.sku}{swap} from {line.location}")

    def _next_line(self, said: str) -> Outcome:
        """Go to the next open line in walking order, or close the list when none is left."""
        following = self.pick.next_line if self.pick else None
        if following is None:
            return self._leave(f"{said}; {self.pick.number} is {self.pick.status}" if said else
                               f"{self.pick.number} is {self.pick.status}")
        self.state = {"line": following.line_no, "bin_ok": False, "item_ok": False, "counted": "0", "typed": None, "lot": None,
                      "serials": [], "key": ledger.new_key()}
        where = f"next: {following.location} {following.sku} x {qty_text(following.remaining)}"
        return Outcome(f"{said}; {where}" if said else where, next="bin")

    def _leave(self, said: str) -> Outcome:
        if self.draft_id is not None:
            picking.close_pick_draft(self.store, self.actor, self.draft_id)
        self.draft_id, self.pick, self.state = None, None, None
        self.last = said
        self.forget_undo()
        self._open_lists = picking.list_picks(self.store, self.actor, open_only=True, limit=20)
        return Outcome(said, next="pick")

    def _reload(self) -> None:
        self.pick = picking.get_pick(self.store, self.actor, self.pick.number)


__all__ = ["PickingFlow"]
