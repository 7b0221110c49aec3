"""A list that pages from the database: renders lines (Line API), fetches pages in a thread.

``DataTable`` builds every row up front and blocked the UI for seconds at 100k rows; this list
holds only the pages fetched so far, draws only the lines on screen, and asks for the next page
(with the previous page's cursor: keyset paging) when the cursor or the view nears the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ims_tui.widgets.calls import ServiceCalls

Row = TypeVar("Row")
Fetch = Callable[[Any], tuple[list[Any], Any]]
"""``fetch(cursor) -> (rows, next_cursor)``; ``cursor`` is None for the first page, and a
``next_cursor`` of None means there is nothing more.  Runs in a thread worker."""
RenderRow = Callable[[Any, int], Text]


class PagedList(ServiceCalls, ScrollView, Generic[Row], can_focus=True):
    """Keyboard-driven list over paged query results."""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="list.up"),
        Binding("down", "cursor_down", "Down", show=False, id="list.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("home", "first", "First", show=False, id="list.first"),
        Binding("end", "last", "Last loaded", show=False, id="list.last"),
        Binding("enter", "choose", "Open", id="list.open"),
    ]
    COMPONENT_CLASSES = {"paged-list--cursor", "paged-list--note"}
    DEFAULT_CSS = """
    PagedList { height: 1fr; }
    PagedList > .paged-list--cursor { background: $block-cursor-blurred-background; }
    PagedList:focus > .paged-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    PagedList > .paged-list--note { color: $text-muted; text-style: italic; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, repaint=True, init=False)

    class Chosen(Message):
        """Enter on a row."""

        def __init__(self, paged_list: PagedList, row: Any) -> None:
            super().__init__()
            self.paged_list = paged_list
            self.row = row

        @property
        def control(self) -> PagedList:
            return self.paged_list

    class Loaded(Message):
        """A page arrived (or failed: ``error``)."""

        def __init__(self, paged_list: PagedList, count: int, has_more: bool, error: str | None = None) -> None:
            super().__init__()
            self.paged_list = paged_list
            self.count = count
            self.has_more = has_more
            self.error = error

        @property
        def control(self) -> PagedList:
            return self.paged_list

    def __init__(
        self,
        render_row: RenderRow,
        *,
        empty_text: str = "nothing to show",
        prefetch: int = 10,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.render_row = render_row
        self.empty_text = empty_text
        self.prefetch = prefetch
        self.rows: list[Row] = []
        self._fetch: Fetch | None = None
        self._next_cursor: Any = None
        self._generation = 0
        self._loading = False
        self._error: str | None = None
        self._keep_cursor = False

    # -- loading ---------------------------------------------------------------------------

    @property
    def has_more(self) -> bool:
        return self._next_cursor is not None

    @property
    def fetching(self) -> bool:
        """A page is on its way.  (Not ``loading``: Textual takes a widget whose ``loading`` is
        true out of the focus chain, so a list asked for its rows could not take the focus.)"""
        return self._loading

    @property
    def generation(self) -> int:
        """Grows with every new query or reload (lets a caller wait for *its* results)."""
        return self._generation

    def load(self, fetch: Fetch) -> None:
        """Start over with a new query; the old rows stay until the first new page arrives."""
        self._fetch = fetch
        self._generation += 1
        self._loading = True
        self._keep_cursor = False
        self._start(self._generation, fetch, None, replace=True, until=0)

    def reload(self) -> None:
        """Fetch the same query again (as many rows as are loaded now), keeping the cursor."""
        if self._fetch is None:
            return
        self._generation += 1
        self._loading = True
        self._keep_cursor = True
        self._start(self._generation, self._fetch, None, replace=True, until=len(self.rows))

    def _start(self, generation: int, fetch: Fetch, cursor: Any, *, replace: bool, until: int) -> None:
        self.call(self._fetch_pages, generation, fetch, cursor, until, group=f"paged-list-{id(self)}",
                  then=lambda found: self._arrived(generation, found[0], found[1], replace, None),
                  failed=lambda error: self._arrived(generation, [], None, replace, str(error)))
        self.refresh()

    def _fetch_pages(self, generation: int, fetch: Fetch, cursor: Any, until: int) -> tuple[list[Any], Any]:
        rows: list[Any] = []
        while True:
            page, cursor = fetch(cursor)
            rows.extend(page)
            if cursor is None or len(rows) >= until or generation != self._generation:
                return rows, cursor

    def _arrived(self, generation: int, rows: list[Any], next_cursor: Any, replace: bool, error: str | None) -> None:
        if generation != self._generation:
            return  # an answer to a query the user has already typed past
        self._loading = False
        self._error = error
        if replace:
            self.rows = list(rows)
        else:
            self.rows.extend(rows)
        self._next_cursor = next_cursor
        if replace:
            # set without the watcher: a new result must not count as the user scrolling
            self.set_reactive(PagedList.cursor, min(self.cursor, max(len(self.rows) - 1, 0)) if self._keep_cursor else 0)
            if not self._keep_cursor:
                self.scroll_to(y=0, animate=False, immediate=True)
        self._update_size()
        self.post_message(self.Loaded(self, len(self.rows), self.has_more, error))
        if not replace:
            # keep up with a user who is scrolling
            self._maybe_fetch_more()
        elif self.has_more and len(self.rows) < self.scrollable_content_region.height:
            # a fresh result that does not fill the view: once the user has stopped typing for
            # a moment, fetch on (the slower stages), so a short list is told as it is - never
            # "4+" and a "more..." row when there are exactly 4
            self.set_timer(self.FILL_DELAY, lambda: self._fill(generation))

    FILL_DELAY = 0.3
    """Seconds a short fresh result waits before the list fetches on to fill the view."""

    def _fill(self, generation: int) -> None:
        if generation == self._generation and not self._loading and self._next_cursor is not None:
            self._loading = True
            self._start(self._generation, self._fetch, self._next_cursor, replace=False, until=0)

    def _maybe_fetch_more(self) -> None:
        if self._loading or self._next_cursor is None or self._fetch is None:
            return
        visible_end = int(self.scroll_offset.y) + self.scrollable_content_region.height
        if max(self.cursor, visible_end) + self.prefetch >= len(self.rows):
            self._loading = True
            self._start(self._generation, self._fetch, self._next_cursor, replace=False, until=0)

    def _update_size(self) -> None:
        extra = 1 if (self.has_more or not self.rows) else 0
        self.virtual_size = Size(self.scrollable_content_region.width, len(self.rows) + extra)
        self.refresh()

    def on_resize(self) -> None:
        self._update_size()
        self._maybe_fetch_more()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._maybe_fetch_more()

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index < len(self.rows):
            text = self.render_row(self.rows[index], width)
            style = base + self.get_component_rich_style("paged-list--cursor") if index == self.cursor else base
            return self._strip(text, width, style)
        if index == len(self.rows):
            note = self._note()
            if note:
                return self._strip(Text(note), width, base + self.get_component_rich_style("paged-list--note"))
        return Strip.blank(width, base)

    def _note(self) -> str:
        if self._error:
            return self._error
        if self.has_more or (self._loading and not self.rows):
            return "loading..." if self._loading else "more..."
        return "" if self.rows else self.empty_text

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        text = text.copy()
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = [Segment(seg.text, style + seg.style if seg.style else style) for seg in text.render(self.app.console)]
        return Strip(segments).crop_extend(0, width, style)

    # -- keys ------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        if new < self.scroll_offset.y:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= self.scroll_offset.y + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()
        if new != old:
            self._maybe_fetch_more()

    def _move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-max(self.scrollable_content_region.height - 1, 1))

    def action_page_down(self) -> None:
        self._move(max(self.scrollable_content_region.height - 1, 1))

    def action_first(self) -> None:
        self._move(-len(self.rows))

    def action_last(self) -> None:
        self._move(len(self.rows))

    @property
    def highlighted(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def action_choose(self) -> None:
        row = self.highlighted
        if row is not None:
            self.post_message(self.Chosen(self, row))
