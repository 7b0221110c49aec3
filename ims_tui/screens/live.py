"""Live: movements as they commit on every station (who, where, what, how many)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.changes import LiveMovement, recent_activity
from ims_tui.services.inventory import qty
from ims_tui.services.permissions import Permission
from ims_tui.widgets.footer import StationFooter

KEEP_ROWS = 300
"""A monitor shows the recent past; older rows scroll away (DataTable stays small and fast)."""


class LiveScreen(ImsScreen):
    """The supervisor's monitor: newest movement at the bottom, Enter opens its product."""

    TITLE = "Live"
    HELP = "Every movement committed on any station appears here within a second. Enter opens the product."
    DEFAULT_CSS = """
    LiveScreen #live-table { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[int] = set()
        self.skus: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading recent movements...", id="live-status", classes="status-line")
        table: DataTable = DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Time", "Who", "Station", "What", "Qty", "SKU", "From -> to")
        yield table
        yield StationFooter()

    def on_mount(self) -> None:
        self.load_backlog()

    def load_backlog(self) -> None:
        self.call(recent_activity, self.app.store, self.app.actor, limit=100, then=self.add_movements,
                  failed=lambda error: self._status(Text(str(error), style="bold red")))

    def _status(self, text: Text | str) -> None:
        self.query_one("#live-status", Static).update(text)

    def add_movements(self, movements: tuple[LiveMovement, ...] | list[LiveMovement]) -> None:
        table = self.query_one("#live-table", DataTable)
        follow = table.cursor_row >= table.row_count - 1
        for move in movements:
            if move.id in self.seen:
                continue
            self.seen.add(move.id)
            key = str(move.id)
            self.skus[key] = move.sku
            lot = f" lot {move.lot}" if move.lot else ""
            table.add_row(
                move.at.astimezone().strftime("%H:%M:%S"), move.username, move.station, move.kind,
                Text(f"{qty(move.qty)} {move.uom}", justify="right"), move.sku,
                f"{move.source} -> {move.destination}{lot}", key=key,
            )
        while table.row_count > KEEP_ROWS:
            first = table.coordinate_to_cell_key((0, 0)).row_key
            self.skus.pop(first.value, None)
            table.remove_row(first)
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)
        self._status(f"{table.row_count} recent movements; new ones appear as they commit")

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.movements:
            self.add_movements(message.change.movements)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        sku = self.skus.get(event.row_key.value)
        if sku:
            from ims_tui.screens.product import ProductScreen

            self.app.push_screen(ProductScreen(sku))


register_task(Task("live", "Live", "f11", Permission.REPORTS, LiveScreen, "movements as they happen"))
