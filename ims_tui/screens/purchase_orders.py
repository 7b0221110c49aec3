"""Purchase orders on the station: the list, one PO with its lines, and open receipts.

Managers create a PO by naming the supplier, add lines by scanning products (each scan adds one
pack) or by typing ``CODE [QTY [COST]]``, change quantities and costs, order and cancel.  Everyone
who may look things up can browse.  Receiving happens on the Receive task.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Label, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import purchasing, receiving
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission
from ims_tui.services.orders import normalise_number
from ims_tui.services.purchasing import LineInput, PurchaseOrderView, money_text, qty_text
from ims_tui.services.scans import resolve_scan
from ims_tui.values import parse_quantity
from ims_tui.widgets.scan import Scanned
from ims_tui.widgets.footer import StationFooter

PAGE = 50
CSS = Path(__file__).with_name("purchase_orders.tcss")


class StationScreen(ImsScreen):
    """Shared: the prompt line and the message line (``po-message``) above the footer."""

    FOCUS_AFTER_ASKING: str = ""
    """The list that gets the focus back when the prompt closes (a DataTable or a PagedList)."""

    MESSAGE_LINE = "po-message"
    mode: str | None = None
    """What the input line is asking for (None: it is closed)."""

    def compose_prompt(self) -> ComposeResult:
        """The prompt line, its input (hidden until asked) and the message line, above the footer."""
        yield Label("", id="po-prompt")
        yield Input(id="po-input")
        yield Static("", id="po-message", classes="status-line")
        yield StationFooter()

    def _ask(self, mode: str, prompt: str, value: str = "") -> None:
        self.mode = mode
        self.query_one("#po-prompt", Label).update(prompt)
        field = self.query_one("#po-input", Input)
        field.display = True
        field.value = value
        field.focus()

    def _done_asking(self) -> None:
        self.mode = None
        self.query_one("#po-prompt", Label).update("")
        self.query_one("#po-input", Input).display = False
        self.query_one(self.FOCUS_AFTER_ASKING).focus()

    def action_escape(self) -> None:
        """Esc closes the input line first, then goes back."""
        if self.mode is not None:
            self._done_asking()
        else:
            self.app.action_back()


class PurchaseOrdersScreen(StationScreen):
    """Newest first, a page at a time; Enter opens one, a PO scan opens it from anywhere."""

    TITLE = "Purchase orders"
    FOCUS_AFTER_ASKING = "#po-list"
    SCAN_STEPS = True
    CSS_PATH = CSS
    HELP = ("Enter opens the PO under the cursor; scan a PO barcode to open it. / searches by number or supplier, "
            "o shows only open POs, n starts a new PO (managers), d lists receipts in progress (managers).")
    BINDINGS = [
        Binding("n", "new", "New PO", id="po.new"),
        Binding("o", "toggle_open", "Open/all", id="po.open"),
        Binding("slash", "search", "Search", id="po.search"),
        Binding("right_square_bracket", "page(1)", "Next", id="po.next"),
        Binding("left_square_bracket", "page(-1)", "Prev", id="po.prev"),
        Binding("d", "drafts", "Receipts", id="po.drafts"),
        Binding("escape", "escape", "Back", id="po.back"),
    ]
    REQUIRES = {"new": Permission.MANAGE_ORDERS, "drafts": Permission.MANAGE_DRAFTS}

    def __init__(self) -> None:
        super().__init__()
        self.page_start = 0
        self.open_only = True
        self.search = ""
        self.mode: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="po-filter", classes="status-line")
        table = DataTable(id="po-list", cursor_type="row", zebra_stripes=True)
        table.add_columns("PO", "Status", "Supplier", "Lines", "Received", "Expected")
        yield table
        yield from self.compose_prompt()

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.query_one("#po-list", DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self.call(purchasing.list_pos, self.app.store, self.app.actor, open_only=self.open_only, search=self.search,
                  limit=PAGE + 1, offset=self.page_start, then=self._fill)

    def _fill(self, rows: list[purchasing.POSummary]) -> None:
        table = self.query_one("#po-list", DataTable)
        table.clear()
        for row in rows[:PAGE]:
            table.add_row(row.number, row.status, row.supplier[:26], str(row.lines),
                          f"{qty_text(row.qty_received)}/{qty_text(row.qty_ordered)}",
                          row.expected_date.isoformat() if row.expected_date else "-", key=row.number)
        more = " ] next page" if len(rows) > PAGE else ""
        scope = "open POs" if self.open_only else "all POs"
        search = f" matching {self.search!r}" if self.search else ""
        self.query_one("#po-filter", Static).update(
            f"{scope}{search}, {self.page_start + 1}-{self.page_start + min(len(rows), PAGE)}{more}" if rows else f"no {scope}{search}"
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(PurchaseOrderScreen(event.row_key.value))

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches("purchase_orders"):
            self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        self.call(resolve_scan, self.app.store, message.text, then=self._scanned)

    def _scanned(self, resolution) -> None:
        if resolution.kind == "purchase_order":
            self.app.push_screen(PurchaseOrderScreen(resolution.po_number))
        else:
            self.app.open_resolution(resolution)  # a product or a bin opens, as on any screen

    # -- the one input line: search or a new PO's supplier ----------------------------------------

    def action_search(self) -> None:
        self._ask("search", "Search PO number or supplier (Enter; empty shows all)", self.search)

    def action_new(self) -> None:
        self._ask("new", "Supplier of the new PO (name or code), Enter")

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.page_start = 0
        self.reload()

    def action_page(self, step: int) -> None:
        self.page_start = max(0, self.page_start + step * PAGE)
        self.reload()

    def action_drafts(self) -> None:
        self.app.push_screen(ReceiptDraftsScreen())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode, event.value.strip()
        self._done_asking()
        if mode == "search":
            self.search, self.page_start = text, 0
            self.reload()
        elif mode == "new" and text:
            self.call(purchasing.create_po, self.app.store, self.app.actor, text,
                      then=lambda view: self.app.push_screen(PurchaseOrderScreen(view.number)))


class PurchaseOrderScreen(StationScreen):
    """One PO: its lines with ordered, received and remaining; managers edit it here."""

    TITLE = "Purchase order"
    FOCUS_AFTER_ASKING = "#po-lines"
    SCAN_STEPS = True
    CSS_PATH = CSS
    HELP = ("Scan a product to add one pack of it (again to add more). a adds a line by typing CODE [QTY [COST]]; "
            "q and c change the quantity or cost of the line under the cursor; Delete removes it (press twice); "
            "o marks a draft ordered; x cancels the PO (press twice); p prints the PO number as a barcode for the delivery paperwork.")
    BINDINGS = [
        Binding("a", "add", "Add", id="po.add"),
        Binding("q", "edit('qty')", "Qty", id="po.qty"),
        Binding("c", "edit('cost')", "Cost", id="po.cost"),
        Binding("delete", "remove", "Remove", id="po.remove"),
        Binding("o", "order", "Order", id="po.order"),
        Binding("x", "cancel_po", "Cancel", id="po.cancel"),
        Binding("p", "print_label", "Label", id="po.label"),
        Binding("escape", "escape", "Back", id="po.back"),
    ]
    REQUIRES = {action: Permission.MANAGE_ORDERS for action in ("add", "edit", "remove", "order", "cancel_po")} | {
        "print_label": Permission.PRINT_LABELS}

    def __init__(self, number: str) -> None:
        super().__init__()
        self.key = number
        self.view: PurchaseOrderView | None = None
        self.mode: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="po-head")
        table = DataTable(id="po-lines", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "SKU", "Item", "Ordered", "Recvd", "Left", "Cost", "Expected")
        yield table
        yield from self.compose_prompt()

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.query_one("#po-lines", DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self.call(purchasing.get_po, self.app.store, self.app.actor, self.key, then=self.show)

    def show(self, view: PurchaseOrderView) -> None:
        self.view = view
        self.sub_title = view.number
        expected = view.expected_date.isoformat() if view.expected_date else "-"
        backorder = f", backorder {qty_text(view.backorder)}" if view.status == "partial" else ""
        self.query_one("#po-head", Static).update(Text.assemble(
            (f"{view.number}  ", "bold"), (view.supplier, "bold"), f"  [{view.status}]\n",
            f"expected {expected}, value {money_text(view.value)}{backorder}, by {view.created_by}",
        ))
        table = self.query_one("#po-lines", DataTable)
        cursor = table.cursor_row
        table.clear()
        for line in view.lines:
            table.add_row(str(line.line_no), line.sku, line.product_name[:20], qty_text(line.qty_ordered),
                          qty_text(line.qty_received), qty_text(line.remaining), money_text(line.unit_cost),
                          line.expected_date.isoformat() if line.expected_date else "-", key=str(line.line_no))
        if view.lines:
            table.move_cursor(row=min(cursor, len(view.lines) - 1))

    def on_store_changed(self, message: StoreChanged) -> None:
        change = message.change
        if change.everything or normalise_number(self.key) in change.idents("purchase_orders"):
            self.reload()

    def _selected_line(self) -> int | None:
        table = self.query_one("#po-lines", DataTable)
        if not self.view or not self.view.lines or table.cursor_row < 0:
            return None
        return self.view.lines[min(table.cursor_row, len(self.view.lines) - 1)].line_no

    # -- scans: a product adds one pack -----------------------------------------------------------

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        self.disarm()
        self.call(resolve_scan, self.app.store, message.text, then=self._scanned)

    def _scanned(self, resolution) -> None:
        if resolution.kind == "product":
            qty = resolution.quantity or resolution.pack_qty
            self.call(purchasing.add_po_line, self.app.store, self.app.actor, self.key, LineInput(resolution.sku, qty),
                      then=lambda view: self._changed(view, f"+{qty_text(qty)} {resolution.sku}"))
        elif resolution.kind == "purchase_order" and resolution.po_number != self.key:
            self.app.switch_screen(PurchaseOrderScreen(resolution.po_number))
        else:
            self.say(resolution.message or "not a product", error=resolution.kind == "unknown")

    def _changed(self, view: PurchaseOrderView, text: str) -> None:
        self.show(view)
        self.say(text)

    # -- typed changes ----------------------------------------------------------------------------

    def action_add(self) -> None:
        self.disarm()
        self._ask("add", "Add: CODE [QTY [COST]] (SKU, barcode or supplier SKU), Enter")

    def action_edit(self, what: str) -> None:
        self.disarm()
        line_no = self._selected_line()
        if line_no is None:
            self.say("no line selected", error=True)
            return
        line = next(ln for ln in self.view.lines if ln.line_no == line_no)
        current = qty_text(line.qty_ordered) if what == "qty" else money_text(line.unit_cost)
        self._ask(f"{what}:{line_no}", f"{'Quantity' if what == 'qty' else 'Unit cost'} of line {line_no} {line.sku}, Enter",
                  current)

    def action_remove(self) -> None:
        line_no = self._selected_line()
        if line_no is None:
            return
        if not self.confirm_twice(f"remove:{line_no}", f"press Delete again to remove line {line_no}"):
            return
        self.call(purchasing.remove_po_line, self.app.store, self.app.actor, self.key, line_no,
                  then=lambda view: self._changed(view, f"removed line {line_no}"))

    def action_print_label(self) -> None:
        if self.view is not None and self.may_print_labels():
            self.print_label("po", self.view.number)
        else:
            self.app.say("printing labels is not allowed for your role", error=True)

    def action_order(self) -> None:
        self.disarm()
        self.call(purchasing.order_po, self.app.store, self.app.actor, self.key,
                  then=lambda view: self._changed(view, f"{view.number} ordered"))

    def action_cancel_po(self) -> None:
        if not self.confirm_twice("cancel", "press x again to cancel this PO"):
            return
        self.call(purchasing.cancel_po, self.app.store, self.app.actor, self.key,
                  then=lambda view: self._changed(view, f"{view.number} cancelled"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode or "", event.value.strip()
        self._done_asking()
        if not text:
            return
        store, actor = self.app.store, self.app.actor
        try:
            if mode == "add":
                line = _typed_line(text)
                self.call(purchasing.add_po_line, store, actor, self.key, line,
                          then=lambda view: self._changed(view, f"+{qty_text(line.qty)} {line.code}"))
            elif mode.startswith(("qty:", "cost:")):
                what, line_no = mode.split(":")
                value = _decimal(text)
                changes = {"qty": value} if what == "qty" else {"unit_cost": value}
                self.call(purchasing.set_po_line, store, actor, self.key, int(line_no), **changes,
                          then=lambda view: self._changed(view, f"line {line_no}: {what} {text}"))
        except BadInput as exc:
            self.say(str(exc), error=True)


def _decimal(text: str) -> Decimal:
    return parse_quantity(text, what="value")


def _typed_line(text: str) -> LineInput:
    """``CODE``, ``CODE QTY`` or ``CODE QTY COST`` (also ``CODE:QTY:COST``): the one PO-line grammar."""
    return LineInput.parse(text, qty_required=False)


class ReceiptDraftsScreen(StationScreen):
    """Receipts in progress on every station; a manager discards a forgotten one (nothing is posted)."""

    TITLE = "Receipts in progress"
    CSS_PATH = CSS
    HELP = "Receipts being scanned on the stations, last touched first. Delete discards the one under the cursor (press twice)."
    BINDINGS = [
        Binding("delete", "discard", "Discard", id="drafts.discard"),
    ]

    def __init__(self) -> None:
        super().__init__()

    def compose(self) -> ComposeResult:
        yield Header()
        table = DataTable(id="drafts-list", cursor_type="row", zebra_stripes=True)
        table.add_columns("Id", "User", "Station", "PO / supplier", "Lines", "Last scan")
        yield table
        yield Static("", id="po-message", classes="status-line")
        yield StationFooter()

    def on_mount(self) -> None:
        self.query_one("#drafts-list", DataTable).focus()
        self.reload()

    def reload(self) -> None:
        self.call(receiving.list_receipt_drafts, self.app.store, self.app.actor, everyone=True, then=self._fill)

    def _fill(self, rows: list[receiving.DraftSummary]) -> None:
        table = self.query_one("#drafts-list", DataTable)
        table.clear()
        for row in rows:
            when = row.updated_at.strftime("%Y-%m-%d %H:%M") if row.updated_at else "-"
            table.add_row(str(row.draft_id), row.username, row.station[:14], row.reference[:24], str(row.lines), when,
                          key=str(row.draft_id))
        if not rows:
            self.say("no receipts in progress")

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches("drafts"):
            self.reload()

    def action_discard(self) -> None:
        table = self.query_one("#drafts-list", DataTable)
        if table.row_count == 0:
            return
        draft_id = int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
        if not self.confirm_twice(f"discard:{draft_id}", f"press Delete again to discard receipt {draft_id}"):
            return
        self.call(receiving.discard_receipt, self.app.store, self.app.actor, draft_id,
                  then=lambda _: (self.say(f"discarded receipt {draft_id}"), self.reload()))


register_task(Task("purchase_orders", "Purchase orders", "f7", Permission.LOOKUP, PurchaseOrdersScreen,
                   "create, order and follow POs"))
