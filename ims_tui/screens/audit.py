"""The audit trail for managers and auditors: filter by user, action, product and dates.

Rows page from the database newest first (keyset paging in :mod:`ims_tui.services.audit_log`),
so the screen stays quick however long the log grows.  Read-only: the log cannot be changed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Input, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services import audit_log
from ims_tui.services.audit_log import AuditFilter, AuditRow
from ims_tui.services.permissions import Permission
from ims_tui.widgets.paged_list import PagedList
from ims_tui.widgets.footer import StationFooter

FILTER_FIELDS = (
    ("f-user", "user"),
    ("f-action", "action (e.g. signin)"),
    ("f-product", "product code"),
    ("f-since", "from date"),
    ("f-until", "to date"),
)
OUTCOME_STYLES = {"ok": "", "denied": "bold red", "failed": "red", "locked": "bold red"}


def render_entry(row: AuditRow, width: int) -> Text:
    """``2026-01-02 14:03 rita  stock.receive  P1  summary``; refusals and failures in red."""
    when = f"{row.at.astimezone():%Y-%m-%d %H:%M}"
    style = OUTCOME_STYLES.get(row.outcome, "red")
    outcome = "" if row.outcome == "ok" else f"[{row.outcome}] "
    target = row.product or row.target
    return Text.assemble(
        (when, "dim"), " ",
        (f"{row.username[:12]:<12}", "bold"), " ",
        (f"{row.action[:18]:<18}", style), " ",
        f"{target[:14]:<14} ",
        (outcome, style),
        row.summary.replace("\n", " "),
    )


def parse_day(text: str, label: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{label}: not a date (YYYY-MM-DD): {text!r}") from None


class AuditScreen(ImsScreen):
    """Filters on top (Enter applies them), the entries below, details of the highlighted one."""

    TITLE = "Audit log"
    HELP = (
        "Every change, sign-in, failed sign-in, lockout and refused permission, newest first. "
        "Type in the filters and press Enter: user name, action (signin also finds signin.failed), "
        "a product code (SKU or barcode), and a date range (YYYY-MM-DD). The log itself cannot be changed."
    )
    CSS_PATH = Path(__file__).with_name("audit.tcss")
    BINDINGS = [
        Binding("ctrl+r", "refresh", "Refresh", id="audit.refresh"),
        Binding("ctrl+n", "clear_filters", "Clear filters", id="audit.clear"),
        Binding("ctrl+f", "focus_filters", "Filters", id="audit.filters"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filters = AuditFilter()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="audit-filters"):
            for field_id, placeholder in FILTER_FIELDS:
                yield Input(placeholder=placeholder, id=field_id)
        yield Static("", id="audit-status", classes="status-line")
        entries: PagedList[AuditRow] = PagedList(render_entry, empty_text="no matching entries", id="entries")
        entries.border_title = "Audit log, newest first"
        yield entries
        yield Static("", id="audit-detail")
        yield StationFooter()

    @property
    def entries(self) -> PagedList[AuditRow]:
        return self.query_one("#entries", PagedList)

    def on_mount(self) -> None:
        self.watch(self.entries, "cursor", self._show_detail, init=False)
        self.query_one("#f-user", Input).focus()
        self._load()

    def _load(self) -> None:
        store, actor, filters = self.app.store, self.app.actor, self.filters

        def fetch(cursor: int | None) -> tuple[list[AuditRow], int | None]:
            page = audit_log.browse(store, actor, filters, before_id=cursor)
            return list(page.rows), page.oldest_id if page.has_older else None

        self.query_one("#audit-status", Static).update(f"loading: {filters.describe()}")
        self.entries.load(fetch)

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        status = self.query_one("#audit-status", Static)
        if event.error:
            status.update(Text(event.error, style="bold red"))
            self.app.bell()
            return
        count = f"{event.count}+" if event.has_more else str(event.count)
        status.update(f"{count} entries: {self.filters.describe()}")
        self._show_detail()

    def _show_detail(self, *_: object) -> None:
        row = self.entries.highlighted
        detail = self.query_one("#audit-detail", Static)
        if row is None:
            detail.update("")
            return
        detail.update(Text.assemble(
            (f"#{row.id} {row.at.astimezone():%Y-%m-%d %H:%M:%S} ", "dim"),
            (row.username, "bold"), f" ({row.role or '-'}) at {row.station or '-'}: ",
            (row.action, "bold"), f" {row.target} [{row.outcome}]\n", row.summary,
        ))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        values = {field_id: self.query_one(f"#{field_id}", Input).value.strip() for field_id, _ in FILTER_FIELDS}
        try:
            since = parse_day(values["f-since"], "from")
            until = parse_day(values["f-until"], "to")
        except ValueError as exc:
            self.query_one("#audit-status", Static).update(Text(str(exc), style="bold red"))
            self.app.bell()
            return
        self.filters = AuditFilter(
            username=values["f-user"] or None, action=values["f-action"] or None,
            product=values["f-product"] or None, since=since, until=until,
        )
        self._load()
        self.entries.focus()

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        self._show_detail()

    def on_store_changed(self, message: StoreChanged) -> None:
        # New entries appear at the top; follow them only while the user is looking at the top.
        if self.entries.cursor == 0:
            self.entries.reload()

    def action_refresh(self) -> None:
        self.entries.reload()

    def action_clear_filters(self) -> None:
        for field_id, _ in FILTER_FIELDS:
            self.query_one(f"#{field_id}", Input).value = ""
        self.filters = AuditFilter()
        self._load()

    def action_focus_filters(self) -> None:
        self.query_one("#f-user", Input).focus()


register_task(Task("audit", "Audit log", "f12", Permission.VIEW_AUDIT, AuditScreen, "who did what, when"))
