"""One product: details, barcodes, reorder settings, stock by location and lot, incoming, last
movements - live."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.services.errors import ImsError
from ims_tui.services.inventory import ProductDetail, StockRow, money, product_detail, qty
from ims_tui.services.products import can_manage
from ims_tui.services.replenishment import ReorderSettingsView, get_reorder_settings
from ims_tui.widgets.footer import StationFooter


def render_movements(movements, width_hint: int = 78) -> Table:
    table = Table(box=None, pad_edge=False, expand=True, show_edge=False, header_style="bold")
    table.add_column("When", no_wrap=True)
    table.add_column("Qty", justify="right", no_wrap=True)
    table.add_column("From -> to", overflow="ellipsis", no_wrap=True)
    table.add_column("Who", overflow="ellipsis", no_wrap=True)
    for move in movements:
        lot = f" lot {move.lot}" if move.lot else ""
        serial = f" sn {move.serial}" if move.serial else ""
        table.add_row(
            move.at.astimezone().strftime("%m-%d %H:%M"),
            qty(move.qty),
            f"{move.source} -> {move.destination}{lot}{serial}",
            f"{move.username}@{move.station}",
        )
    return table


EXPIRY_STYLES = {"expired": "bold white on red", "expires": "bold black on yellow"}


def expiry_cell(row: StockRow) -> Text:
    """The expiry date, and for an expired or soon-expiring lot the words too (they carry the
    meaning without colour: NO_COLOR)."""
    if row.expiry is None:
        return Text("")
    status = row.expiry_status()
    cell = Text(row.expiry.isoformat())
    if status:
        cell.append(" ")
        cell.append(status.upper() if status == "expired" else status, style=EXPIRY_STYLES[status.split()[0]])
    return cell


def render_reorder(views: list[ReorderSettingsView]) -> Text:
    """One line per warehouse with reorder settings: point, quantities, supplier terms, alert."""
    if not views:
        return Text("No reorder settings (a manager sets them with r)", style="dim")
    text = Text()
    text.append("Reorder", style="bold")
    for view in views:
        maximum = f", max {qty(view.max_qty)}" if view.max_qty else ""
        supplier = view.supplier or "no preferred supplier"
        text.append(f"\n{view.warehouse}{' (home)' if view.home else ''}: ", style="bold")
        text.append(f"at {qty(view.reorder_point)} (safety {qty(view.safety_stock)}), order {qty(view.reorder_qty)}"
                    f"{maximum} · {supplier}, lead {view.lead_time_days} d, MOQ {qty(view.min_order_qty)},"
                    f" pack {qty(view.pack_qty)}")
        if view.in_alert:
            text.append("  ALERT", style="bold red")
    return text


class ProductScreen(ImsScreen):
    """Everything about one product, re-read whenever any station moves it."""

    TITLE = "Product"
    HELP = (
        "On hand, reserved and available by location and lot follow every station's postings as they "
        "commit. Managers edit the product (e), its barcodes (b), supplier items (u) and its reorder settings "
        "per warehouse (r: reorder point, order quantity, maximum, safety stock, preferred supplier, and the "
        "reorder point suggested from demand); p prints its label."
    )
    BINDINGS = [
        Binding("e", "edit", "Edit", id="product.edit"),
        Binding("b", "barcodes", "Barcodes", id="product.barcodes"),
        Binding("u", "supplier_item", "Supplier item", id="product.supplier_item"),
        Binding("r", "reorder", "Reorder", id="product.reorder"),
        Binding("p", "print_label", "Label", id="product.label"),
    ]
    DEFAULT_CSS = """
    ProductScreen #product-body { padding: 0 1; }
    ProductScreen #product-summary { height: auto; }
    ProductScreen .section { height: auto; margin-top: 1; }
    """

    def __init__(self, sku: str) -> None:
        super().__init__()
        self.key = sku
        self.detail: ProductDetail | None = None
        self.reorder: list[ReorderSettingsView] = []
        self.loads = 0

    @property
    def product_id(self) -> int | None:
        return self.detail.id if self.detail else None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="product-body"):
            yield Static("loading...", id="product-summary")
            yield Static("", id="product-reorder", classes="section")
            yield Static("", id="product-stock", classes="section")
            yield Static("", id="product-moves", classes="section")
        yield StationFooter()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        self.call(product_detail, self.app.store, self.app.actor, self.key, movements=6,
                  then=self.show, failed=self._failed, group="product", exclusive=True)
        self.load_reorder()

    def load_reorder(self) -> None:
        self.call(get_reorder_settings, self.app.store, self.app.actor, self.key,
                  then=self.show_reorder, failed=lambda _error: None, group="product-reorder", exclusive=True)

    def show_reorder(self, views: list[ReorderSettingsView]) -> None:
        self.reorder = views
        self.query_one("#product-reorder", Static).update(render_reorder(views))

    def _failed(self, error: ImsError) -> None:
        self.query_one("#product-summary", Static).update(Text(str(error), style="bold red"))
        self.app.say(str(error), error=True)

    def show(self, detail: ProductDetail) -> None:
        self.detail = detail
        self.key = detail.sku
        self.loads += 1
        self.title = f"Product {detail.sku}"
        self.query_one("#product-summary", Static).update(self._summary(detail))
        self.query_one("#product-stock", Static).update(self._stock(detail))
        moves = self.query_one("#product-moves", Static)
        moves.update(Group(Text("Last movements", style="bold"), render_movements(detail.movements))
                     if detail.movements else Text("No movements yet", style="dim"))
        self.refresh_bindings()

    def _summary(self, d: ProductDetail) -> Group:
        head = Text.assemble((d.sku, "bold"), "  ", (d.name, "bold"), ("" if d.active else "  (inactive)", "red"))
        facts = Text(
            f"{d.category or 'no category'} · unit {d.uom} · tracking {d.tracking} · price {money(d.unit_price)}"
            f" · cost {money(d.standard_cost)} (avg {money(d.average_cost)})"
        )
        barcodes = ", ".join(code + (f" x{qty(pack)}" if pack != 1 else "") for code, pack in d.barcodes) or "none"
        suppliers = "; ".join(f"{s['supplier']} {s['supplier_sku']} @ {money(s['cost'])}" for s in d.supplier_items) or "none"
        totals = Text.assemble(
            ("On hand ", ""), (qty(d.on_hand), "bold"), ("  Reserved ", ""), (qty(d.reserved), "bold"),
            ("  Available ", ""), (qty(d.available), "bold green" if d.available > 0 else "bold red"),
            ("  Incoming ", ""), (qty(d.incoming), "bold"),
            ("  Reorder at ", ""), (qty(d.reorder_point), "bold"),
            ("  LOW" if d.below_reorder_point else "", "bold red"),
        )
        lines = [head, facts, Text(f"Barcodes: {barcodes}"), Text(f"Suppliers: {suppliers}")]
        if d.default_location:
            lines.append(Text(f"Default location: {d.default_location}"))
        if d.tracking == "serial":
            lines.append(Text(f"Serials in stock: {d.serials_in_stock}"))
        lines.append(totals)
        return Group(*lines)

    def _stock(self, d: ProductDetail) -> Group | Text:
        if not d.stock:
            return Text("No stock on hand", style="dim")
        table = Table(box=None, pad_edge=False, expand=True, show_edge=False, header_style="bold")
        table.add_column("Location", no_wrap=True)
        table.add_column("Lot", no_wrap=True, overflow="ellipsis")
        table.add_column("Expiry", no_wrap=True)
        table.add_column("On hand", justify="right")
        table.add_column("Reserved", justify="right")
        table.add_column("Available", justify="right")
        for row in d.stock:
            table.add_row(
                row.location, row.lot or "", expiry_cell(row),
                qty(row.on_hand), qty(row.reserved), qty(row.available),
            )
        return Group(Text("Stock by location", style="bold"), table)

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches_product(self.product_id):
            self.load()
        elif message.change.touches("alerts", "purchase_orders", "sales_orders"):
            self.load_reorder()  # its projected stock may have crossed a reorder point

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "barcodes", "supplier_item", "reorder"):
            return self.detail is not None and can_manage(self.app.actor)
        if action == "print_label":
            return self.detail is not None and self.may_print_labels()
        return True

    def action_print_label(self) -> None:
        self.print_label("product", self.detail.sku)

    def action_edit(self) -> None:
        from ims_tui.screens.product_edit import ProductFormScreen

        self.app.push_screen(ProductFormScreen(self.detail), callback=lambda saved: saved and self.load())

    def action_barcodes(self) -> None:
        from ims_tui.screens.product_edit import BarcodesScreen

        self.app.push_screen(BarcodesScreen(self.detail), callback=lambda _: self.load())

    def action_reorder(self) -> None:
        from ims_tui.screens.product_edit import ReorderSettingsScreen

        self.app.push_screen(ReorderSettingsScreen(self.detail, self.reorder),
                             callback=lambda saved: saved and self.load())

    def action_supplier_item(self) -> None:
        from ims_tui.screens.product_edit import SupplierItemScreen

        self.app.push_screen(SupplierItemScreen(self.detail), callback=lambda saved: saved and self.load())
