"""Lookup: search as you type over SKU, name, barcode and supplier SKU; Enter opens the product."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.inventory import qty
from ims_tui.services.permissions import Permission
from ims_tui.services.products import can_manage
from ims_tui.services.search import PAGE_SIZE, ProductHit, search_products
from ims_tui.widgets.paged_list import PagedList
from ims_tui.widgets.footer import StationFooter

MATCH_LABELS = {"barcode": "barcode", "supplier_sku": "supplier SKU", "code": "code"}


def render_hit(hit: ProductHit, width: int) -> Text:
    """``SKU  name ...  on hand uom``, with the matching code when a code matched."""
    stock = f"{qty(hit.on_hand):>9} {hit.uom:<4}"
    sku_width = 16
    name_width = max(width - sku_width - len(stock) - 2, 10)
    name = hit.name if hit.active else f"{hit.name} (inactive)"
    if hit.matched_code and hit.matched_by in ("barcode", "supplier_sku"):
        name = f"{name} [{MATCH_LABELS[hit.matched_by]} {hit.matched_code}]"
    if len(name) > name_width:
        name = name[: name_width - 1] + "…"
    return Text.assemble(
        (f"{hit.sku[:sku_width - 1]:<{sku_width}}", "bold"),
        (f"{name:<{name_width}}", "" if hit.active else "dim"),
        "  ",
        (stock, "bold" if hit.on_hand > 0 else "dim"),
    )


class LookupScreen(ImsScreen):
    """Type to search; arrows move through the results; Enter opens; scans open directly."""

    TITLE = "Lookup"
    HELP = (
        "Type part of a SKU, name, barcode or supplier SKU: results follow as you type, exact codes "
        "first, then SKUs and names that start with it, then names that contain it. Down or Enter "
        "moves into the list; Enter opens the product. Scanning a barcode opens it directly."
    )
    BINDINGS = [
        Binding("down", "focus_results", "Results", show=False, id="lookup.results"),
        Binding("ctrl+n", "new_product", "New product", id="lookup.new_product"),
        Binding("ctrl+f", "focus_search", "Search", id="lookup.search"),
    ]
    DEFAULT_CSS = """
    LookupScreen #search { margin: 0 1; }
    LookupScreen #results { margin: 0 1; border: round $primary-darken-2; }
    LookupScreen #results:focus { border: round $primary; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="SKU, name, barcode or supplier SKU", id="search")
        yield Static("", id="lookup-status", classes="status-line")
        results: PagedList[ProductHit] = PagedList(render_hit, empty_text="no matching products", id="results")
        results.border_title = "Products"
        yield results
        yield StationFooter()

    @property
    def results(self) -> PagedList[ProductHit]:
        return self.query_one("#results", PagedList)

    @property
    def search_text(self) -> str:
        return self.query_one("#search", Input).value

    def on_mount(self) -> None:
        self.query_one("#search", Input).focus()
        self._search("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            self._search(event.value)

    def _search(self, text: str) -> None:
        store, actor = self.app.store, self.app.actor

        def fetch(cursor):
            page = search_products(store, actor, text, cursor, PAGE_SIZE)
            return page.hits, page.next_cursor

        self.query_one("#lookup-status", Static).update("searching..." if text.strip() else "all products by SKU")
        self.results.load(fetch)

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        status = self.query_one("#lookup-status", Static)
        if event.error:
            status.update(Text(event.error, style="bold red"))
            return
        text = self.search_text.strip()
        what = f"matches for {text!r}" if text else "products by SKU"
        if not event.has_more:
            status.update(f"{event.count} {what}")
        elif event.count < self.results.scrollable_content_region.height:
            status.update(f"{event.count} {what} so far, still searching...")
        else:
            status.update(f"{event.count}+ {what}  (scroll for more)")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search" and self.results.rows:
            self.results.focus()
            if len(self.results.rows) == 1:
                self._open(self.results.rows[0])

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        self._open(event.row)

    def _open(self, hit: ProductHit) -> None:
        from ims_tui.screens.product import ProductScreen

        self.app.push_screen(ProductScreen(hit.sku))

    def on_store_changed(self, message: StoreChanged) -> None:
        change = message.change
        if change.everything or any(hit.id in change.products for hit in self.results.rows):
            self.results.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_product":
            return can_manage(self.app.actor)
        if action == "focus_results":
            return isinstance(self.focused, Input)
        return True

    def action_focus_results(self) -> None:
        self.results.focus()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_new_product(self) -> None:
        from ims_tui.screens.product_edit import ProductFormScreen

        def created(sku: str | None) -> None:
            if sku:
                from ims_tui.screens.product import ProductScreen

                self.app.push_screen(ProductScreen(sku))

        self.app.push_screen(ProductFormScreen(None, sku_hint=self.search_text.strip()), callback=created)


register_task(Task("lookup", "Lookup", "f2", Permission.LOOKUP, LookupScreen, "products, stock, bins"))
