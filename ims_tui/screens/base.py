"""What every station screen shares: the scan contract, live-change delivery, and the size guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from rich.text import Text

from ims_tui.services.errors import ImsError
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
    MESSAGE_LINE: ClassVar[str] = ""
    """The id of the screen's message line; without one, :meth:`say` uses the app's notices."""

    # -- the one way a screen calls a service ---------------------------------------------------

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        then: Callable[[Any], None] | None = None,
        failed: Callable[[ImsError], None] | None = None,
        group: str = "service",
        exclusive: bool = False,
        **kwargs: Any,
    ) -> None:
        """Run ``fn(*args, **kwargs)`` in a thread worker; on the UI thread afterwards, hand the
        result to ``then``, or an :class:`ImsError` to ``failed`` (default: one message line).
        Nothing is delivered to a screen that has closed meanwhile."""
        self._call_worker(fn, args, kwargs, then, failed, group, exclusive)

    def _call_worker(self, fn, args, kwargs, then, failed, group: str, exclusive: bool) -> None:
        self.run_worker(lambda: self._in_worker(fn, args, kwargs, then, failed), thread=True, group=group,
                        exclusive=exclusive, exit_on_error=False)

    def _in_worker(self, fn, args, kwargs, then, failed) -> None:
        try:
            result = fn(*args, **kwargs)
        except ImsError as exc:
            self._deliver(failed or (lambda error: self.say(str(error), error=True)), exc)
            return
        except Exception as exc:  # noqa: BLE001 - the station must keep working and say what happened
            self._deliver(lambda error: self.say(f"unexpected {type(error).__name__}: {error}", error=True), exc)
            return
        if then is not None:
            self._deliver(then, result)

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        def run() -> None:
            if self.is_attached and not self._closing_down:
                callback(value)

        try:
            self.app.call_from_thread(run)
        except RuntimeError:  # the app closed under the worker
            pass

    @property
    def _closing_down(self) -> bool:
        return bool(getattr(self, "_ims_closed", False))

    def on_unmount(self) -> None:
        self._ims_closed = True

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
