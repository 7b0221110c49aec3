"""Sales orders on the station: the list (paged from the store, live) and one order.

Managers create an order (the customer's name or code), add lines by scanning products (each scan
adds one pack) or by typing ``CODE QTY [PRICE]``, confirm it (stock is reserved) and cancel it.
Pickers and packers see the orders and ship a picked one: the shipment posts packing -> customer,
and its packing slip and SSCC label go to the station's label printer (``label_printer`` in the
station config, or the printer last used on this station).  Keys a role may not use are not shown.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Static

from ims_tui.screens.base import StoreChanged
from ims_tui.screens.purchase_orders import StationScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import picking, sales
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, allows
from ims_tui.services.orders import normalise_number
from ims_tui.services.purchasing import money_text, qty_text
from ims_tui.services.sales import SalesOrderView, SOLineInput, SOSummary
from ims_tui.services.scans import resolve_scan
from ims_tui.values import parse_money, parse_quantity
from ims_tui.widgets.paged_list import PagedList
from ims_tui.widgets.scan import Scanned

PAGE = 50
CSS = Path(__file__).with_name("purchase_orders.tcss")
"""The purchase-order screens' layout: the same head, list, prompt and message lines."""

ACTION_PERMISSIONS = {
    "new": Permission.MANAGE_ORDERS, "add": Permission.MANAGE_ORDERS, "confirm": Permission.MANAGE_ORDERS,
    "cancel_so": Permission.MANAGE_ORDERS, "ship": Permission.SHIP, "reprint": Permission.SHIP,
}


class _OrdersScreen(StationScreen):
    """The purchase-order screens' prompt and message lines; keys a role may not use are hidden."""

    SCAN_STEPS = True
    CSS_PATH = CSS

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        permission = ACTION_PERMISSIONS.get(action)
        actor = self.app.actor
        if permission is not None and (actor is None or not allows(actor.role, permission)):
            return False
        return True


def render_order(row: SOSummary, width: int) -> Text:
    """``SO-000012  picking   Acme Ltd   3 lines  2/5 shipped  1 waiting  [held]``."""
    waiting = f"  {qty_text(row.qty_waiting)} waiting" if row.qty_waiting else ""
    due = f"  due {row.due_date.isoformat()}" if row.due_date else ""
    text = Text.assemble(
        (f"{row.number:<10}", "bold"), f" {row.status:<9} ", f"{row.customer[:24]:<24} ",
        f"{row.lines:>3} lines  {qty_text(row.qty_shipped)}/{qty_text(row.qty_ordered)} shipped{waiting}{due}",
        (" [held]", "bold red") if row.held else "",
    )
    text.truncate(width)
    return text


class SalesOrdersScreen(_OrdersScreen):
    """Newest first, paged from the store; follows other stations live."""

    TITLE = "Sales orders"
    FOCUS_AFTER_ASKING = "#so-list"
    HELP = ("Enter opens the order under the cursor. / searches by number or customer, o shows only open orders "
            "or all, n starts a new order for a customer (managers). The list follows other stations.")
    BINDINGS = [
        Binding("n", "new", "New order", id="so.new"),
        Binding("o", "toggle_open", "Open/all", id="so.open"),
        Binding("slash", "search", "Search", id="so.search"),
        Binding("escape", "escape", "Back", id="so.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.open_only = True
        self.search = ""
        self.mode: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="so-filter", classes="status-line")
        yield PagedList(render_order, empty_text="no sales orders", id="so-list")
        yield from self.compose_prompt()

    @property
    def orders(self) -> PagedList[SOSummary]:
        return self.query_one("#so-list", PagedList)

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.query_one(self.FOCUS_AFTER_ASKING).focus()
        self.load()

    def load(self) -> None:
        store, actor, open_only, search = self.app.store, self.app.actor, self.open_only, self.search

        def fetch(offset: int | None) -> tuple[list[SOSummary], int | None]:
            start = offset or 0
            rows = sales.list_sos(store, actor, open_only=open_only, search=search, limit=PAGE + 1, offset=start)
            return rows[:PAGE], start + PAGE if len(rows) > PAGE else None

        self.orders.load(fetch)

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        if event.error:
            self.say(event.error, error=True)
            return
        scope = "open orders" if self.open_only else "all orders"
        search = f" matching {self.search!r}" if self.search else ""
        count = f"{event.count}+" if event.has_more else str(event.count)
        self.query_one("#so-filter", Static).update(f"{count} {scope}{search}")

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        self.app.push_screen(SalesOrderScreen(event.row.number))

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches("sales_orders", "picks"):
            self.orders.reload()

    def on_screen_resume(self) -> None:
        self.orders.reload()

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        text = message.text.strip().upper()
        if text.startswith(sales.SO_PREFIX):
            self.app.push_screen(SalesOrderScreen(text))
        else:
            self.say(f"{message.text.strip()}: scan a sales order here", error=True)

    def action_new(self) -> None:
        self._ask("new", "Customer of the new order (name or code), Enter")

    def action_search(self) -> None:
        self._ask("search", "Search order number or customer (Enter; empty shows all)")

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode, event.value.strip()
        self._done_asking()
        if mode == "search":
            self.search = text
            self.load()
        elif mode == "new" and text:
            self.call(sales.create_so, self.app.store, self.app.actor, text,
                      then=lambda view: self.app.push_screen(SalesOrderScreen(view.number)))


class SalesOrderScreen(_OrdersScreen):
    """One order: its lines (ordered, waiting, reserved, picked, shipped); what the role may do."""

    TITLE = "Sales order"
    FOCUS_AFTER_ASKING = "#so-lines"
    HELP = ("Managers: scan a product to add one pack of it, a adds CODE QTY [PRICE], c confirms (stock is reserved), "
            "x cancels (press twice). Pick it on the Pick task (F4) with the order's number. "
            "s ships what is picked (press twice): the packing slip and SSCC label print on the station's label "
            "printer; r prints them again.")
    BINDINGS = [
        Binding("a", "add", "Add line", id="so.add"),
        Binding("c", "confirm", "Confirm", id="so.confirm"),
        Binding("x", "cancel_so", "Cancel", id="so.cancel"),
        Binding("s", "ship", "Ship", id="so.ship"),
        Binding("r", "reprint", "Reprint", id="so.reprint"),
        Binding("escape", "escape", "Back", id="so.back"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.key = normalise_number(number)
        self.view: SalesOrderView | None = None
        self.mode: str | None = None
        self.last_shipment: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="so-head")
        table = DataTable(id="so-lines", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "SKU", "Item", "Ordered", "Wait", "Resvd", "Picked", "Shipped", "Price")
        yield table
        yield from self.compose_prompt()

    def on_mount(self) -> None:
        self.query_one("#po-input", Input).display = False
        self.query_one(self.FOCUS_AFTER_ASKING).focus()
        self.reload()

    def reload(self) -> None:
        self.call(sales.get_so, self.app.store, self.app.actor, self.key, then=self.show)

    def show(self, view: SalesOrderView) -> None:
        self.view = view
        self.sub_title = view.number
        held = f"  HELD: {view.hold_reason}" if view.hold_reason else ""
        self.query_one("#so-head", Static).update(Text.assemble(
            (f"{view.number}  ", "bold"), (view.customer, "bold"), f"  [{view.status}] {view.policy}\n",
            f"value {money_text(view.value)}, backorder {qty_text(view.backorder)}, by {view.created_by}",
            (held, "bold red"),
        ))
        table = self.query_one("#so-lines", DataTable)
        table.clear()
        for line in view.lines:
            table.add_row(str(line.line_no), line.sku, line.product_name[:16], qty_text(line.qty_ordered),
                          qty_text(line.qty_waiting), qty_text(line.qty_reserved), qty_text(line.qty_picked),
                          qty_text(line.qty_shipped), money_text(line.unit_price), key=str(line.line_no))

    def on_store_changed(self, message: StoreChanged) -> None:
        change = message.change
        if change.everything or self.key in change.idents("sales_orders") or change.touches("picks"):
            self.reload()

    def _changed(self, view: SalesOrderView, text: str) -> None:
        self.show(view)
        self.say(text)

    # -- managers: lines, confirm, cancel -----------------------------------------------------------

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        self.disarm()
        if not allows(self.app.actor.role, Permission.MANAGE_ORDERS):
            self.say("only a manager adds lines to an order", error=True)
            return
        self.call(resolve_scan, self.app.store, message.text, then=self._scanned)

    def _scanned(self, resolution) -> None:
        if resolution.kind != "product":
            self.say(f"{resolution.message}: scan a product to add it", error=True)
            return
        qty = resolution.quantity or resolution.pack_qty
        self._add(SOLineInput(resolution.sku, qty))

    def _add(self, line: SOLineInput) -> None:
        self.call(sales.add_so_line, self.app.store, self.app.actor, self.key, line,
                  then=lambda view: self._changed(view, f"+{qty_text(line.qty)} {line.code}"))

    def action_add(self) -> None:
        self.disarm()
        self._ask("add", "Add: CODE QTY [PRICE] (SKU or barcode), Enter")

    def action_confirm(self) -> None:
        self.disarm()
        self.call(sales.confirm_so, self.app.store, self.app.actor, self.key,
                  then=lambda result: self._changed(result.order, result.describe()))

    def action_cancel_so(self) -> None:
        if not self.confirm_twice("cancel", f"press x again to cancel {self.key} (what it holds is released)"):
            return
        self.call(sales.cancel_so, self.app.store, self.app.actor, self.key,
                  then=lambda view: self._changed(view, f"{view.number} cancelled"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        mode, text = self.mode, event.value.strip()
        self._done_asking()
        if mode == "add" and text:
            try:
                line = typed_line(text)
            except BadInput as exc:
                self.say(str(exc), error=True)
                return
            self._add(line)

    # -- shipping ------------------------------------------------------------------------------------

    def printer(self) -> str | None:
        return getattr(self.app, "last_printer", "") or getattr(getattr(self.app, "config", None), "label_printer", None)

    def action_ship(self) -> None:
        if not self.confirm_twice("ship", f"press s again to ship what is picked on {self.key}"):
            return
        self.call(picking.ship_so, self.app.store, self.app.actor, self.key, then=self._shipped)

    def _shipped(self, result: picking.ShipResult) -> None:
        self.show(result.order)
        self.last_shipment = result.shipment
        self.say(result.describe())
        self._print(result.docs.zpl, result.shipment, result.describe())

    def action_reprint(self) -> None:
        self.disarm()
        if not self.last_shipment:
            self.say("nothing shipped from this screen yet: ship first (s)", error=True)
            return
        shipment = self.last_shipment
        self.call(picking.shipment_documents, self.app.store, self.app.actor, shipment,
                  then=lambda docs: self._print(docs.zpl, shipment, ""))

    def _print(self, zpl: str, shipment: str, said: str) -> None:
        printer = self.printer()
        prefix = f"{said}; " if said else ""
        if not printer:
            self.say(f"{prefix}no label printer: set label_printer in the station config, then r prints the slip",
                     warning=True)
            return
        self.call(picking.print_documents, self.app.store, self.app.actor, zpl, what=shipment, printer=printer,
                  then=lambda where: self.say(f"{prefix}packing slip and label of {shipment} sent to {where}"),
                  failed=lambda exc: self.say(f"{prefix}not printed: {exc} (r prints again)", error=True))


def typed_line(text: str) -> SOLineInput:
    """``CODE QTY [PRICE]`` (or ``CODE:QTY[:PRICE]`` as on the command line)."""
    if ":" in text:
        return SOLineInput.parse(text)
    parts = text.split()
    if len(parts) not in (2, 3):
        raise BadInput(f"a line is CODE QTY [PRICE], not {text!r}")
    price = parse_money(parts[2], what="price") if len(parts) == 3 else None
    return SOLineInput(parts[0], parse_quantity(parts[1]), price)


register_task(Task("sales_orders", "Sales orders", "s", Permission.LOOKUP, SalesOrdersScreen,
                   "create, confirm and ship customer orders"))
