"""F1: the keys of the screen you are on, and how scanning works there."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ims_tui.widgets.footer import ordered_keys

SCANNING = (
    "Scanning: scan a product barcode (or a GS1 label) on any screen without a scan step to open "
    "the product; scan a bin to see what is in it."
)


class HelpScreen(ModalScreen[None]):
    """Lists the keys active on ``screen`` (captured when F1 was pressed)."""

    BINDINGS = [
        Binding("escape,f1", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 72; max-height: 20; height: auto;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.for_screen = screen
        self.rows = self._collect(screen)

    def _collect(self, screen: Screen) -> list[tuple[str, str]]:
        """The screen's own keys first, the task keys next, generic keys (Back, cursor keys) last."""
        return [(entry.display, entry.description) for entry in ordered_keys(screen)]

    def compose(self) -> ComposeResult:
        title = getattr(self.for_screen, "TITLE", None) or self.for_screen.title or "ims"
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in self.rows:
            table.add_row(key, description)
        with VerticalScroll() as scroll:
            scroll.border_title = f"Keys: {title}"
            scroll.border_subtitle = "Esc closes"
            help_text = getattr(self.for_screen, "HELP", "")
            if help_text:
                yield Static(Text(help_text), classes="help-text")
            yield Static(table, id="help-keys")
            yield Static(Text(SCANNING, style="italic"))
