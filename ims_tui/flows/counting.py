"""Cycle counting as a step flow: pick a count, then bin by bin scan what is there.  BLIND.

Steps, one prompt at a time, scans accepted at every step:

1. **task** - scan or type the count's number (``CC-000012``, or just ``12``); the open counts
   are listed.  The counter's own count in progress is resumed where it was left.
2. **bin** - go to the bin the prompt names (or any other bin of the count) and scan it.
3. **item** - scan every item: a product barcode counts one, a case barcode its pack, a GS1
   label its count element (with its lot); typing a number sets the count of the item just
   scanned (where scanning each unit is silly).  F8: bin done (what was not scanned there counts
   zero); F7: the bin is empty (one key; press again when something was scanned in it).
4. **lot** - a lot-tracked item scanned by its plain barcode: type or scan the lot.
5. **serial** - a serial-tracked item: one scan per unit's serial; Enter when the bin's serials
   are all scanned.

F10 submits the count (press again) once every bin is done.  Every scan is recorded at once by
:mod:`ims_tui.services.counts` (which keeps the ledger position), so nothing is lost when the
station drops; the draft keeps where the counter was.  The counter never sees what the store
expects: the screen shows bins, and what this counter counted, nothing else.
"""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.engine import Flow, FlowAction, FlowView, Outcome, typed_quantity
from ims_tui.services import counts
from ims_tui.services.changes import Change
from ims_tui.services.errors import RuleViolation
from ims_tui.services.scans import ScanResolution, printable
from ims_tui.values import format_quantity, is_quantity

qty_text = format_quantity
LISTED = 12
"""How many open counts the task step lists."""


def count_number(text: str) -> str:
    """``CC-000012`` from what a counter types: the number, or just its digits."""
    text = text.strip().upper()
    if text.isdigit():
        return f"{counts.COUNT_PREFIX}{int(text):06d}"
    return text


class CountingFlow(Flow):
    """The counting steps for one counter; a screen runs each command on a worker, one at a time."""

    KIND = counts.DRAFT_KIND
    TASK_ID = "count"
    TITLE = "Count"
    FIRST_STEP = "task"
    STEPS = {
        "task": "Scan or type the count number",
        "bin": "Go to {next}scan the bin",
        "item": "Scan items in {bin}, or type a quantity - F8 bin done, F7 bin empty",
        "lot": "Lot of {sku} (type or scan)",
        "serial": "Scan each serial of {sku} in {bin} (Enter when done)",
    }
    ACTIONS = (
        FlowAction("f8", "done", "Bin done"),
        FlowAction("f7", "empty", "Bin empty"),
        FlowAction("f10", "submit", "Submit"),
        FlowAction("escape", "cancel", "Back"),
    )

    def __init__(self, store, actor, *, station=None) -> None:
        super().__init__(store, actor, station=station)
        self.number: str | None = None
        self.draft_id: int | None = None
        self.owner: str | None = None
        self.bin: str | None = None
        self.counted: dict[str, dict] = {}
        """What this counter counted in the current bin: "sku|lot" -> {sku, name, lot, qty}."""
        self.last: dict | None = None
        """The item scanned last (a typed quantity sets its count): {sku, name, lot, tracking}."""
        self.bins: tuple[counts.CountBinView, ...] = ()
        self.status = ""
        self.open_counts: list[counts.CountSummary] = []

    # -- the engine's hooks -------------------------------------------------------------------

    def snapshot(self) -> dict | None:
        if self.number is None:
            return None
        return {"number": self.number, "bin": self.bin, "step": self.step, "counted": self.counted, "last": self.last}

    def restore(self, snapshot: dict | None) -> None:  # pragma: no cover - counting has no undo
        pass

    def payload(self) -> dict | None:
        return self.snapshot()

    def draft_ref(self) -> tuple[int, str] | None:
        return (self.draft_id, self.owner) if self.draft_id is not None else None

    def lines(self) -> list[str]:
        return [self._describe(entry) for entry in self.counted.values()]

    def prompt_fields(self) -> dict[str, str]:
        upcoming = self.next_bin()
        return {
            "next": f"{upcoming} and " if upcoming else "a bin of the count and ",
            "bin": self.bin or "",
            "sku": self.last["sku"] if self.last else "",
        }

    def view_body(self) -> FlowView:
        if self.number is None:
            rows = tuple((c.number, c.kind, c.status, f"{c.bins_done}/{c.bins}", c.scope[:34]) for c in self.open_counts)
            head = "Open counts" if rows else "No count is open: a manager creates one under Counts"
            return FlowView(head=head, columns=("Count", "Kind", "Status", "Bins", "Scope"), rows=rows)
        done = sum(1 for b in self.bins if b.status == "done")
        head = f"{self.number} [{self.status}]   {done}/{len(self.bins)} bins done"
        if self.bin:
            head += f"   counting {self.bin}"
        rows = tuple((b.location, b.status, b.counted_by or "") for b in self.bins)
        pending = ""
        if self.last and self.step in ("item", "serial", "lot"):
            key = self._key(self.last["sku"], self.last.get("lot"))
            entry = self.counted.get(key)
            pending = f"Now: {self._describe(entry)}" if entry else f"Now: {self.last['sku']} {self.last['name']}"
        return FlowView(head=head, columns=("Bin", "Status", "By"), rows=rows, pending=pending)

    def on_change(self, change: Change) -> Outcome:
        """Another station counted, submitted or created a count: re-read the list or the bins."""
        if not change.touches("counts"):
            return Outcome()
        if self.number is None:
            self._load_open_counts()
        elif change.everything or self.number in change.idents("counts"):
            self._refresh()
        return Outcome()

    def resume(self) -> Outcome:
        draft = counts.resume_count_draft(self.store, self.actor)
        if draft is None:
            self._load_open_counts()
            return Outcome()
        try:
            return self._opened(draft, "resumed your count")
        except RuleViolation:  # the count was closed meanwhile: its draft is done with
            counts.close_count_draft(self.store, self.actor, draft.id)
            self._reset()
            return Outcome(f"{draft.reference} is closed now: pick another count")

    def undo(self) -> Outcome:
        return Outcome("a count is recorded as it is scanned: type the right quantity (it replaces)", error=True)

    # -- helpers the screen and tests use -------------------------------------------------------

    def next_bin(self) -> str | None:
        for wanted in ("counting", "todo"):
            for b in self.bins:
                if b.status == wanted and b.location != self.bin:
                    return b.location
        return None

    # -- commands -----------------------------------------------------------------------------

    def done(self) -> Outcome:
        if self.bin is None:
            return Outcome("scan a bin first", error=True)
        view = counts.bin_done(self.store, self.actor, self.number, self.bin)
        return self._bin_closed(view, f"{self.bin} done")

    def empty(self) -> Outcome:
        if self.bin is None:
            return Outcome("scan the empty bin first", error=True)
        if self.counted and not self.armed("empty"):
            return Outcome(f"you counted items in {self.bin}: press F7 again to count it empty", error=True)
        view = counts.mark_empty(self.store, self.actor, self.number, self.bin)
        return self._bin_closed(view, f"{self.bin} counted empty")

    def submit(self) -> Outcome:
        if self.number is None:
            return Outcome("pick a count first", error=True)
        if self.bin is not None:
            return Outcome(f"finish {self.bin} first: F8 bin done or F7 bin empty", error=True)
        if not self.armed("submit"):
            return Outcome(f"press F10 again to submit {self.number} (no more counting after that)", error=True)
        view = counts.submit(self.store, self.actor, self.number)
        number = self.number
        counts.close_count_draft(self.store, self.actor, self.draft_id)
        self.forget_undo()
        self._reset()
        self._load_open_counts()
        said = "approved" if view.status == "approved" else "for the manager's review"
        return Outcome(f"{number} submitted: {said}", next="task")

    def cancel_step(self) -> Outcome:
        if self.step in ("lot", "serial"):
            return Outcome("back to the items", next="item")
        return Outcome(back=True)

    # -- steps --------------------------------------------------------------------------------

    def typed_task(self, text: str) -> Outcome:
        if not text:
            return Outcome(self.prompt, error=True)
        return self._start(count_number(text))

    def scan_task(self, resolution: ScanResolution, text: str) -> Outcome:
        code = printable(text.strip())
        if code.upper().startswith(counts.COUNT_PREFIX):
            return self._start(code)
        return Outcome(f"{resolution.message or code}: scan or type a count number first", error=True)

    def scan_bin(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind != "location":
            return Outcome(f"{resolution.message or printable(text)}: scan the bin first", error=True)
        code = resolution.location_code
        mine = {b.location: b for b in self.bins}
        if code not in mine:
            return Outcome(f"{code} is not a bin of {self.number}", error=True)
        if mine[code].status == "done" and self.status == "open":
            return Outcome(f"{code} is done already: scan {self.next_bin() or 'no more bins: F10 submits'}", error=True)
        self.bin = code
        self.counted = {}
        self.last = None
        return Outcome(f"counting {code}: scan every item", next="item")

    def typed_bin(self, text: str) -> Outcome | None:
        if not text:
            return Outcome(self.prompt, error=True)
        return None  # a typed bin code is resolved like a scan

    def scan_item(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "location":
            if resolution.location_code == self.bin:
                return Outcome(f"already counting {self.bin}")
            return Outcome(f"finish {self.bin} first: F8 bin done or F7 bin empty", error=True)
        if resolution.kind != "product":
            return Outcome(resolution.message or f"unknown code: {printable(text)}", error=True)
        if resolution.problems:
            return Outcome(f"label problem: {resolution.problems[0]} - scan the item's barcode and type the lot",
                           error=True)
        try:
            result = counts.record(self.store, self.actor, self.number, self.bin, text.strip())
        except RuleViolation as exc:
            said = str(exc)
            if "serial-tracked" in said:
                self.last = {"sku": resolution.sku, "name": resolution.product_name or "", "lot": None, "serial": True}
                return Outcome(f"{resolution.sku}: scan each unit's serial", next="serial")
            if "lot-tracked" in said:
                self.last = {"sku": resolution.sku, "name": resolution.product_name or "", "lot": None, "serial": False}
                return Outcome(f"{resolution.sku} is lot-tracked: type or scan its lot", next="lot")
            raise
        return self._recorded(result, serial=bool(resolution.serial))

    def typed_item(self, text: str) -> Outcome | None:
        if not text:
            return Outcome(self.prompt, error=True)
        qty = Decimal(0) if text.strip() == "0" else typed_quantity(text)  # 0: scanned by mistake, none here
        if qty is None:
            return None  # a code typed by hand (or an unknown barcode of digits): resolved like a scan
        if self.last is None:
            return Outcome("scan the item first, then type how many there are", error=True)
        if self.last.get("serial"):
            return Outcome(f"{self.last['sku']} is counted by serial: scan each one", error=True)
        result = counts.record(self.store, self.actor, self.number, self.bin, self.last["sku"], qty,
                               lot=self.last.get("lot"), replace=True)
        return self._recorded(result, typed=True)

    def scan_lot(self, resolution: ScanResolution, text: str) -> Outcome:
        if resolution.kind == "product" and resolution.lot and resolution.sku == self.last["sku"] \
                and not resolution.problems:
            return self.scan_item(resolution, text)
        if resolution.kind in ("product", "location", "purchase_order", "badge"):
            return Outcome(f"{resolution.message} is not a lot: type or scan the lot of {self.last['sku']}", error=True)
        return self.typed_lot(printable(text.strip()))

    def typed_lot(self, text: str) -> Outcome:
        if not text:
            return Outcome(f"{self.last['sku']} is lot-tracked: give the lot", error=True)
        result = counts.record(self.store, self.actor, self.number, self.bin, self.last["sku"], lot=text)
        return self._recorded(result)

    def scan_serial(self, resolution: ScanResolution, text: str) -> Outcome:
        sku = self.last["sku"]
        if resolution.kind == "location":
            return Outcome(f"scan the serials of {sku} (Enter when done), then F8 bin done", error=True)
        if resolution.kind == "product":
            if resolution.sku != sku or not resolution.serial:
                return Outcome(f"scan a serial of {sku} (Enter when done)", error=True)
            return self.scan_item(resolution, text)
        if resolution.kind in ("purchase_order", "badge"):
            return Outcome(f"scan a serial of {sku} (Enter when done)", error=True)
        result = counts.record(self.store, self.actor, self.number, self.bin, sku, serials=(printable(text.strip()),))
        return self._recorded(result, serial=True)

    def typed_serial(self, text: str) -> Outcome | None:
        if not text:
            return Outcome(f"{self.last['sku']}: serials done", next="item")
        if is_quantity(text) and Decimal(text) != 0 and len(text) < 4:
            return Outcome(f"{self.last['sku']} is counted by serial: scan each one", error=True)
        return None

    # -- state ----------------------------------------------------------------------------------

    def _recorded(self, result: counts.RecordResult, *, typed: bool = False, serial: bool = False) -> Outcome:
        key = self._key(result.sku, result.lot)
        self.counted[key] = {"sku": result.sku, "name": result.name, "lot": result.lot, "qty": str(result.counted)}
        self.last = {"sku": result.sku, "name": result.name, "lot": result.lot, "serial": serial}
        what = f"{result.sku} {result.name}" + (f" lot {result.lot}" if result.lot else "")
        if serial:
            return Outcome(f"serial {result.serial}: {qty_text(result.counted)} {result.sku}", next="serial")
        if typed:
            return Outcome(f"{what}: {qty_text(result.counted)}", next="item")
        pack = f" (+{qty_text(result.added)})" if result.added != 1 else ""
        return Outcome(f"{what}: {qty_text(result.counted)}{pack}", next="item")

    def _bin_closed(self, view: counts.CountView, said: str) -> Outcome:
        self.bins, self.status = view.bins, view.status
        self.bin, self.counted, self.last = None, {}, None
        upcoming = self.next_bin()
        if upcoming is None:
            if self.status == "open":
                return Outcome(f"{said}; every bin is done: F10 submits {self.number}", next="bin")
            return Outcome(f"{said}; no bin waits for a recount", next="bin")
        return Outcome(f"{said}; next: {upcoming}", next="bin")

    def _start(self, number: str) -> Outcome:
        if self.number is not None and number != self.number:
            return Outcome(f"finish {self.number} first (F10 submits it)", error=True)
        draft = counts.open_count_draft(self.store, self.actor, number, {"bin": None, "counted": {}, "last": None})
        return self._opened(draft, f"counting {draft.reference}")

    def _opened(self, draft, message: str) -> Outcome:
        payload = draft.payload
        self.number = draft.reference
        self._refresh()
        if self.status not in ("open", "review"):
            raise RuleViolation(f"{self.number} is {self.status}")
        self.draft_id, self.owner = draft.id, draft.username
        self.bin = payload.get("bin")
        self.counted = dict(payload.get("counted") or {})
        self.last = payload.get("last")
        step = payload.get("step") if payload.get("step") in self.STEPS else None
        if self.bin is None or step in (None, "task"):
            step = "bin"
        upcoming = self.next_bin()
        where = f"; now in {self.bin}" if self.bin else (f"; go to {upcoming}" if upcoming else "")
        return Outcome(message + where, next=step)

    def _refresh(self) -> None:
        view = counts.get_count(self.store, self.actor, self.number)
        self.bins, self.status = view.bins, view.status  # bins only: never a line of what the store holds

    def _load_open_counts(self) -> None:
        self.open_counts = counts.list_counts(self.store, self.actor, open_only=True, limit=LISTED)

    def _reset(self) -> None:
        self.number = self.draft_id = self.owner = self.bin = self.last = None
        self.counted, self.bins, self.status = {}, (), ""

    @staticmethod
    def _key(sku: str, lot: str | None) -> str:
        return f"{sku}|{lot or ''}"

    @staticmethod
    def _describe(entry: dict) -> str:
        lot = f" lot {entry['lot']}" if entry.get("lot") else ""
        return f"{entry['sku']} {entry['name'][:28]}{lot}: {qty_text(Decimal(entry['qty']))} counted"


__all__ = ["CountingFlow", "count_number"]
