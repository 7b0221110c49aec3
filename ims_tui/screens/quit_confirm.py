"""Asked once when ctrl+q would close the app with work open: y (or ctrl+q again) leaves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    QuitConfirmScreen { align: center middle; }
    QuitConfirmScreen > Vertical { width: 64; height: auto; border: thick $warning; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Quit", id="quit.yes"),
        Binding("n", "answer(False)", "Stay", id="quit.no"),
        Binding("escape", "answer(False)", "Stay", id="quit.cancel", priority=True),
    ]

    def __init__(self, work: list[str]) -> None:
        super().__init__()
        self.work = work

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Quit with work open?", id="quit-title")
            yield Static("\n".join(f"- {item}" for item in self.work), id="quit-work")
            yield Static("It is saved and resumes when you open the task again.\n"
                         "y or ctrl+q quits, n or Esc stays.", id="quit-help")

    def action_answer(self, leave: bool) -> None:
        self.dismiss(leave)
