"""The step-flow engine: what every floor task (receiving, picking, counting, transfers) shares.

A :class:`Flow` is a small state machine over named steps.  The engine owns the parts every
flow needs and gets wrong when it copies them:

- **dispatch**: a scan is resolved once (:func:`~ims_tui.services.scans.resolve_scan`) and goes
  to ``scan_<step>(resolution, text)``; typed text goes to ``typed_<step>(text)`` (or, without
  one, is treated as a scan).  A handler returns an :class:`Outcome`: one message line, whether
  it is an error (the bell rings) or a warning (the bell rings, the step goes on), and the
  ``next`` step.  An ``ImsError`` raised by a handler is that step's error line.
- **drafts and undo**: after every command the engine compares the flow's :meth:`Flow.snapshot`
  with the one before; when it changed, the draft is saved (``services.drafts``) and the
  snapshot before goes on the undo stack.  :meth:`Flow.undo` takes back the most recent step;
  :meth:`Flow.remove` asks for a line number and removes that line.
- **manager approval**: :meth:`Flow.hold` keeps the refused action, asks for a manager's badge,
  then the PIN (the site's lockout policy applies), then runs the action with the manager's name;
  any other scan or Esc drops it.  A badge scanned when nothing waits says so.
- **press again to confirm**: :meth:`Flow.armed` - the same command twice in a row.

A new flow implements (see ``flows/receiving.py``)::

    class CountFlow(Flow):
        KIND, TASK_ID, TITLE = "count", "count", "Count"   # draft kind, binding-id prefix, title
        STEPS = {"bin": "Scan the bin", "item": "Scan an item in {bin}"}   # step -> prompt
        FIRST_STEP = "bin"
        ACTIONS = (FlowAction("f10", "confirm", "Post"),)  # screen keys -> command names
        def scan_bin(self, resolution, text) -> Outcome: ...  # one per step (typed_<step> too)
        def confirm(self) -> Outcome: ...                      # each ACTIONS command
        def snapshot(self) / restore(snapshot) / payload() / draft_ref() / resume()
        def lines(self) -> list[str]; def remove_line(self, index) -> str
        def view(self) -> FlowView                             # what the screen shows

and is driven without a screen: ``flow.start(); flow.scan("PO-000001"); flow.command("confirm")``.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ims_tui.services import drafts
from ims_tui.services.actor import Actor
from ims_tui.services.auth import approve_override
from ims_tui.services.changes import Change
from ims_tui.services.errors import AuthError, BadInput, ImsError
from ims_tui.services.scans import ScanResolution, resolve_scan
from ims_tui.settings import StationProfile
from ims_tui.values import is_quantity, parse_quantity


@dataclass(frozen=True)
class Outcome:
    """What one step says: one line; ``error`` rings and refuses, ``warning`` rings and goes on;
    ``next`` is the step to go to (None: the flow decides or stays); ``back`` leaves the screen."""

    message: str = ""
    error: bool = False
    warning: bool = False
    next: str | None = None
    back: bool = False

    @property
    def bell(self) -> bool:
        return self.error or self.warning


@dataclass(frozen=True)
class FlowAction:
    """A key the flow's screen binds to a command; the binding id is ``<task id>.<command>``."""

    key: str
    command: str
    description: str
    show: bool = True
    permission: str | None = None
    """Offered only to roles with this permission (the service checks it again)."""


@dataclass(frozen=True)
class FlowView:
    """Everything a screen shows of a flow, as plain text."""

    head: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    lines: tuple[str, ...] = ()
    """The flow's finished lines, numbered for :meth:`Flow.remove`."""
    pending: str = ""
    prompt: str = ""
    secret: bool = False


APPROVE_BADGE, APPROVE_PIN, PICK_LINE = "approve_badge", "approve_pin", "pick_line"
ENGINE_PROMPTS = {
    APPROVE_BADGE: "Manager: scan your badge to approve (Esc cancels)",
    APPROVE_PIN: "Manager: type your PIN and Enter",
    PICK_LINE: "Remove which line? Type its number (Esc cancels)",
}


@dataclass
class _Held:
    """A refused action waiting for a manager: run ``retry(manager)`` once approved."""

    retry: Callable[[str], Outcome]
    return_step: str
    target: str
    badge: str = ""


@dataclass
class _Undo:
    snapshot: Any
    step: str
    what: str


class Flow:
    """Base of every step flow; subclasses define steps, handlers and what is saved."""

    KIND: ClassVar[str] = ""
    TASK_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    STEPS: ClassVar[dict[str, str]] = {}
    FIRST_STEP: ClassVar[str] = ""
    ACTIONS: ClassVar[tuple[FlowAction, ...]] = ()
    UNDO_DEPTH: ClassVar[int] = 50

    def __init__(self, store, actor: Actor, *, station: StationProfile | None = None) -> None:
        self.store = store
        self.actor = actor
        self.station = station
        """The station's profile (its default location ...), when a screen runs the flow."""
        self.step = self.FIRST_STEP
        self._held: _Held | None = None
        self._armed: str | None = None
        self._undo: list[_Undo] = []
        self._pick_return = self.FIRST_STEP

    # -- what a flow implements ---------------------------------------------------------------

    def resume(self) -> Outcome:
        """Open the user's saved draft, if any (called once by :meth:`start`)."""
        return Outcome()

    def snapshot(self) -> Any:
        """The flow's state that a step can change (compared, copied and restored by the engine)."""
        return None

    def restore(self, snapshot: Any) -> None:
        """Go back to ``snapshot`` (undo)."""

    def payload(self) -> dict | None:
        """What the draft saves now; None when there is no draft."""
        return None

    def draft_ref(self) -> tuple[int, str] | None:
        """(draft id, owner) of the open draft, or None."""
        return None

    def lines(self) -> list[str]:
        """The finished lines a person may remove, as shown."""
        return []

    def open_work(self) -> str | None:
        """Unposted work to name before the app quits (ctrl+q asks once); None when there is none."""
        lines = self.lines()
        return f"{self.TITLE}: {len(lines)} line(s) not posted" if lines else None

    def remove_line(self, index: int) -> str:
        """Remove line ``index`` (0-based); returns what was removed, as shown."""
        raise ImsError("nothing to remove here")

    def prompt_fields(self) -> dict[str, str]:
        """Values the step prompts name, e.g. ``{"sku": ...}``."""
        return {}

    def view_body(self) -> FlowView:
        """Head, table and pending line (the engine adds the lines, prompt and secret)."""
        return FlowView()

    def on_change(self, change: Change) -> Outcome:
        """Another station committed ``change``: re-read what this flow shows if it is about it."""
        return Outcome()

    # -- entry points (what a screen, the CLI or a test calls) --------------------------------

    def start(self) -> Outcome:
        return self._run(self.resume, "resume", undoable=False)

    def scan(self, text: str) -> Outcome:
        return self._run(lambda: self._scan(text), "scan")

    def typed(self, text: str) -> Outcome:
        return self._run(lambda: self._typed(text), "typed")

    def command(self, name: str, *args: object) -> Outcome:
        """Run one of the flow's commands (``confirm``, ``undo``, ``discard``, ``cancel`` ...)."""
        if name == "undo":
            return self._run(self.undo, "undo", undoable=False)
        if name == "changed":
            return self._run(lambda: self.on_change(*args), "changed", undoable=False, keep_armed=True)
        handler = getattr(self, name, None)
        if name.startswith("_") or not callable(handler) or name in ("start", "scan", "typed", "command"):
            return Outcome(f"unknown command {name!r}", error=True)
        return self._run(lambda: handler(*args), name)

    # -- built-in commands ---------------------------------------------------------------------

    def cancel(self) -> Outcome:
        """Esc: out of an approval or a line choice; else the flow's :meth:`cancel_step`."""
        if self.step in (APPROVE_BADGE, APPROVE_PIN):
            self._drop_approval()
            return Outcome("approval cancelled")
        if self.step == PICK_LINE:
            self.step = self._pick_return
            return Outcome("nothing removed")
        return self.cancel_step()

    def cancel_step(self) -> Outcome:
        return Outcome(back=True)

    def undo(self) -> Outcome:
        """Take back the most recent step that changed something."""
        if self.step in (APPROVE_BADGE, APPROVE_PIN):
            self._drop_approval()
        if not self._undo:
            return Outcome("nothing to undo", error=True)
        entry = self._undo.pop()
        self.restore(copy.deepcopy(entry.snapshot))
        self.step = entry.step
        self._save()
        return Outcome(f"undone: {entry.what}" if entry.what else "undone")

    def remove(self) -> Outcome:
        """Ask for the number of a finished line to remove."""
        if not self.lines():
            return Outcome("no line to remove", error=True)
        if self.step not in (APPROVE_BADGE, APPROVE_PIN, PICK_LINE):
            self._pick_return = self.step
        self._drop_approval()
        self.step = PICK_LINE
        return Outcome(f"lines 1-{len(self.lines())}: type the number to remove")

    # -- helpers for flows ----------------------------------------------------------------------

    def hold(self, refusal: str, retry: Callable[[str], Outcome], *, target: str = "") -> Outcome:
        """Refuse with ``refusal`` and wait for a manager's badge + PIN to run ``retry(manager)``."""
        return_step = self.step if self.step not in (APPROVE_BADGE, APPROVE_PIN, PICK_LINE) else self._pick_return
        self._held = _Held(retry, return_step, target)
        return Outcome(f"{refusal} - manager: scan badge to approve", error=True, next=APPROVE_BADGE)

    @property
    def holding(self) -> bool:
        return self._held is not None

    def armed(self, command: str) -> bool:
        """True when ``command`` was the previous command too (press again to confirm); else arms it."""
        if self._armed == command:
            self._armed = None
            return True
        self._armed = command
        return False

    def forget_undo(self) -> None:
        """The draft was posted or discarded: nothing before it can be undone."""
        self._undo.clear()

    @property
    def prompt(self) -> str:
        template = ENGINE_PROMPTS.get(self.step) or self.STEPS.get(self.step, "")
        return template.format_map(_Blank(self.prompt_fields()))

    @property
    def secret(self) -> bool:
        return self.step == APPROVE_PIN

    def view(self) -> FlowView:
        body = self.view_body()
        lines = self.lines()
        shown = lines if self.step == PICK_LINE else lines[-3:]
        first = len(lines) - len(shown) + 1
        return FlowView(body.head, body.columns, body.rows,
                        tuple(f"{first + n:>3}. {text}" for n, text in enumerate(shown)),
                        body.pending, self.prompt, self.secret)

    # -- the engine ----------------------------------------------------------------------------

    def _run(self, action: Callable[[], Outcome], what: str, *, undoable: bool = True, keep_armed: bool = False) -> Outcome:
        if not keep_armed and what != self._armed:
            self._armed = None
        step_before = self.step
        before = copy.deepcopy(self.snapshot())
        try:
            outcome = action()
        except ImsError as exc:
            outcome = Outcome(str(exc), error=True)
        if outcome.next is not None:
            self.step = outcome.next
        after = self.snapshot()
        if after != before and self.draft_ref() is not None:
            if undoable and before is not None:
                self._undo.append(_Undo(before, step_before, outcome.message))
                del self._undo[: -self.UNDO_DEPTH]
            try:
                self._save()
            except ImsError as exc:
                return Outcome(f"not saved: {exc}", error=True)
        return outcome

    def _save(self) -> None:
        ref, payload = self.draft_ref(), self.payload()
        if ref is not None and payload is not None:
            drafts.save(self.store, self.actor, self.KIND, ref[0], ref[1], payload)

    def _scan(self, text: str) -> Outcome:
        resolution = resolve_scan(self.store, text)
        if self.step in (APPROVE_BADGE, APPROVE_PIN):
            if resolution.kind == "badge" and self.step == APPROVE_BADGE:
                self._held.badge = text.strip()
                return Outcome("badge read: PIN please", next=APPROVE_PIN)
            self._drop_approval()
        elif self.step == PICK_LINE:
            self.step = self._pick_return
        if resolution.kind == "badge" and not hasattr(self, f"scan_badge_{self.step}"):
            return Outcome("a manager's badge approves a refused scan: nothing waits for approval now", error=True)
        handler = getattr(self, f"scan_{self.step}", None)
        if handler is None:
            return Outcome(f"nothing to scan at this step ({self.step})", error=True)
        if resolution.kind == "unknown" and not resolution.problems and hasattr(self, f"typed_{self.step}"):
            # a person typing fast (a word, not a label): what they typed, not an unknown scan
            typed = getattr(self, f"typed_{self.step}")(text.strip())
            if typed is not None:
                return typed
        return handler(resolution, text)

    def _typed(self, text: str) -> Outcome:
        text = text.strip()
        if self.step == APPROVE_BADGE:
            if not text:
                return Outcome(self.prompt)
            self._held.badge = text
            return Outcome("PIN please", next=APPROVE_PIN)
        if self.step == APPROVE_PIN:
            return self._approve(text)
        if self.step == PICK_LINE:
            return self._pick(text)
        handler = getattr(self, f"typed_{self.step}", None)
        if handler is not None:
            outcome = handler(text)
            if outcome is not None:
                return outcome
        if not text:
            return Outcome(self.prompt)
        return self._scan(text)

    def _approve(self, pin: str) -> Outcome:
        held = self._held
        try:
            manager = approve_override(self.store, held.badge, pin, station=self.actor.station, target=held.target)
        except AuthError as exc:
            self._drop_approval()
            return Outcome(f"not approved: {exc}", error=True)
        self._drop_approval()
        outcome = held.retry(manager)
        return Outcome(f"approved by {manager}: {outcome.message}", error=outcome.error, warning=outcome.warning,
                       next=outcome.next, back=outcome.back)

    def _drop_approval(self) -> None:
        held, self._held = self._held, None
        if held is not None and self.step in (APPROVE_BADGE, APPROVE_PIN):
            self.step = held.return_step

    def _pick(self, text: str) -> Outcome:
        lines = self.lines()
        if not text.isdigit() or not 1 <= int(text) <= len(lines):
            return Outcome(f"type a line number from 1 to {len(lines)} (Esc cancels)", error=True)
        self.step = self._pick_return
        removed = self.remove_line(int(text) - 1)
        return Outcome(f"removed line {text}: {removed}")


class _Blank(dict):
    """str.format_map that leaves a missing field empty."""

    def __missing__(self, key: str) -> str:
        return ""


def typed_number(text: str) -> bool:
    """True when a typed entry is a quantity rather than a code."""
    return is_quantity(text)


QUANTITY_DIGITS = 7
"""A typed quantity is short; a longer run of digits is a barcode typed or scanned unknown."""


def typed_quantity(text: str) -> Decimal | None:
    """The quantity a person typed at an item step, or None when the text is a code (resolve it
    like a scan); zero or less is refused at the step."""
    text = text.strip()
    if not is_quantity(text) or len(text) > QUANTITY_DIGITS:
        return None
    qty = parse_quantity(text)
    if qty <= 0:
        raise BadInput("a quantity must be more than zero")
    return qty


__all__ = ["APPROVE_BADGE", "APPROVE_PIN", "PICK_LINE", "Flow", "FlowAction", "FlowView", "Outcome", "ScanResolution",
           "typed_number", "typed_quantity"]
