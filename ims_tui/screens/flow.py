"""One screen for every step flow: head, lines, pending item, prompt, input, message line.

A task's screen is a subclass naming its flow (``FLOW = ReceivingFlow``); the bindings come from
the flow's ``ACTIONS`` with ids ``<task id>.<command>`` (so ``[keys]`` remaps them).  Scans, typed
entries, keys and other stations' changes become flow commands, run one at a time, in the order
they arrived, on one thread worker; the outcome is shown when each is done.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Input, Label, Static

from ims_tui.flows.engine import Flow, Outcome
from ims_tui.screens.base import ImsScreen, StoreChanged
from ims_tui.services.errors import ImsError
from ims_tui.services.permissions import allows
from ims_tui.widgets.scan import Scanned
from ims_tui.widgets.footer import StationFooter

FLOW_WORKERS = "flow"
"""The worker group of every flow screen (tests wait for it)."""


class FlowScreen(ImsScreen):
    """Renders ``FLOW`` and feeds it; subclasses set ``FLOW``, ``TITLE`` and ``HELP``."""

    FLOW: ClassVar[type[Flow]]
    SCAN_STEPS = True
    MESSAGE_LINE = "flow-message"
    CSS_PATH = Path(__file__).with_name("flow.tcss")

    def __init_subclass__(cls, **kwargs) -> None:
        flow = cls.__dict__.get("FLOW")
        if flow is not None:
            cls.BINDINGS = [
                Binding(action.key, f"flow('{action.command}')", action.description, show=action.show,
                        id=f"{flow.TASK_ID}.{action.command}", priority=True)
                for action in flow.ACTIONS
            ]
        super().__init_subclass__(**kwargs)  # Textual merges BINDINGS here

    def __init__(self) -> None:
        super().__init__()
        self._commands: deque[tuple[str, tuple]] = deque()
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False
        self.flow: Flow | None = None
        self._table_layout: tuple[tuple[str, int], ...] = ()

    def open_work(self) -> str | None:
        """The flow's unposted work, for the quit question (ctrl+q)."""
        return self.flow.open_work() if self.flow is not None else None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="flow-head")
        yield DataTable(id="flow-lines", cursor_type="row", zebra_stripes=True)
        yield Static("", id="flow-done")
        yield Static("", id="flow-pending")
        yield Label("", id="flow-prompt")
        yield Input(id="flow-input")
        yield Static("", id="flow-message", classes="status-line")
        yield StationFooter()

    def on_mount(self) -> None:
        self.flow = self.FLOW(self.app.store, self.app.actor, station=getattr(self.app, "station", None))
        self.query_one("#flow-input", Input).focus()
        self._show(Outcome())
        self.run_flow("start")

    def on_unmount(self) -> None:
        self._closed = True

    # -- input --------------------------------------------------------------------------------

    def on_scanned(self, message: Scanned) -> None:
        message.stop()
        self.run_flow("scan", message.text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        event.input.value = ""
        self.run_flow("typed", text)

    def on_store_changed(self, message: StoreChanged) -> None:
        self.run_flow("command", "changed", message.change)

    def action_flow(self, command: str) -> None:
        self.run_flow("command", command)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A flow key whose permission the signed-in role lacks is neither shown nor run."""
        if action == "flow" and parameters:
            needed = next((a.permission for a in self.FLOW.ACTIONS if a.command == parameters[0]), None)
            actor = getattr(self.app, "actor", None)
            if needed and (actor is None or not allows(actor.role, needed)):
                return False
        return super().check_action(action, parameters)

    # -- the one worker that runs the flow ------------------------------------------------------

    def run_flow(self, method: str, *args: object) -> None:
        """Queue ``flow.<method>(*args)``; commands run one at a time, in order, off the UI thread."""
        with self._lock:
            self._commands.append((method, args))
            if self._busy:
                return
            self._busy = True
        self.call(self._drain, group=FLOW_WORKERS)

    def _drain(self) -> None:
        """On the worker: run the queued commands in order, showing each outcome as it is done."""
        while True:
            with self._lock:
                if not self._commands or self._closed:
                    self._busy = False
                    return
                method, args = self._commands.popleft()
            try:
                outcome = getattr(self.flow, method)(*args)
            except ImsError as exc:
                outcome = Outcome(str(exc), error=True)
            except Exception as exc:  # noqa: BLE001 - the station must keep working and say what happened
                outcome = Outcome(f"unexpected {type(exc).__name__}: {exc}", error=True)
            try:
                self.app.call_from_thread(self._show, outcome)
            except RuntimeError:  # the app is gone
                return

    # -- showing --------------------------------------------------------------------------------

    def _show(self, outcome: Outcome) -> None:
        if self._closed:
            return
        if outcome.back:
            self.app.action_back()
            return
        view = self.flow.view()
        self.query_one("#flow-head", Static).update(Text(view.head, style="bold"))
        table = self.query_one("#flow-lines", DataTable)
        # Columns get their widths here, from the cells: left to the table, they are measured on
        # its next idle and a screen can show a column cut to its header's width until then.
        widths = [cell_len(label) for label in view.columns]
        for row in view.rows:
            widths = [max(width, cell_len(cell)) for width, cell in zip(widths, row)]
        layout = tuple(zip(view.columns, widths))
        if layout != self._table_layout:
            table.clear(columns=True)
            for label, width in layout:
                table.add_column(label, width=width)
            self._table_layout = layout
        table.clear()
        for row in view.rows:
            table.add_row(*(Text(cell) for cell in row))
        self.query_one("#flow-done", Static).update(Text("\n".join(view.lines)))
        self.query_one("#flow-pending", Static).update(Text(view.pending))
        self.query_one("#flow-prompt", Label).update(Text(view.prompt))
        self.query_one("#flow-input", Input).password = view.secret
        if outcome.message:
            self.say(outcome.message, error=outcome.error, warning=outcome.warning)
