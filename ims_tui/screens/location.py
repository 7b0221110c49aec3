"""One location: what is in it (by product and lot), its sub-locations, its last movements - live."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.product import render_movements
from ims_tui.services.errors import ImsError
from ims_tui.services.inventory import qty
from ims_tui.services.locations import LocationContents, location_contents
from ims_tui.widgets.footer import StationFooter


class LocationScreen(ImsScreen):
    """What is in a bin, re-read whenever any station moves stock in or out of it."""

    TITLE = "Location"
    HELP = "What is in this location, by product and lot. Scan a product to open it; p prints the bin's label."
    BINDINGS = [Binding("p", "print_label", "Label", id="location.label")]
    DEFAULT_CSS = """
    LocationScreen #location-body { padding: 0 1; }
    LocationScreen .section { height: auto; margin-top: 1; }
    """

    def __init__(self, code: str) -> None:
        super().__init__()
        self.key = code
        self.contents: LocationContents | None = None
        self.loads = 0

    @property
    def location_id(self) -> int | None:
        return self.contents.id if self.contents else None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="location-body"):
            yield Static("loading...", id="location-summary")
            yield Static("", id="location-stock", classes="section")
            yield Static("", id="location-moves", classes="section")
        yield StationFooter()

    def on_mount(self) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "print_label":
            return self.contents is not None and self.may_print_labels()
        return True

    def action_print_label(self) -> None:
        self.print_label("location", self.contents.code)

    def load(self) -> None:
        self.call(location_contents, self.app.store, self.app.actor, self.key,
                  then=self.show, failed=self._failed, group="location", exclusive=True)

    def _failed(self, error: ImsError) -> None:
        self.query_one("#location-summary", Static).update(Text(str(error), style="bold red"))
        self.app.say(str(error), error=True)

    def show(self, contents: LocationContents) -> None:
        self.contents = contents
        self.key = contents.code
        self.loads += 1
        self.title = f"Location {contents.code}"
        facts = [f"{contents.kind}"]
        if contents.warehouse:
            facts.append(f"warehouse {contents.warehouse}")
        if contents.parent:
            facts.append(f"in {contents.parent}")
        if contents.barcode and contents.barcode != contents.code:
            facts.append(f"barcode {contents.barcode}")
        if not contents.active:
            facts.append("inactive")
        summary = [Text.assemble((contents.code, "bold"), "  ", (contents.name, "bold")), Text(" · ".join(facts))]
        if contents.children:
            summary.append(Text("Contains: " + ", ".join(contents.children[:20]) + (" ..." if len(contents.children) > 20 else "")))
        self.query_one("#location-summary", Static).update(Group(*summary))
        self.query_one("#location-stock", Static).update(self._stock(contents))
        self.query_one("#location-moves", Static).update(
            Group(Text("Last movements", style="bold"), render_movements(contents.movements))
            if contents.movements else Text("No movements yet", style="dim")
        )

    def _stock(self, contents: LocationContents) -> Group | Text:
        if not contents.rows:
            return Text("Empty", style="dim")
        table = Table(box=None, pad_edge=False, expand=True, show_edge=False, header_style="bold")
        table.add_column("SKU", no_wrap=True)
        table.add_column("Name", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_column("Lot", no_wrap=True)
        table.add_column("Expiry", no_wrap=True)
        table.add_column("On hand", justify="right")
        table.add_column("Avail.", justify="right")
        for row in contents.rows:
            table.add_row(row.sku, row.name, row.lot or "", row.expiry.isoformat() if row.expiry else "",
                          f"{qty(row.on_hand)} {row.uom}", qty(row.available))
        parts = [Text(f"Stock ({len(contents.rows)}{'+' if contents.more_rows else ''} lines)", style="bold"), table]
        if contents.more_rows:
            parts.append(Text(f"first {len(contents.rows)} lines shown", style="dim"))
        return Group(*parts)

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.touches_location(self.location_id):
            self.load()
