"""Live: movements as they commit on every station (who, where, what, how many)."""

from __future__ import annotations

import datetime as dt

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.changes import LiveMovement, recent_activity
from ims_tui.services.inventory import qty
from ims_tui.services.permissions import Permission
from ims_tui.widgets.footer import StationFooter

HEADERS = ("Time", "What", "Qty", "SKU", "From -> to", "Who")
"""Codes first (never cut); who@station last, shortened to what is left of the width."""
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
        self.moves: list[LiveMovement] = []
        self.by_key: dict[str, LiveMovement] = {}
        self._who_width = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading recent movements...", id="live-status", classes="status-line")
        yield DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        yield StationFooter()

    def on_mount(self) -> None:
        self.load_backlog()

    def on_resize(self) -> None:
        if self.moves:
            self._rebuild()

    def load_backlog(self) -> None:
        self.call(recent_activity, self.app.store, self.app.actor, limit=100, then=self.add_movements,
                  failed=lambda error: self._status(Text(str(error), style="bold red")))

    def _status(self, text: Text | str) -> None:
        self.query_one("#live-status", Static).update(text)

    def add_movements(self, movements: tuple[LiveMovement, ...] | list[LiveMovement]) -> None:
        table = self.query_one("#live-table", DataTable)
        follow = table.cursor_row >= table.row_count - 1
        new = [move for move in movements if move.id not in self.seen]
        self.seen.update(move.id for move in new)
        self.moves = (self.moves + new)[-KEEP_ROWS:]
        if not table.columns or self._who_room(table) != self._who_width:
            self._rebuild()
        else:
            while table.row_count + len(new) > KEEP_ROWS and table.row_count:
                first = table.coordinate_to_cell_key((0, 0)).row_key
                self.skus.pop(first.value, None)
                self.by_key.pop(first.value, None)
                table.remove_row(first)
            for move in new[-KEEP_ROWS:]:
                self._add_row(table, move)
        self._status(f"{table.row_count} recent movements; new ones appear as they commit")
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    # -- fitting 80 columns: codes whole, the date when not today, the names shortened -----------

    def _cells(self, move: LiveMovement) -> tuple[str, str, str, str, str]:
        """Time, what, quantity, SKU, route: never cut."""
        at = move.at.astimezone()
        when = at.strftime("%H:%M:%S") if at.date() == dt.date.today() else at.strftime("%d %b %H:%M")
        lot = f" lot {move.lot}" if move.lot else ""
        return when, move.kind, f"{qty(move.qty)} {move.uom}", move.sku, f"{move.source} -> {move.destination}{lot}"

    def _who_room(self, table: DataTable) -> int:
        """Cells left for "who@station" after the codes (0: no room, the column is left out)."""
        widths = [len(header) for header in HEADERS[:-1]]
        for move in self.moves:
            widths = [max(width, cell_len(cell)) for width, cell in zip(widths, self._cells(move))]
        padding = 2 * table.cell_padding * len(HEADERS)
        scrollbar = 2 if len(self.moves) >= table.size.height - 1 else 0
        room = (table.size.width or self.app.size.width) - sum(widths) - padding - scrollbar
        return room if room >= len(HEADERS[-1]) else 0

    def _rebuild(self) -> None:
        table = self.query_one("#live-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        self.skus.clear()
        self.by_key.clear()
        self._who_width = self._who_room(table)
        for header in HEADERS[:-1]:
            table.add_column(header, key=header)
        if self._who_width:
            table.add_column(HEADERS[-1], key=HEADERS[-1], width=self._who_width)
        for move in self.moves:
            self._add_row(table, move)
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))

    def _add_row(self, table: DataTable, move: LiveMovement) -> None:
        key = str(move.id)
        self.skus[key] = move.sku
        self.by_key[key] = move
        when, what, amount, sku, route = self._cells(move)
        cells: list[str | Text] = [when, what, Text(amount, justify="right"), sku, route]
        if self._who_width:
            who = Text(f"{move.username}@{move.station}", no_wrap=True)
            who.truncate(self._who_width, overflow="ellipsis")
            cells.append(who)
        table.add_row(*cells, key=key)

    def on_store_changed(self, message: StoreChanged) -> None:
        if message.change.movements:
            self.add_movements(message.change.movements)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The whole of the row under the cursor, the names too (the Who column may be short)."""
        move = self.by_key.get(event.row_key.value) if event.row_key is not None else None
        if move is not None:
            self._status(f"{move.username} @ {move.station}: {move.kind} {qty(move.qty)} {move.uom} {move.sku} {move.name}")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        sku = self.skus.get(event.row_key.value)
        if sku:
            from ims_tui.screens.product import ProductScreen

            self.app.push_screen(ProductScreen(sku))


register_task(Task("live", "Live", "f11", Permission.REPORTS, LiveScreen, "movements as they happen"))
