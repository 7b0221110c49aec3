"""The print-label dialog: what will print, which printer, how many; Enter prints, Escape cancels.

Pushed from the product and location screens.  Reading the label and printing both run in
thread workers (the store, then a TCP connection that may take seconds to time out); a
refusal or an unreachable printer is one line on the dialog with the bell, and the dialog
stays open to try again.  On success it is dismissed with the job's one-line summary.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ims_tui.devices.labels import LabelData
from ims_tui.services.labels import (
    MAX_COPIES,
    label_for_location,
    label_for_lot,
    label_for_po,
    label_for_product,
    print_labels,
)
from ims_tui.widgets.calls import ServiceCalls

LabelKind = Literal["product", "location", "lot", "po"]


class PrintLabelScreen(ServiceCalls, ModalScreen[str | None]):
    """Print a ``kind`` label for ``code`` (and ``lot`` for lot labels) to a ZPL printer."""

    SCAN_STEPS = False
    HELP = "Type the printer as HOST or HOST:PORT (port 9100 unless given) and the number of copies; Enter prints."
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="labels.cancel")]
    DEFAULT_CSS = """
    PrintLabelScreen { align: center middle; }
    PrintLabelScreen > Vertical {
        width: 76; height: auto; max-height: 22;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PrintLabelScreen #label-preview { height: auto; margin-bottom: 1; }
    PrintLabelScreen .field { height: 1; }
    PrintLabelScreen .field Label { width: 10; }
    PrintLabelScreen .field Input { width: 1fr; }
    PrintLabelScreen #label-status { height: auto; margin-top: 1; }
    PrintLabelScreen #label-status.error { color: $error; text-style: bold; }
    """

    def __init__(self, kind: LabelKind, code: str, lot: str | None = None) -> None:
        super().__init__()
        if kind not in ("product", "location", "lot", "po"):
            raise ValueError(f"label kind must be product, location, lot or po, not {kind!r}")
        if kind == "lot" and not lot:
            raise ValueError("a lot label needs the lot")
        self.kind = kind
        self.code = code
        self.lot = lot
        self.label: LabelData | None = None
        self.printing = False
        self._summary: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Print {self.kind} label"
            box.border_subtitle = "Enter print · Esc cancel"
            yield Static("reading the label...", id="label-preview")
            yield Horizontal(Label("Printer"), Input(self._default_printer(), placeholder="HOST[:PORT]", id="printer", compact=True), classes="field")
            yield Horizontal(Label("Copies"), Input("1", type="integer", max_length=3, id="copies", compact=True), classes="field")
            yield Static(id="label-status")

    def _default_printer(self) -> str:
        return getattr(self.app, "last_printer", "") or getattr(getattr(self.app, "config", None), "label_printer", None) or ""

    def on_mount(self) -> None:
        self.query_one("#printer", Input).focus()
        self._load_label()

    # -- reading the label ------------------------------------------------------------------

    def _load_label(self) -> None:
        actor = self.app.actor
        if actor is None:
            self._show_error("sign in first")
            return
        store, kind, code, lot = self.app.store, self.kind, self.code, self.lot or ""

        def read() -> LabelData:
            if kind == "product":
                return label_for_product(store, actor, code)
            if kind == "location":
                return label_for_location(store, actor, code)
            if kind == "po":
                return label_for_po(store, actor, code)
            return label_for_lot(store, actor, code, lot)

        self.call(read, then=self._show_label, failed=lambda error: self._show_error(str(error)),
                  group="label-load", exclusive=True)

    def _show_label(self, label: LabelData) -> None:
        if self._dialog_gone():
            return
        self.label = label
        lines = [Text(label.title, style="bold"), Text(label.code)]
        if label.code128_value != label.code:
            lines.append(Text(f"Code 128: {label.code128_value}"))
        if label.detail_line():
            lines.append(Text(label.detail_line()))
        if label.gtin is not None:
            lines.append(Text(f"GS1 DataMatrix {label.hri()}"))
        elif self.kind in ("product", "lot"):
            lines.append(Text("no unit GTIN among the barcodes: no GS1 DataMatrix", style="italic"))
        self.query_one("#label-preview", Static).update(Text("\n").join(lines))

    # -- printing ---------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_print()

    def action_print(self) -> None:
        if self.printing:
            return
        if self.label is None:
            self._show_error("the label is not ready: nothing to print")
            return
        printer = self.query_one("#printer", Input).value.strip()
        if not printer:
            self._show_error("type the printer as HOST or HOST:PORT")
            self.query_one("#printer", Input).focus()
            return
        copies_text = self.query_one("#copies", Input).value.strip()
        if not copies_text.isdigit() or not 1 <= int(copies_text) <= MAX_COPIES:
            self._show_error(f"copies must be a whole number from 1 to {MAX_COPIES}")
            self.query_one("#copies", Input).focus()
            return
        self.printing = True
        self._show_status(f"printing on {printer}...")
        self._print(self.label, printer, int(copies_text))

    def _print(self, label: LabelData, printer: str, copies: int) -> None:
        self.call(print_labels, self.app.store, self.app.actor, [label], printer=printer, fmt="zpl", copies=copies,
                  then=lambda job: self._printed(printer, job.summary()),
                  failed=lambda error: self._print_failed(str(error)), group="label-print", exclusive=True)

    def _printed(self, printer: str, summary: str) -> None:
        self.app.last_printer = printer  # session state: on the app instance, never on a class
        self._summary = summary
        if self.app.screen is self:
            self.dismiss(summary)
        # else something (the idle lock) came on top: dismissing now would pop that instead

    def on_screen_resume(self) -> None:
        if self._summary is not None:
            self.dismiss(self._summary)

    def _print_failed(self, message: str) -> None:
        self.printing = False
        self._show_error(message)

    def _dialog_gone(self) -> bool:
        """A worker finished after the dialog was closed."""
        return self not in self.app.screen_stack

    def _show_error(self, message: str) -> None:
        if self._dialog_gone():
            return
        self._show_status(message, error=True)
        self.app.bell()

    def _show_status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#label-status", Static)
        status.update(Text(message))
        status.set_class(error, "error")

    def action_cancel(self) -> None:
        if self.printing:
            self._show_status("printing: wait for the printer to answer")
            return
        self.dismiss(None)
