"""What every station screen shares: the scan contract, live-change delivery, and the size guard."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from ims_tui.services.permissions import Permission, allows
from ims_tui.widgets.calls import ServiceCalls

if TYPE_CHECKING:
    from ims_tui.services.changes import Change

MIN_WIDTH, MIN_HEIGHT = 80, 24


class StoreChanged(Message):
    """Another commit reached the store (any station); screens re-read what they show."""

    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change


class ImsScreen(ServiceCalls, Screen):
    """Base of the app's screens.

    ``SCAN_STEPS = True`` means the screen handles scans itself (``on_scanned``); otherwise the
    app opens what was scanned.  ``HELP`` is the paragraph F1 shows above the key list.
    """

    SCAN_STEPS: ClassVar[bool] = False
    HELP: ClassVar[str] = ""
    REQUIRES: ClassVar[dict[str, Permission]] = {}
    """Action name -> the permission it needs: for a role without it the key is neither shown
    (footer, F1, palette) nor run.  The services check again."""
    MESSAGE_LINE: ClassVar[str] = ""
    """The id of the screen's message line; without one, :meth:`say` uses the app's notices.
    Services are called with :meth:`~ims_tui.widgets.calls.ServiceCalls.call`."""

    def may(self, permission: Permission) -> bool:
        """Whether the signed-in user's role has ``permission``."""
        actor = self.app.actor
        return actor is not None and allows(actor.role, permission)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        needed = self.REQUIRES.get(action)
        return needed is None or self.may(needed)

    # -- the one message-line routine --------------------------------------------------------

    def say(self, text: str, *, error: bool = False, warning: bool = False) -> None:
        """One line to the user on this screen's message line; errors and warnings ring the bell."""
        if not self.MESSAGE_LINE:
            self.app.say(text, error=error or warning)
            return
        self.show_message(self.MESSAGE_LINE, text, error=error, warning=warning)

    def show_message(self, line_id: str, text: str, *, error: bool = False, warning: bool = False) -> None:
        """Put one line on the message line ``line_id``; an error is styled; errors and warnings
        ring; every line is kept in ``app.messages``."""
        line = self.query_one(f"#{line_id}", Static)
        line.update(Text(text))
        line.set_class(error or warning, "error-line")
        line.set_class(not (error or warning), "status-line")
        if text:
            self.app.messages.append(text)
        if error or warning:
            self.app.bell()

    # -- the one confirm helper --------------------------------------------------------------

    def confirm_twice(self, key: str, prompt: str) -> bool:
        """Press-again-to-confirm: False (and ``prompt`` said) the first time, True the second."""
        armed = getattr(self, "_ims_armed", None)
        if armed == key:
            self._ims_armed = None
            return True
        self._ims_armed = key
        self.say(prompt, error=True)
        return False

    def disarm(self) -> None:
        self._ims_armed = None

    def print_label(self, kind: str, code: str) -> None:
        """Open the label dialog for ``code``; what it printed is said on the status line."""
        from ims_tui.screens.labels import PrintLabelScreen

        def printed(summary: str | None) -> None:
            if summary:
                self.app.say(summary)

        self.app.push_screen(PrintLabelScreen(kind, code), callback=printed)

    def may_print_labels(self) -> bool:
        return self.may(Permission.PRINT_LABELS)


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
