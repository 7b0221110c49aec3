"""Export: products, suppliers, customers, locations, stock, moves or the audit log to a CSV or XLSX file.

The same service call as ``ims export -o FILE`` (:func:`ims_tui.services.transfer.export`), in a
thread worker with a progress bar.  The file is replaced only when the export is complete; an
existing file is replaced only after a second F10.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Input, ProgressBar, Select, Static

from ims_tui.screens.base import ImsScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, allows
from ims_tui.services.transfer import EXPORT_KINDS, FORMATS, ExportResult, export
from ims_tui.widgets.files import PathSuggester, progress_relay
from ims_tui.widgets.footer import StationFooter

KIND_LABELS = {"products": "Products", "suppliers": "Suppliers", "customers": "Customers", "locations": "Locations",
               "stock": "Stock on hand",
               "moves": "Stock movements", "audit": "Audit log"}


def default_folder() -> Path:
    """The user's home, or the current directory where there is no home (a locked-down kiosk)."""
    home = Path.home()
    return home if home.is_dir() else Path.cwd()


def export_folder(app) -> Path:
    """The folder this user last exported to on this station (session state), else the default."""
    user = app.actor.username if app.actor is not None else ""
    return app.export_folders.get(user) or default_folder()


def remember_export_folder(app, path: str | Path) -> Path:
    """Remember the folder of ``path`` for this user; returns the file's absolute path."""
    target = Path(path).expanduser().absolute()
    if app.actor is not None:
        app.export_folders[app.actor.username] = target.parent
    return target


def shown_path(path: Path) -> str:
    """``~/name`` for a file right in the home folder, else the path as it is."""
    return f"~/{path.name}" if path.parent == Path.home() else str(path)


def default_path(kind: str, fmt: str, today: dt.date | None = None, folder: Path | None = None) -> str:
    """``~/ims-products-2026-03-01.csv`` in ``folder`` (the default folder when not given)."""
    return shown_path((folder or default_folder()) / f"ims-{kind}-{(today or dt.date.today()).isoformat()}.{fmt}")


class ExportScreen(ImsScreen):
    """What, which format, where; F10 (or Enter in the path) writes the file."""

    MESSAGE_LINE = "export-message"
    TITLE = "Export"
    HELP = (
        "Choose what to export and the format: CSV (imports back unchanged) or XLSX (typed cells, a "
        "frozen header and a filter). The file name follows your choices until you type your own; "
        "Right arrow accepts a suggested folder name; the folder you last wrote to is offered next time. "
        "F10 or Enter writes the file and says where it went; an existing file is replaced only after a second F10."
    )
    BINDINGS = [
        Binding("f10", "export", "Export", id="export.run", priority=True),
        Binding("ctrl+f", "focus_file", "File", id="export.file"),
    ]
    DEFAULT_CSS = """
    ExportScreen #export-choice { height: 3; margin: 1 1 0 1; }
    ExportScreen #export-kind { width: 28; }
    ExportScreen #export-format { width: 14; }
    ExportScreen #export-hint { width: 1fr; padding: 1 1 0 2; color: $text-muted; }
    ExportScreen #export-file { margin: 0 1; }
    ExportScreen #export-progress { margin: 1 2 0 2; }
    ExportScreen #export-result { height: auto; padding: 1 1 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.last: ExportResult | None = None
        self._suggested = ""
        self._replace_armed = ""
        self._closed = False

    def compose(self) -> ComposeResult:
        may_audit = allows(self.app.actor.role, Permission.VIEW_AUDIT) if self.app.actor else False
        kinds = [(KIND_LABELS[kind], kind) for kind in EXPORT_KINDS if kind != "audit" or may_audit]
        yield Header()
        with Horizontal(id="export-choice"):
            yield Select(kinds, value="products", allow_blank=False, id="export-kind")
            yield Select([(fmt.upper(), fmt) for fmt in FORMATS], value="csv", allow_blank=False, id="export-format")
            yield Static("CSV imports back unchanged; XLSX for spreadsheets", id="export-hint")
        self._suggested = default_path("products", "csv", folder=export_folder(self.app))
        yield Input(self._suggested, placeholder="file to write, e.g. ~/products.csv", id="export-file",
                    suggester=PathSuggester((".csv", ".xlsx")))
        yield ProgressBar(total=100, id="export-progress")
        yield Static("", id="export-result")
        yield Static("", id="export-message", classes="status-line")
        yield StationFooter()

    def on_mount(self) -> None:
        self.query_one("#export-progress").display = False
        self.query_one("#export-kind", Select).focus()
        self._say("choose what to export, then F10 (or Enter in the file name)")

    def on_unmount(self) -> None:
        self._closed = True

    @property
    def kind(self) -> str:
        return str(self.query_one("#export-kind", Select).value)

    @property
    def fmt(self) -> str:
        return str(self.query_one("#export-format", Select).value)

    @property
    def path(self) -> str:
        return self.query_one("#export-file", Input).value.strip()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Follow the choices in the file name: the suggested name, or the suffix of a typed one."""
        field = self.query_one("#export-file", Input)
        current = field.value.strip()
        if not current or current == self._suggested:
            self._suggested = default_path(self.kind, self.fmt, folder=export_folder(self.app))
            field.value = self._suggested
        else:
            suffix = Path(current).suffix
            if suffix.lower() in {f".{fmt}" for fmt in FORMATS}:
                field.value = current[: -len(suffix)] + f".{self.fmt}"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export()

    def action_export(self) -> None:
        if self.busy:
            self._say("wait: exporting", error=True)
            return
        path = self.path
        if not path:
            self._say("type the name of the file to write", error=True)
            return
        target = Path(path).expanduser()
        if target.is_dir():
            self._say(f"{path} is a folder: add a file name", error=True)
            return
        if target.exists() and self._replace_armed != path:
            self._replace_armed = path
            self._say(f"{path} exists: press F10 again to replace it", error=True)
            return
        self._replace_armed = ""
        self.busy = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=100, progress=0)
        bar.display = True
        self.query_one("#export-result", Static).update("")
        self._say(f"exporting {KIND_LABELS[self.kind].lower()} ...")
        self._export(self.kind, self.fmt, str(target.absolute()))

    def _export(self, kind: str, fmt: str, path: str) -> None:
        app = self.app

        def write() -> ExportResult:
            try:
                return export(app.store, app.actor, kind, path, fmt=fmt, progress=progress_relay(app, self._progress))
            except OSError as exc:
                raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None

        self.call(write, then=lambda result: self._finished(result, ""), failed=lambda error: self._finished(None, str(error)),
                  group="export", even_if_gone=True)

    def _progress(self, phase: str, done: int, total: int) -> None:
        if not self._closed:
            self.query_one("#export-progress", ProgressBar).update(total=max(total, 1), progress=done)

    def _finished(self, result: ExportResult | None, error: str) -> None:
        self.busy = False
        line = result.describe() if result is not None else error
        if self._closed:
            self.app.say(line, error=result is None)
            return
        self.query_one("#export-progress", ProgressBar).display = False
        self.last = result
        if result is not None:
            remember_export_folder(self.app, result.path or self.path)
            self.query_one("#export-result", Static).update(Text(line, style="bold"))
        self._say(line if result is None else "done: choose another export, or Esc", error=result is None)

    def action_focus_file(self) -> None:
        self.query_one("#export-file", Input).focus()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.say(text, error=error)


register_task(Task("export", "Export", "w", Permission.EXPORT, ExportScreen, "write a CSV or XLSX file"))
