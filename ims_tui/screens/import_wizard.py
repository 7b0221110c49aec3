"""The import wizard: choose a file, check how its columns are read, dry-run it, then import it.

One screen, four steps, keyboard only:

1. **Source** - the kind (products, suppliers, locations, opening stock) and the file's path;
   the path field completes names as you type (Right arrow accepts), Enter reads the file.
2. **Columns** - the detected encoding and delimiter, the first rows, and under each header
   where it goes.  Left/Right picks a column, Enter changes where it goes (a field, or ignore).
3. **Dry run** (ctrl+r) - every row is checked against the store and nothing is written:
   created / updated / refused counts and each problem with its row, column and value.
   ctrl+s writes the file again with an ``import_errors`` column next to it, to fix and re-import.
4. **Import** (F10) - after a clean dry run of the same file and columns: all rows or none.

The same service calls as ``ims import`` (:mod:`ims_tui.cli.transfer`): ``preview_file`` and
``run_import``, in thread workers, with a progress bar fed by the importer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Header, Input, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option

from ims_tui.screens.base import ImsScreen
from ims_tui.screens.tasks import Task, register_task
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission
from ims_tui.services.transfer import KINDS, FilePreview, ImportOptions, ImportReport, Problem, RowOutcome, preview_file, run_import
from ims_tui.services.transfer.columns import normalise_header
from ims_tui.widgets.files import PathSuggester, progress_relay
from ims_tui.widgets.paged_list import PagedList
from ims_tui.widgets.footer import StationFooter

KIND_LABELS = {"products": "Products", "suppliers": "Suppliers", "customers": "Customers", "locations": "Locations",
               "stock": "Opening stock"}
IMPORT_SUFFIXES = (".csv", ".txt", ".tsv")
CELL_WIDTH = 24
TARGET_STYLES = {"exact": "green", "synonym": "cyan", "mapped": "bold green"}
IGNORE = "-ignore-"
OUTCOMES_SHOWN = 10_000
"""A clean dry run lists row by row up to this many rows (the counts cover every row)."""



# -- what the wizard shows ---------------------------------------------------------------------


def render_finding(item: Problem | RowOutcome, width: int) -> Text:
    """A problem as ``row  column  value  message``; a clean row as ``row  key  action``."""
    if isinstance(item, Problem):
        where = "file" if item.row == 0 else f"row {item.row}"
        value = repr(item.value) if item.value else ""
        return Text.assemble(
            (f"{where:<10}", "bold"), f"{item.column[:15]:<16}", (f"{value[:17]:<18}", "italic"), (item.message, "red"),
        )
    return Text.assemble((f"row {item.row:<6}", "bold"), f"{item.key[:40]:<41}",
                         (item.action, "red" if item.action == "refused" else ""))


def column_label(preview: FilePreview, index: int) -> Text:
    """The header over its destination: ``EAN`` / ``-> barcodes (synonym)``."""
    match = preview.mapping.matches[index]
    header = (match.header or f"(column {index + 1})")[:CELL_WIDTH]
    if match.column:
        target_text = f"-> {match.column}"
        if match.how != "exact" and len(target_text) + len(match.how) + 3 <= CELL_WIDTH:
            target_text += f" ({match.how})"
        target = Text(target_text, style=TARGET_STYLES.get(match.how, "green"))
    elif match.how == "unknown":
        target = Text("unknown: ignored", style="bold yellow")
    elif match.how == "duplicate":
        target = Text("twice: ignored", style="bold red")
    else:
        target = Text("ignored", style="dim")
    return Text.assemble((header, "bold"), "\n", target)


def mapping_notes(preview: FilePreview) -> Text:
    """One line: unknown columns and what is missing or wrong with the header."""
    parts: list[tuple[str, str]] = []
    if preview.problems:
        parts.append((preview.problems[0].describe(), "bold red"))
    elif preview.mapping is not None and preview.mapping.unknown:
        parts.append((f"unknown columns (ignored): {', '.join(h for h in preview.mapping.unknown if h)}", "yellow"))
    if not parts:
        parts.append(("all columns are read; Enter on a column changes where it goes, ctrl+r checks every row", "dim"))
    return Text.assemble(*parts)


@dataclass(frozen=True)
class ImportChoice:
    """What a dry run was run on; F10 imports only what was checked."""

    kind: str
    path: str
    mapping: tuple[tuple[str, str], ...]


class ColumnTargetScreen(ModalScreen[str | None]):
    """Where one column of the file goes: a field of the kind, or nowhere.  Esc keeps it."""

    DEFAULT_CSS = """
    ColumnTargetScreen { align: center middle; }
    ColumnTargetScreen > Vertical {
        width: 60; height: auto; max-height: 20;
        border: round $primary; background: $surface; padding: 0 1;
    }
    ColumnTargetScreen OptionList { height: auto; max-height: 16; border: none; }
    """

    def __init__(self, preview: FilePreview, index: int) -> None:
        super().__init__()
        self.preview = preview
        self.index = index

    def compose(self) -> ComposeResult:
        match = self.preview.mapping.matches[self.index]
        taken = {m.column: m.header for m in self.preview.mapping.matches if m.column and m.index != self.index}
        options = [Option(Text("ignore this column", style="italic"), id=IGNORE)]
        for column in self.preview.columns:
            note = []
            if column in self.preview.required:
                note.append("required")
            if column in taken:
                note.append(f"now from {taken[column]!r}")
            label = Text.assemble((column, "bold" if column == match.column else ""),
                                  (f"  ({', '.join(note)})" if note else "", "dim"))
            options.append(Option(label, id=column))
        choices = OptionList(*options, id="target-options")
        with Vertical() as box:
            box.border_title = f"Column {match.header or self.index + 1!r} goes to"
            box.border_subtitle = "Enter chooses, Esc keeps it"
            yield choices

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        current = self.preview.mapping.matches[self.index].column
        choices.highlighted = choices.get_option_index(current) if current else 0
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class MappingTable(DataTable):
    """The first rows of the file, one column per file column, its destination under the header."""

    BINDINGS = [Binding("enter", "select_cursor", "Change column", id="import.change_column")]


class ImportScreen(ImsScreen):
    """Kind and file on top, the columns and first rows, then the dry run's findings."""

    MESSAGE_LINE = "import-message"
    TITLE = "Import"
    CSS_PATH = Path(__file__).with_name("import_wizard.tcss")
    HELP = (
        "Choose what the file holds, type its path (Right arrow accepts the suggested name) and press "
        "Enter. Check the columns: Left/Right picks one, Enter sends it to another field or ignores it. "
        "ctrl+r checks every row without writing anything; Enter on a problem shows its column; ctrl+s saves "
        "the rows with their errors next to the file, to fix in a spreadsheet and import again. F10 imports "
        "after a clean check: all rows or none."
    )
    BINDINGS = [
        Binding("ctrl+r", "dry_run", "Dry run", id="import.dry_run"),
        Binding("f10", "commit", "Import", id="import.commit", priority=True),
        Binding("ctrl+s", "save_errors", "Save errors", id="import.save_errors"),
        Binding("ctrl+f", "focus_file", "File", id="import.file"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.preview: FilePreview | None = None
        self.mapping: dict[str, str] = {}
        self.report: ImportReport | None = None
        self.checked: ImportChoice | None = None
        """The choice the last dry run was clean for (F10 imports only that)."""
        self.busy: str | None = None
        self.read_path = ""
        """The path as typed when the preview on screen was read."""
        self._generation = 0
        self._closed = False
        self._focus_findings = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="import-source"):
            yield Select([(KIND_LABELS[kind], kind) for kind in KINDS], value="products",
                         allow_blank=False, id="import-kind")
            yield Input(placeholder="path of the CSV file, e.g. ~/products.csv", id="import-file",
                        suggester=PathSuggester(IMPORT_SUFFIXES), select_on_focus=False)
        yield Static("", id="import-format", classes="status-line")
        yield MappingTable(id="import-columns", cursor_type="column", header_height=2, show_cursor=True)
        yield Static("", id="import-notes", classes="status-line")
        with Horizontal(id="import-result"):
            yield ProgressBar(total=100, id="import-progress")
            yield Static("", id="import-summary")
        findings: PagedList = PagedList(render_finding, empty_text="", id="import-findings")
        yield findings
        yield Static("", id="import-detail", classes="status-line")
        yield Static("", id="import-message", classes="status-line")
        yield StationFooter()

    def on_mount(self) -> None:
        self.query_one("#import-progress").display = False
        self.watch(self.findings, "cursor", self._show_detail, init=False)
        # the columns and the problems take the focus only once they show something: Tab from
        # the path never lands on an empty table (whose keys would fill the footer)
        self.query_one("#import-columns", DataTable).can_focus = False
        self.findings.can_focus = False
        self.query_one("#import-file", Input).focus()
        self._say("choose the kind, type the file's path and press Enter")

    def on_unmount(self) -> None:
        self._closed = True

    @property
    def findings(self) -> PagedList:
        return self.query_one("#import-findings", PagedList)

    @property
    def kind(self) -> str:
        return str(self.query_one("#import-kind", Select).value)

    @property
    def path(self) -> str:
        return self.query_one("#import-file", Input).value.strip()

    @property
    def choice(self) -> ImportChoice:
        return ImportChoice(self.kind, self.path, tuple(sorted(self.mapping.items())))

    @property
    def options(self) -> ImportOptions:
        return ImportOptions(mapping=dict(self.mapping))

    # -- step 1: kind and file ------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "import-file":
            event.stop()
            self._read_file(mapping={}, focus_table=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "import-kind" and self.preview is not None:
            self._read_file(mapping={})

    def _read_file(self, *, mapping: dict[str, str], focus_table: bool = False, note: str = "") -> None:
        """Preview the file with ``mapping``; ``note`` is said when it is on screen."""
        if self.busy:
            self._say(f"wait: {self.busy}", error=True)
            return
        if not self.path:
            self._say("type the path of the file to import", error=True)
            return
        self.mapping = mapping
        self._forget_results()
        self._generation += 1
        self._say(f"reading {self.path} ...")
        self._load_preview(self.kind, self.path, self.options, self._generation, focus_table, note)

    def _load_preview(self, kind: str, path: str, options: ImportOptions, generation: int, focus_table: bool,
                      note: str) -> None:
        self.call(_file_errors_as_bad_input(preview_file), kind, path, options, group="import-preview",
                  then=lambda preview: self._show_preview(preview, path, generation, focus_table, note),
                  failed=lambda error: self._preview_failed(generation, _one_line(error)))

    def _preview_failed(self, generation: int, message: str) -> None:
        if self._closed or generation != self._generation:
            return
        self.preview = None
        self.query_one("#import-columns", DataTable).clear(columns=True)
        self.query_one("#import-format", Static).update("")
        self.query_one("#import-notes", Static).update("")
        self._say(message, error=True)

    # -- step 2: the columns --------------------------------------------------------------------

    def _show_preview(self, preview: FilePreview, path: str, generation: int, focus_table: bool, note: str) -> None:
        if self._closed or generation != self._generation:
            return
        self.preview = preview
        self.read_path = path
        table = self.query_one("#import-columns", DataTable)
        column = table.cursor_column
        table.clear(columns=True)
        fmt = self.query_one("#import-format", Static)
        if preview.format is None or preview.mapping is None:
            fmt.update("")
            self.query_one("#import-notes", Static).update(mapping_notes(preview))
            self._say("the file cannot be read: nothing can be imported from it", error=True)
            return
        fmt.update(preview.format.describe())
        for index in range(len(preview.headers)):
            table.add_column(column_label(preview, index), key=str(index))
        for row in preview.rows:
            cells = [(row[i] if i < len(row) else "")[:CELL_WIDTH] for i in range(len(preview.headers))]
            table.add_row(*cells)
        table.move_cursor(column=min(column, max(len(preview.headers) - 1, 0)))
        table.can_focus = bool(preview.headers)
        self.query_one("#import-notes", Static).update(mapping_notes(preview))
        rows = f"first {len(preview.rows)} rows shown" if preview.rows else "no data rows"
        self._say(note or f"{len(preview.headers)} columns, {rows}: ctrl+r checks every row (nothing is written)",
                  error=bool(preview.problems))
        if focus_table:
            table.focus()

    def on_data_table_column_selected(self, event: DataTable.ColumnSelected) -> None:
        event.stop()
        if self.preview is None or self.preview.mapping is None:
            return
        if self.busy:
            self._say(f"wait: {self.busy}", error=True)
            return
        index = int(str(event.column_key.value))
        self.app.push_screen(ColumnTargetScreen(self.preview, index),
                             callback=lambda target: self._remap(index, target))

    def _remap(self, index: int, target: str | None) -> None:
        """Send file column ``index`` to ``target`` (IGNORE: nowhere); the column that had it lets go."""
        preview = self.preview
        if target is None or preview is None or preview.mapping is None or self._closed:
            return
        destination = "" if target == IGNORE else target
        mapping = dict(self.mapping)
        header = preview.headers[index] or f"column {index + 1}"
        note = f"{header} -> {destination}" if destination else f"{header} is ignored"
        for match in preview.mapping.matches:
            if destination and match.column == destination and match.index != index:
                mapping[normalise_header(match.header)] = ""
                note += f"; {match.header} is ignored now"
        mapping[normalise_header(preview.headers[index])] = destination
        self._read_file(mapping=mapping, note=note + ": ctrl+r checks every row")

    # -- step 3: dry run, error file ------------------------------------------------------------

    def action_dry_run(self) -> None:
        if self._ready("check"):
            self._run(self.choice, "checking", dry_run=True)

    def action_save_errors(self) -> None:
        if self.report is None or self.report.ok:
            self._say("no problems to save: run the dry run (ctrl+r) first" if self.report is None
                      else "no problems to save", error=True)
            return
        if self._ready("save the errors"):
            source = Path(self.path).expanduser()
            self._run(self.choice, "saving the errors", dry_run=True,
                      errors_path=source.with_name(source.stem + ".errors.csv"))

    # -- step 4: import ------------------------------------------------------------------------

    def action_commit(self) -> None:
        if not self._ready("import"):
            return
        if self.checked != self.choice:
            self._say("run the dry run first (ctrl+r): F10 imports a file only after a clean check", error=True)
            return
        self._run(self.choice, "importing", dry_run=False)

    def _ready(self, what: str) -> bool:
        if self.busy:
            self._say(f"wait: {self.busy}", error=True)
            return False
        if self.preview is None or self.preview.mapping is None or self.path != self.read_path:
            self._say(f"press Enter on the file's path to read it before you {what}", error=True)
            return False
        return True

    def _run(self, choice: ImportChoice, busy: str, *, dry_run: bool, errors_path: Path | None = None) -> None:
        self.busy = busy
        self._forget_results()
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=100, progress=0)
        bar.display = True
        self.query_one("#import-summary", Static).update(busy + " ...")
        self._say(f"{busy} {Path(choice.path).name}: " + ("nothing is written" if dry_run else "all rows or none"))
        self._import(choice, dry_run, errors_path)

    def _import(self, choice: ImportChoice, dry_run: bool, errors_path: Path | None) -> None:
        app = self.app

        @_file_errors_as_bad_input
        def run() -> tuple[ImportReport, list]:
            report = run_import(app.store, app.actor, choice.kind, choice.path, dry_run=dry_run,
                                options=ImportOptions(mapping=dict(choice.mapping)),
                                progress=progress_relay(app, self._progress), errors_path=errors_path)
            if not report.ok:
                return report, report.sorted_problems()
            if report.keep_rows and report.total <= OUTCOMES_SHOWN:
                return report, report.outcomes()
            return report, []

        self.call(run, then=lambda done: self._done(choice, *done), failed=lambda error: self._failed(_one_line(error)),
                  group="import", even_if_gone=True)

    def _progress(self, phase: str, done: int, total: int) -> None:
        if self._closed:
            return
        self.query_one("#import-progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#import-summary", Static).update(f"{phase} ...")

    def _failed(self, message: str) -> None:
        self.busy = None
        if self._closed:
            self.app.say(f"import: {message}", error=True)
            return
        self.query_one("#import-progress", ProgressBar).display = False
        self.query_one("#import-summary", Static).update("")
        self._say(message, error=True)

    def _done(self, choice: ImportChoice, report: ImportReport, findings: list) -> None:
        self.busy = None
        name = Path(report.file).name
        if report.committed:
            line = f"imported {report.kind} from {name}: {report.summary()}"
        elif report.dry_run and report.ok:
            line = f"dry run of {name}: every row is fine, nothing written yet: F10 imports it"
        elif report.errors_file:
            line = f"nothing written; the rows with their errors are in {report.errors_file}"
        elif report.dry_run:
            line = f"nothing would be written: {report.refused} refused (ctrl+s saves the rows with their errors)"
        else:
            line = "nothing was written: " + (report.sorted_problems()[0].describe() if report.problems else "refused")
        if self._closed:
            self.app.say(line, error=not report.ok)
            return
        self.report = report
        self.checked = choice if report.dry_run and report.ok else None
        self.query_one("#import-progress", ProgressBar).display = False
        prefix = "dry run: " if report.dry_run else ""
        self.query_one("#import-summary", Static).update(
            Text(f"{prefix}{report.total} rows: {report.summary()}", style="bold" if report.ok else "bold red"))
        self._focus_findings = not report.ok
        self.findings.load(lambda cursor: _page(findings, cursor))
        self._say(line, error=not report.ok)

    def _forget_results(self) -> None:
        self.report = None
        self.checked = None
        self.query_one("#import-summary", Static).update("")
        self.query_one("#import-detail", Static).update("")
        self.findings.load(lambda cursor: ([], None))

    def on_paged_list_loaded(self, event: PagedList.Loaded) -> None:
        self.findings.can_focus = bool(event.count)
        # PagedList cannot take focus while a page is loading: move to the problems once they are in
        if self._focus_findings and event.count:
            self._focus_findings = False
            self.findings.focus()
        self._show_detail()

    def on_paged_list_chosen(self, event: PagedList.Chosen) -> None:
        """Enter on a problem: its column in the preview, ready to be sent elsewhere."""
        item = event.row
        if not isinstance(item, Problem) or self.preview is None or item.column not in self.preview.headers:
            return
        table = self.query_one("#import-columns", DataTable)
        table.move_cursor(column=self.preview.headers.index(item.column))
        table.focus()

    def _show_detail(self, *_: object) -> None:
        item = self.findings.highlighted
        detail = self.query_one("#import-detail", Static)
        if isinstance(item, Problem):
            detail.update(item.describe())
        elif isinstance(item, RowOutcome):
            detail.update(f"row {item.row}: {item.key} - {item.action}")
        elif self.report is not None and self.report.ok and self.report.total > OUTCOMES_SHOWN:
            detail.update(f"{self.report.total} rows checked: too many to list one by one")
        else:
            detail.update("")

    # -- the rest -------------------------------------------------------------------------------

    def action_focus_file(self) -> None:
        self.query_one("#import-file", Input).focus()

    def _path_takes(self) -> Input | None:
        """The path field, focused, when typed text would otherwise go nowhere (not in a field
        and not in the open kind list)."""
        focused = self.focused
        kind = self.query_one("#import-kind", Select)
        if isinstance(focused, Input) or (kind.expanded and focused is not None and focused is not kind):
            return None
        field = self.query_one("#import-file", Input)
        field.focus()
        return field

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and (field := self._path_takes()) is not None:
            event.stop()
            field.insert_text_at_cursor(event.character)

    def on_paste(self, event: events.Paste) -> None:
        if (field := self._path_takes()) is not None:
            event.stop()
            field.insert_text_at_cursor(event.text.strip())

    def _say(self, text: str, *, error: bool = False) -> None:
        self.say(text, error=error)


FINDINGS_PAGE = 200


def _page(items: list, cursor: int | None) -> tuple[list, int | None]:
    """``PagedList`` fetch over a list already in memory: a page at a time, however many problems."""
    start = cursor or 0
    end = start + FINDINGS_PAGE
    return items[start:end], end if end < len(items) else None


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _file_errors_as_bad_input(fn):
    """``fn`` with an OSError (the file went away, no permission) as one BadInput line."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            raise BadInput(f"cannot read the file: {exc.strerror or exc}") from None

    return run


register_task(Task("import", "Import", "i", Permission.IMPORT, ImportScreen,
                   "products, suppliers, locations, stock from CSV"))
