"""What every station screen shares: the scan contract, live-change delivery, and the size guard."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ims_tui.services.permissions import Permission, allows

if TYPE_CHECKING:
    from ims_tui.services.changes import Change

MIN_WIDTH, MIN_HEIGHT = 80, 24


class StoreChanged(Message):
    """Another commit reached the store (any station); screens re-read what they show."""

    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change


class ImsScreen(Screen):
    """Base of the app's screens.

    ``SCAN_STEPS = True`` means the screen handles scans itself (``on_scanned``); otherwise the
    app opens what was scanned.  ``HELP`` is the paragraph F1 shows above the key list.
    """

    SCAN_STEPS: ClassVar[bool] = False
    HELP: ClassVar[str] = ""

    def show_message(self, line_id: str, text: str, *, error: bool = False) -> None:
        """Put one line on the screen's message line; an error is styled, rings and is kept."""
        line = self.query_one(f"#{line_id}", Static)
        line.update(text)
        line.set_class(error, "error-line")
        line.set_class(not error, "status-line")
        if error:
            self.app.messages.append(text)
            self.app.bell()

    def print_label(self, kind: str, code: str) -> None:
        """Open the label dialog for ``code``; what it printed is said on the status line."""
        from ims_tui.screens.labels import PrintLabelScreen

        def printed(summary: str | None) -> None:
            if summary:
                self.app.say(summary)

        self.app.push_screen(PrintLabelScreen(kind, code), callback=printed)

    def may_print_labels(self) -> bool:
        actor = self.app.actor
        return actor is not None and allows(actor.role, Permission.PRINT_LABELS)


class TooSmallScreen(Screen):
    """Shown instead of a broken layout while the terminal is smaller than 80x24."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit", id="quit", show=False)]
    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen Static { width: auto; text-align: center; }
    """

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(id="too-small-message")

    def on_mount(self) -> None:
        self.show_size()

    def on_resize(self) -> None:
        self.show_size()

    def show_size(self) -> None:
        width, height = self.app.size
        self.query_one("#too-small-message", Static).update(
            f"The terminal is {width}x{height}.\n"
            f"ims needs at least {MIN_WIDTH}x{MIN_HEIGHT}:\nenlarge the window or use a smaller font."
        )
