"""Count tasks for managers: create them, review a submitted count's variances, approve or send
lines to a recount.  The counters' side is the Count task (``screens/counting.py``).

The list of counts and a count's lines page through :class:`~ims_tui.widgets.paged_list.PagedList`
and follow other stations live (the ``counts`` change topic).  Everything here calls
:mod:`ims_tui.services.counts`, which checks the manager's permission again.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import counts
from ims_tui.services.counts import CountLineView, CountSummary, CountView, money_text, qty_text
from ims_tui.services.errors import ImsError
from ims_tui.services.permissions import Permission
from ims_tui.widgets.footer import StationFooter
from ims_tui.widgets.paged_list import PagedList

PAGE = 50
CREATE_WORDS = ("bins", "zone", "products", "scheduled")


def render_count(row: CountSummary, width: int) -> Text:
    recounts = f"  {row.recounts} to recount" if row.recounts else ""
    return Text.assemble((f"{row.number} ", "bold"), f"{row.status:<9} {row.kind:<10} {row.bins_done:>3}/{row.bins:<3} bins ",
                         f"{row.lines:>4} lines{recounts}  ", (row.scope[:30], "dim"))


def render_line(row: CountLineView, width: int) -> Text:
    lot = f" {row.lot}" if row.lot else ""
    variance = row.variance
    style = "" if not variance else ("green" if variance > 0 else "red")
    return Text.assemble(
        f"{row.line_no:>4} {row.location:<8} ", (f"{row.sku}{lot}"[:18].ljust(18), "bold"),
        f" cnt {qty_text(row.counted) if row.counted is not None else '-':>6} exp {qty_text(row.expected) if row.expected is not None else '-':>6} ",
        (f"var {qty_text(variance) if variance is not None else '-':>6} {money_text(row.value) if row.value is not None else '':>9}", style),
        f" {row.status}",
    )


def parse_create(text: str) -> dict:
    """``bins B-01 B-02`` / ``zone A`` / ``products SKU1 SKU2`` / ``scheduled`` -> create_count's keywords."""
    words = text.split()
    if not words or words[0].lower() not in CREATE_WORDS:
        raise ValueError("new count: type bins CODES, zone CODE, products SKUS or scheduled")
    kind, rest = words[0].lower(), words[1:]
    if kind == "scheduled":
        if rest:
            raise ValueError("scheduled takes nothing more")
        return {"scheduled": True}
    if not rest:
        raise ValueError(f"{kind}: name at least one")
    return {"products": rest} if kind == "products" else {"locations": rest}


class CountsScreen(ImsScreen):
    """The counts, newest first; Enter shows a count's lines with variances in quantity and value."""

    TITLE = "Counts"
    MESSAGE_LINE = "counts-message"
    HELP = (
        "Create a count in the box on top and press Enter: 'bins B-01 B-02', 'zone A' (every bin under it), "
        "'products SKU1 SKU2' (the bins holding them) or 'scheduled' (the products the ABC schedule says are "
        "due). Enter on a count shows its lines: counted, expected, variance in quantity and value. "
        "F8 sends the highlighted line to a recount by another counter, F10 twice approves every recounted line "
        "(one posting). The list follows the other stations."
    )
    BINDINGS = [
        Binding("ctrl+n", "new", "New count", id="counts.new"),
        Binding("f10", "approve", "Approve", id="counts.approve"),
        Binding("f8", "recount", "Recount line", id="counts.recount"),
        Binding("escape", "back_to_list", "Back", id="counts.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shown: str | None = None
        self.view: CountView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="new count: bins B-01 B-02 | zone A | products SKU | scheduled", id="counts-new")
        yield Static("", id="counts-head")
        counts_list: PagedList[CountSummary] = PagedList(render_count, empty_text="no counts yet", id="counts-list")
        yield counts_list
        lines: PagedList[CountLineView] = PagedList(render_line, empty_text="no lines", id="count-lines")
        lines.display = False
        yield lines
        yield Static("", id="counts-message", classes="status-line")
        yield StationFooter()

    @property
    def counts_list(self) -> PagedList[CountSummary]:
        return self.query_one("#counts-list", PagedList)

    @property
    def lines(self) -> PagedList[CountLineView]:
        return self.query_one("#count-lines", PagedList)

    def on_mount(self) -> None:
        store, actor = self.app.store, self.app.actor

        def fetch(cursor: int | None) -> tuple[list[CountSummary], int | None]:
            offset = cursor or 0
            rows = counts.list_counts(store, actor, limit=PAGE, offset=offset)
            return rows, offset + PAGE if len(rows) == PAGE else None

        self.counts_list.load(fetch)
        self.counts_list.focus()

    # -- list and detail ------------------------------------------------------------------------

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        if event.paged_list is self.counts_list:
            self.open_count(event.row.number)

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        if event.error:
            self.say(event.error, error=True)

    def open_count(self, number: str) -> None:
        self.shown = number
        self.call(counts.get_count, self.app.store, self.app.actor, number, then=self._show_count,
                  failed=lambda exc: self.say(str(exc), error=True))

    def _show_count(self, view: CountView) -> None:
        self.view = view
        awaiting = sum(1 for ln in view.lines if ln.status in ("recount", "recounted"))
        self.query_one("#counts-head", Static).update(Text.assemble(
            (f"{view.number} [{view.status}] ", "bold"), f"{view.kind}: {view.scope[:40]}  ",
            f"{len(view.lines)} lines, {awaiting} awaiting recount/approval"))
        rows = list(view.lines)

        def fetch(cursor: int | None) -> tuple[list[CountLineView], int | None]:
            offset = cursor or 0
            page = rows[offset:offset + PAGE]
            return page, offset + PAGE if offset + PAGE < len(rows) else None

        self.counts_list.display = False
        self.lines.display = True
        self.lines.load(fetch)
        self.lines.focus()

    def action_back_to_list(self) -> None:
        if self.shown is None:
            self.app.action_back()
            return
        self.shown = self.view = None
        self.lines.display = False
        self.counts_list.display = True
        self.query_one("#counts-head", Static).update("")
        self.counts_list.reload()
        self.counts_list.focus()

    def on_store_changed(self, message: StoreChanged) -> None:
        change = message.change
        if not change.touches("counts"):
            return
        if self.shown is None:
            self.counts_list.reload()
        elif change.everything or self.shown in change.idents("counts"):
            self.open_count(self.shown)

    # -- actions --------------------------------------------------------------------------------

    def action_new(self) -> None:
        self.query_one("#counts-new", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            keywords = parse_create(event.value)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return
        event.input.value = ""
        self.counts_list.focus()

        def created(view: CountView) -> None:
            self.say(f"{view.number} created: {len(view.bins)} bin(s) to count")
            self.counts_list.reload()

        self.call(counts.create_count, self.app.store, self.app.actor, then=created,
                  failed=lambda exc: self.say(str(exc), error=True), **keywords)

    def action_recount(self) -> None:
        line = self.lines.highlighted if self.shown else None
        if line is None:
            self.say("open a count and highlight the line to recount", error=True)
            return

        def sent(view: CountView) -> None:
            self.say(f"line {line.line_no} ({line.sku} at {line.location}) sent to a recount")
            self._show_count(view)

        self.call(counts.request_recount, self.app.store, self.app.actor, self.shown, [line.line_no], then=sent,
                  failed=lambda exc: self.say(str(exc), error=True))

    def action_approve(self) -> None:
        if self.shown is None:
            self.say("open a submitted count to approve it", error=True)
            return
        if not self.confirm_twice("approve", f"press F10 again to approve the recounted lines of {self.shown}"):
            return
        number = self.shown

        def approved(result: counts.ApproveResult) -> None:
            self.say(f"{number} approved: {result.lines} line(s), +{qty_text(result.gains)} "
                     f"-{qty_text(result.losses)}, value {money_text(result.value)}")
            self.open_count(number)

        def refused(exc: ImsError) -> None:
            self.say(str(exc).splitlines()[0], error=True)

        self.call(counts.approve, self.app.store, self.app.actor, number, then=approved, failed=refused)


register_task(Task("counts", "Counts", "c", Permission.APPROVE_COUNT, CountsScreen,
                   "create counts, review variances, approve or recount"))
