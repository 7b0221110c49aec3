"""The home screen: who is signed in, and the tasks their role allows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from ims_tui.screens.base import ImsScreen
from ims_tui.screens.tasks import tasks_for
from ims_tui.widgets.footer import StationFooter


class HomeScreen(ImsScreen):
    """Pick a task with its F-key, or with the arrows and Enter."""

    TITLE = "Home"
    HELP = "Choose a task with its key, or move with the arrows and press Enter."
    DEFAULT_CSS = """
    HomeScreen #who { height: auto; padding: 1 2 0 2; }
    HomeScreen #tasks { height: 1fr; margin: 1 2; border: round $primary; }
    HomeScreen #hint { height: auto; padding: 0 2; color: $text-muted; }
    HomeScreen #scanners { height: auto; padding: 0 2; }
    """

    def compose(self) -> ComposeResult:
        actor = self.app.actor
        yield Header()
        who = Text.assemble(
            ("Signed in as ", ""), (actor.username, "bold"), (f" ({actor.role})", ""),
            (" at station ", ""), (actor.station, "bold"),
        )
        yield Static(who, id="who")
        options = [
            Option(Text.assemble((f"{self.app.task_key_display(task):>4}  ", "bold"), task.title,
                                 (f"  {task.description}" if task.description else "", "dim")), id=task.id)
            for task in tasks_for(actor)
        ]
        task_list = OptionList(*options, id="tasks")
        task_list.border_title = "Tasks"
        yield task_list
        yield Static("Scan a product or a bin at any time to look it up.", id="hint")
        yield Static(id="scanners")
        yield StationFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "scanner_states", self._show_scanners)

    def _show_scanners(self, states: dict[str, str]) -> None:
        line = Text()
        for name, state in states.items():
            style = "green" if state == "connected" else ("red" if state.startswith("disconnected") else "yellow")
            line.append(f"Scanner {name}: ", "dim").append(state, style).append("   ")
        try:
            scanners = self.query_one("#scanners", Static)
        except NoMatches:  # the app is exiting while Home mounts (a served session dropped at start)
            return
        scanners.display = bool(states)
        scanners.update(line)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.app.open_task(event.option.id)
