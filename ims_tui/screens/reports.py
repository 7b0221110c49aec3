"""Reports: choose one, set its parameters by keys, page through the rows, see its chart, export it.

Rows page from the database (each page is the report's SQL with ``LIMIT``/``OFFSET``); totals and
the chart's points are computed in a thread worker of their own; an export runs the same service
call as ``ims report NAME -o FILE`` with a progress bar.  Nothing here builds SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Input, ProgressBar, Select, Static

from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.screens.export_dialog import export_folder, remember_export_folder, shown_path
from ims_tui.widgets.files import PathSuggester, progress_relay
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.errors import ImsError
from ims_tui.services.permissions import Permission
from ims_tui.services.reports import REPORTS, ReportParams, get_report, page, totals
from ims_tui.services.reports.core import PARAM_FLAGS, chart_series
from ims_tui.services.reports.export import export_report
from ims_tui.widgets.paged_list import PagedList
from ims_tui.widgets.footer import StationFooter

PAGE = 100
FILTER_KEYS = {"warehouse": "warehouse", "category": "category", "supplier": "supplier", "by": "by", "days": "days",
               "lot": "lot", "serial": "serial", "so": "so", "product": "product"}
WIDTHS = {"text": 12, "money": 12, "cost": 9, "qty": 8, "int": 6, "date": 10, "datetime": 16, "number": 8}
WIDE = {"name": 22, "sku": 11, "product": 11, "location": 10, "from_location": 10, "to_location": 10, "step": 11,
        "reference": 12, "supplier": 16, "customer": 12}


def today() -> dt.date:
    """The day reports count from (UTC); tests pin it."""
    return dt.datetime.now(dt.timezone.utc).date()


def parse_params(date_from: str, date_to: str, as_of: str, filters: str) -> ReportParams:
    """The three date fields and ``key=value`` filters (``warehouse=WH1 by=category days=60``)."""
    values: dict[str, Any] = {"today": today()}
    for label, key, text in (("from", "date_from", date_from), ("to", "date_to", date_to), ("as of", "as_of", as_of)):
        if text.strip():
            try:
                values[key] = dt.date.fromisoformat(text.strip())
            except ValueError:
                raise ValueError(f"{label}: not a date (YYYY-MM-DD): {text.strip()!r}") from None
    for token in filters.split():
        key, sep, value = token.partition("=")
        if not sep or key not in FILTER_KEYS or not value:
            raise ValueError(f"filters are key=value with a key of {', '.join(FILTER_KEYS)}: not {token!r}")
        if key == "days":
            if not value.isdigit():
                raise ValueError(f"days=N takes a whole number of days, not {value!r}")
            values[key] = int(value)
        else:
            values[FILTER_KEYS[key]] = value
    return ReportParams(**values)


def cell(value: Any, type_: str, width: int) -> str:
    if value is None:
        text = ""
    elif isinstance(value, Decimal):
        text = f"{value:,.2f}" if type_ in ("money", "number") else format(value.normalize(), "f") if type_ == "qty" else f"{value}"
    elif isinstance(value, dt.datetime):
        text = f"{value.astimezone():%Y-%m-%d %H:%M}"
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value).replace("\n", " ")
    if len(text) > width:
        text = text[: width - 1] + "~"
    return text.ljust(width) if type_ in ("text", "date", "datetime") else text.rjust(width)


def bar_chart(points: list[tuple[str, Decimal]], width: int, height: int) -> Text:
    """Horizontal bars, one per point (sampled evenly when there are more points than lines)."""
    if not points:
        return Text("no figures to chart for these parameters", style="italic")
    if len(points) > height:
        step = len(points) / height
        points = [points[min(int(i * step + step - 1), len(points) - 1)] for i in range(height)]
    label_width = min(max(len(label) for label, _ in points), 14)
    values = [float(value) for _, value in points]
    top = max(max(values), 0.0) or 1.0
    numbers = [f"{value:,.2f}" for value in values]
    number_width = max(len(n) for n in numbers)
    room = max(width - label_width - number_width - 3, 4)
    text = Text()
    for (label, _), value, number in zip(points, values, numbers, strict=True):
        length = max(value, 0.0) / top * room
        full = int(length)
        bar = "█" * full + ("▌" if length - full >= 0.5 else "")
        text.append(f"{label[:label_width]:>{label_width}} ", style="bold")
        text.append(f"{bar:<{room}}", style="cyan")
        text.append(f" {number:>{number_width}}\n")
    return text


class ReportsScreen(ImsScreen):
    """Report and parameters on top, the rows (or the chart) below, totals on the status line."""

    TITLE = "Reports"
    HELP = (
        "Choose a report, fill in the dates (YYYY-MM-DD; the period defaults to the last 365 days) and "
        "filters as key=value (warehouse=WH1 category=Tools by=category days=60 lot=L1 so=SO-1 supplier=ACME "
        "product=SKU), then Enter. Left/Right scroll wide reports; ctrl+g shows the chart (turnover by month, "
        "ABC Pareto curve, aging buckets ...); ctrl+e exports the report to CSV or XLSX (from the file's "
        "extension; XLSX carries the chart). Cost of goods and demand come from the ledger's shipments."
    )
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="reports.run"),
        Binding("ctrl+g", "toggle_chart", "Chart", id="reports.chart"),
        Binding("ctrl+e", "export", "Export", id="reports.export"),
        Binding("ctrl+f", "focus_params", "Parameters", id="reports.params"),
        Binding("left", "scroll_columns(-1)", "Columns left", show=False, id="reports.left"),
        Binding("right", "scroll_columns(1)", "Columns right", show=False, id="reports.right"),
    ]
    DEFAULT_CSS = """
    ReportsScreen #report-params { height: 3; margin: 0 1; }
    ReportsScreen #report-name { width: 17; }
    ReportsScreen .report-date { width: 16; }
    ReportsScreen #report-filters { width: 1fr; }
    ReportsScreen #report-header { height: 1; padding: 0 2; text-style: bold; color: $text-muted; }
    ReportsScreen #report-rows { margin: 0 1; border: round $primary-darken-2; }
    ReportsScreen #report-rows:focus { border: round $primary; }
    ReportsScreen #report-chart { height: 1fr; margin: 0 1; padding: 0 1; border: round $primary-darken-2; }
    ReportsScreen #report-export { height: 3; margin: 0 1; }
    ReportsScreen #report-export Input { width: 1fr; }
    ReportsScreen #report-progress { width: 30; padding: 1 1 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.params = ReportParams(today=today())
        self.columns: tuple = ()
        self.column_offset = 0
        self.chart_points: list[tuple[str, Decimal]] = []
        self.showing_chart = False
        self.exporting = False
        self._closed = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="report-params"):
            yield Select([(report.title, name) for name, report in sorted(REPORTS.items(), key=lambda kv: kv[1].title)],
                         value="valuation", allow_blank=False, id="report-name")
            yield Input(placeholder="from", id="report-from", classes="report-date")
            yield Input(placeholder="to", id="report-to", classes="report-date")
            yield Input(placeholder="as of", id="report-as-of", classes="report-date")
            yield Input(placeholder="key=value", id="report-filters")
        with Horizontal(id="report-export"):
            yield Input(placeholder="file to write (.csv or .xlsx)", id="report-file",
                        suggester=PathSuggester((".csv", ".xlsx")))
            yield ProgressBar(total=100, id="report-progress", show_eta=False)
        yield Static("", id="report-status", classes="status-line")
        yield Static("", id="report-header")
        rows: PagedList[tuple] = PagedList(self._render_row, empty_text="no rows for these parameters", id="report-rows")
        yield rows
        yield Static("", id="report-chart")
        yield StationFooter()

    @property
    def rows(self) -> PagedList[tuple]:
        return self.query_one("#report-rows", PagedList)

    @property
    def report_name(self) -> str:
        return str(self.query_one("#report-name", Select).value)

    def on_mount(self) -> None:
        self.query_one("#report-export").display = False
        self.query_one("#report-chart").display = False
        self.query_one("#report-name", Select).focus()
        self._run()

    def on_unmount(self) -> None:
        self._closed = True

    # -- running -------------------------------------------------------------------------

    def _read_params(self) -> ReportParams | None:
        try:
            return parse_params(*(self.query_one(f"#{field}", Input).value
                                  for field in ("report-from", "report-to", "report-as-of", "report-filters")))
        except ValueError as exc:
            self._say(str(exc), error=True)
            return None

    def _run(self) -> None:
        params = self._read_params()
        if params is None:
            return
        report = get_report(self.report_name)
        unused = sorted(PARAM_FLAGS[key].lstrip("-") for key in params.given() - report.accepts)
        if unused:
            self._say(f"{report.title} does not take {', '.join(unused)}: it takes "
                      f"{', '.join(sorted(PARAM_FLAGS[k].lstrip('-') for k in report.accepts)) or 'no parameters'}",
                      error=True)
            return
        self.params, self.column_offset, self.columns, self.chart_points = params, 0, report.columns(params), []
        self._header()
        store, actor, name = self.app.store, self.app.actor, self.report_name

        def fetch(cursor: int | None) -> tuple[list[tuple], int | None]:
            result = page(store, actor, name, params, offset=cursor or 0, limit=PAGE)
            return result.rows, result.next_offset

        self._say(f"{report.title}: computing ...")
        self.rows.load(fetch)
        self._summarise(name, params)

    @work(thread=True, group="report-summary", exclusive=True, exit_on_error=False)
    def _summarise(self, name: str, params: ReportParams) -> None:
        app = self.app
        try:
            summed = totals(app.store, app.actor, name, params)
            points = chart_series(app.store, app.actor, name, params)
        except ImsError as exc:
            app.call_from_thread(self._say, str(exc), True)
            return
        app.call_from_thread(self._summarised, name, summed, points)

    def _summarised(self, name: str, summed: dict, points: list[tuple[str, Decimal]]) -> None:
        if self._closed or name != self.report_name:
            return
        self.chart_points = points
        report = get_report(name)
        parts = [f"{summed['rows']:,} rows"] if "rows" in summed else []
        types = dict(self.columns)
        parts += [f"{key} {cell(value, types.get(key, 'money'), 20).strip()}" for key, value in summed.items()
                  if key != "rows"][:3]
        self._say(f"{report.title}: " + ("; ".join(parts) if parts else "done"))
        self._draw_chart()

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        if event.error:
            self._say(event.error, error=True)

    def on_store_changed(self, message: StoreChanged) -> None:
        if self.rows.cursor == 0 and not self.exporting:
            self.rows.reload()

    # -- drawing -------------------------------------------------------------------------

    def _visible(self) -> list[tuple[int, str, str, int]]:
        columns = [(i, name, type_, WIDE.get(name, WIDTHS[type_])) for i, (name, type_) in enumerate(self.columns)]
        if not columns:
            return []
        first, rest = columns[0], columns[1:][self.column_offset:]
        return [first, *rest]

    def _header(self) -> None:
        line = " ".join(cell(name, "text" if type_ in ("text", "date", "datetime") else "qty", width)
                        for _, name, type_, width in self._visible())
        more = " >" if self.column_offset + len(self._visible()) < len(self.columns) else ""
        self.query_one("#report-header", Static).update(Text(line + more, no_wrap=True, overflow="ellipsis"))

    def _render_row(self, row: tuple, width: int) -> Text:
        if len(row) != len(self.columns):  # a row of the previous report, until the new page arrives
            return Text("")
        return Text(" ".join(cell(row[i], type_, w) for i, _, type_, w in self._visible()), no_wrap=True)

    def _draw_chart(self) -> None:
        report = get_report(self.report_name)
        chart = self.query_one("#report-chart", Static)
        chart.border_title = report.chart.title if report.chart else f"{report.title}: no chart"
        size = chart.content_region
        chart.update(bar_chart(self.chart_points, max(size.width, 40), max(size.height, 4)))

    def action_toggle_chart(self) -> None:
        report = get_report(self.report_name)
        if report.chart is None and not self.showing_chart:
            self._say(f"{report.title} has no chart", error=True)
            return
        self.showing_chart = not self.showing_chart
        self.query_one("#report-chart").display = self.showing_chart
        self.rows.display = not self.showing_chart
        self.query_one("#report-header").display = not self.showing_chart
        self.call_after_refresh(self._draw_chart)

    def action_scroll_columns(self, step: int) -> None:
        if self.focused is not self.rows:
            return
        self.column_offset = max(0, min(self.column_offset + step, max(len(self.columns) - 2, 0)))
        self._header()
        self.rows.refresh()

    # -- actions -------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "report-file":
            self._start_export(event.value.strip())
            return
        self._run()
        if self.showing_chart:
            self.action_toggle_chart()
        self.rows.focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "report-name" and self.is_mounted:
            self._run()

    def action_run(self) -> None:
        self._run()

    def action_focus_params(self) -> None:
        self.query_one("#report-name", Select).focus()

    def action_export(self) -> None:
        row = self.query_one("#report-export")
        row.display = True
        field = self.query_one("#report-file", Input)
        if not field.value:
            field.value = shown_path(export_folder(self.app) / f"ims-report-{self.report_name}-{today().isoformat()}.xlsx")
        self.query_one("#report-progress").display = False
        field.focus()
        self._say("Enter writes the file: .xlsx (with the chart) or .csv; Esc leaves")

    def _start_export(self, path: str) -> None:
        if self.exporting:
            self._say("wait: exporting", error=True)
            return
        if not path:
            self._say("type the name of the file to write", error=True)
            return
        fmt = "csv" if path.lower().endswith(".csv") else "xlsx" if path.lower().endswith(".xlsx") else ""
        if not fmt:
            self._say("the file name must end in .csv or .xlsx", error=True)
            return
        self.exporting = True
        bar = self.query_one("#report-progress", ProgressBar)
        bar.update(total=100, progress=0)
        bar.display = True
        self._say(f"exporting {get_report(self.report_name).title.lower()} ...")
        self._export(self.report_name, self.params, str(Path(path).expanduser().absolute()), fmt)

    @work(thread=True, group="report-export", exit_on_error=False)
    def _export(self, name: str, params: ReportParams, path: str, fmt: str) -> None:
        app = self.app
        try:
            result = export_report(app.store, app.actor, name, params, Path(path).expanduser(), fmt=fmt,
                                   progress=progress_relay(app, self._progress))
        except (ImsError, OSError) as exc:
            app.call_from_thread(self._exported, str(exc), True)
            return
        app.call_from_thread(self._exported, result.describe(), False, path)

    def _progress(self, phase: str, done: int, total: int) -> None:
        if not self._closed:
            self.query_one("#report-progress", ProgressBar).update(total=max(total, 1), progress=done)

    def _exported(self, line: str, error: bool, path: str = "") -> None:
        self.exporting = False
        if not error:
            remember_export_folder(self.app, path)
        if self._closed:
            self.app.say(line, error=error)
            return
        self.query_one("#report-progress").display = False
        self._say(line, error=error)

    def _say(self, text: str, error: bool = False) -> None:
        self.show_message("report-status", text, error=error)


register_task(Task("reports", "Reports", "f9", Permission.REPORTS, ReportsScreen, "valuation, turnover, ABC, trace ..."))
