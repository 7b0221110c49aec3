"""Signing in at a station, creating the first administrator, and the idle lock.

All hashing and store calls run in thread workers (argon2 costs ~80 ms per check); the inputs
are disabled while one runs, so a double Enter cannot send two attempts.  A badge scan arrives
as a :class:`~ims_tui.widgets.scan.Scanned` message and is followed by the PIN.  Messages
come from the service and never say whether an account exists.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import ModalScreen
from textual.widgets import Header, Input, Static

from ims_tui.screens.base import ImsScreen
from ims_tui.services.actor import Actor
from ims_tui.widgets.calls import ServiceCalls
from ims_tui.widgets.scan import Scanned
from ims_tui.widgets.footer import StationFooter

if TYPE_CHECKING:
    from types import ModuleType

    from ims_tui.services.auth import DemoUser, SignInResult

CSS = Path(__file__).with_name("signin.tcss")


def _auth() -> ModuleType:
    """The sign-in service, imported in the worker that first calls it: it brings SQLAlchemy and
    the models, which the sign-in screen does not need to paint (start-up time)."""
    from ims_tui.services import auth

    return auth


class _Attempts(ServiceCalls):
    """Shared by both screens: run one credential check in a worker and report on the UI thread.

    Each screen says where the cursor goes after a failure (``_focus_secret``).
    """

    app: Any

    def _set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#signin-status", Static)  # type: ignore[attr-defined]
        status.update(Text(text, style="bold") if error else text)
        status.set_class(error, "error-line")
        status.set_class(not error, "status-line")
        if error:
            self.app.bell()

    def _set_busy(self, busy: bool) -> None:
        for field in self.query(Input):  # type: ignore[attr-defined]
            field.disabled = busy
        if busy:
            self._set_status("checking...")

    def _attempt(self, attempt: Callable[[], SignInResult], done: Callable[[SignInResult], None]) -> None:
        self._set_busy(True)
        self.call(attempt, then=done, failed=lambda error: self._attempt_failed(str(error)),  # type: ignore[attr-defined]
                  group="signin", exclusive=True)

    def _attempt_failed(self, message: str) -> None:
        self._set_busy(False)
        for field in self.query(Input):  # type: ignore[attr-defined]
            if field.password:
                field.value = ""
        self._set_status(message, error=True)
        self._focus_secret()  # type: ignore[attr-defined]


def _show(screen: Any, shown: set[str]) -> None:
    for field in screen.query(Input):
        field.display = field.id in shown


class SignInScreen(_Attempts, ImsScreen):
    """User name + password, or a badge scan + PIN; on an empty store, the first administrator."""

    TITLE = "Sign in"
    SCAN_STEPS = True
    WHOLE_SCANS = True
    """A badge whose keys reach the terminal bunched (one late pause) is still one scan."""
    CSS_PATH = CSS
    HELP = (
        "Type your user name and password, or scan your badge and type your PIN. After several "
        "failed attempts an account is locked for a while; an administrator can unlock it."
    )
    BINDINGS = [Binding("escape", "cancel_badge", "Cancel badge", show=False, id="signin.cancel_badge")]

    def __init__(self) -> None:
        super().__init__()
        self.mode = "loading"
        self._badge = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical(id="signin-box"):
            yield Static("", id="signin-title", classes="section-title")
            yield Static("", id="signin-intro")
            yield Input(placeholder="user name", id="username", max_length=120)
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="repeat the password", password=True, id="confirm")
            yield Input(placeholder="PIN", password=True, id="pin", max_length=12)
            yield Static("opening the store...", id="signin-status", classes="status-line")
        with Center():
            yield Static("", id="demo-users")
        yield StationFooter()

    def on_mount(self) -> None:
        _show(self, set())
        self.call_after_refresh(self._probe)  # painted first: the probe may have to open the store

    def _probe(self) -> None:
        def probe() -> tuple[bool, list[DemoUser]]:
            store = self.app.store  # the app opens it after the first paint: this waits for it
            first = _auth().needs_first_admin(store)
            return first, [] if first else _auth().demo_user_names(store)

        self.call(probe, then=lambda found: self._ready(*found), failed=lambda error: self._set_status(str(error), error=True),
                  group="signin-probe", exclusive=True)

    def _ready(self, first_admin: bool, demo_users: list[DemoUser]) -> None:
        self._show_demo_users(demo_users)
        self._set_mode("first_admin" if first_admin else "password")
        self.app.input_ready()  # keys typed (or scanned) while the store opened go in now

    def _show_demo_users(self, demo_users: list[DemoUser]) -> None:
        panel = self.query_one("#demo-users", Static)
        panel.display = bool(demo_users)
        if not demo_users:
            return
        lines = Text("Demo store users: password 'demo' unless 'ims demo --password' set another", style="bold")
        for user in demo_users:
            badge = f"badge {user.badge_code}, PIN {_auth().DEMO_PIN}" if user.badge_code else ""
            lines.append(f"\n  {user.username:<10} {user.role:<9} {user.full_name:<18} {badge}".rstrip(), style="")
        panel.update(lines)

    def _set_mode(self, mode: str, status: str = "") -> None:
        self.mode = mode
        station = self.app.config.station
        title, intro = {
            "first_admin": ("Create the first administrator",
                            "This store has no users yet. Choose the administrator's user name and a password "
                            "of at least 8 characters."),
            "password": ("Sign in", f"Station {station}. Scan your badge, or type your user name and password."),
            "badge": ("Sign in with your badge", "Badge scanned. Type your PIN and press Enter (Esc to cancel)."),
        }[mode]
        self.query_one("#signin-title", Static).update(title)
        self.query_one("#signin-intro", Static).update(intro)
        shown = {"first_admin": {"username", "password", "confirm"}, "password": {"username", "password"},
                 "badge": {"pin"}}[mode]
        _show(self, shown)
        self._set_status(status)
        self.query_one("#pin", Input).value = ""
        self.query_one("#pin" if mode == "badge" else "#username", Input).focus()

    def _focus_secret(self) -> None:
        self.query_one("#pin" if self.mode == "badge" else "#password", Input).focus()

    def on_scanned(self, message: Scanned) -> None:
        if self.mode == "first_admin":
            self._set_status("create the administrator first; badges are given out afterwards", error=True)
            return
        if self.mode not in ("password", "badge") or not message.text.strip():
            return
        self._badge = message.text.strip()
        self._set_mode("badge")

    def action_cancel_badge(self) -> None:
        if self.mode == "badge":
            self._badge = ""
            self._set_mode("password")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        field = event.input.id
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        app, station = self.app, self.app.config.station
        if field == "username":
            if username:
                self.query_one("#password", Input).focus()
        elif field == "password" and self.mode == "password":
            if not username:
                self.query_one("#username", Input).focus()
                return
            self._attempt(lambda: _auth().sign_in(app.store, username, password, station=station), self._signed_in)
        elif field == "password" and self.mode == "first_admin":
            self.query_one("#confirm", Input).focus()
        elif field == "confirm":
            if self.query_one("#confirm", Input).value != password:
                self._attempt_failed("the two passwords differ; type them again")
                return
            self._attempt(lambda: _auth().create_first_admin(app.store, username, password, station=station),
                          self._signed_in)
        elif field == "pin":
            badge, pin = self._badge, event.value
            self._attempt(lambda: _auth().sign_in_badge(app.store, badge, pin, station=station), self._signed_in)

    def _attempt_failed(self, message: str) -> None:
        super()._attempt_failed(message)
        if self.mode == "first_admin" and "already has users" in message:
            self._set_mode("password", "")
            self._set_status(message, error=True)

    def _signed_in(self, result: SignInResult) -> None:
        self.app.sign_in_complete(result.actor)


class LockScreen(_Attempts, ModalScreen[Actor]):
    """Covers the station until the same user types their password or PIN, or another user signs in.

    Everything under it stays as it was; the lock screen is opaque, so nothing of it is visible.
    Dismissed with the actor who unlocked.
    """

    TITLE = "Station locked"
    SCAN_STEPS = True
    WHOLE_SCANS = True
    CSS_PATH = CSS
    HELP = (
        "The station locked itself after a while without use. Type your password or PIN to carry on "
        "where you were. Someone else can sign in instead (ctrl+u), or scan their badge."
    )
    BINDINGS = [
        Binding("ctrl+u", "other_user", "Another user", id="lock.other_user", priority=True),
        Binding("escape", "same_user", "Back", show=False, id="lock.same_user"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.mode = "same"
        self._badge = ""

    def compose(self) -> ComposeResult:
        actor: Actor = self.app.actor
        with Vertical(id="lock-box"):
            yield Static("Station locked", id="signin-title", classes="section-title")
            yield Static("", id="signin-intro")
            yield Input(placeholder="password or PIN", password=True, id="secret")
            yield Input(placeholder="user name", id="username", max_length=120)
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="PIN", password=True, id="pin", max_length=12)
            yield Static("", id="signin-status", classes="status-line")
            yield Static(f"Locked for {actor.username}. ctrl+u: another user signs in. A badge scan works too.",
                         id="lock-hint")
        yield StationFooter()

    def on_mount(self) -> None:
        self._set_mode("same")

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        actor: Actor = self.app.actor
        intro, shown, focus = {
            "same": (f"{actor.username} ({actor.role}): type your password or PIN to carry on.", {"secret"}, "#secret"),
            "other": ("Another user: type your user name and password (Esc: back).", {"username", "password"}, "#username"),
            "badge": ("Badge scanned. Type your PIN and press Enter (Esc: back).", {"pin"}, "#pin"),
        }[mode]
        self.query_one("#signin-intro", Static).update(intro)
        _show(self, shown)
        for field in self.query(Input):
            if field.password:
                field.value = ""
        self._set_status("")
        self.query_one(focus, Input).focus()

    def _focus_secret(self) -> None:
        self.query_one({"same": "#secret", "other": "#password", "badge": "#pin"}[self.mode], Input).focus()

    def action_other_user(self) -> None:
        self._set_mode("other")

    def action_same_user(self) -> None:
        if self.mode != "same":
            self._set_mode("same")

    def on_scanned(self, message: Scanned) -> None:
        if message.text.strip():
            self._badge = message.text.strip()
            self._set_mode("badge")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        store, current = self.app.store, self.app.actor
        if event.input.id == "secret":
            secret = event.value
            self._attempt(lambda: _auth().verify_unlock(store, current, secret), self._unlocked)
        elif event.input.id == "username":
            if event.value.strip():
                self.query_one("#password", Input).focus()
        elif event.input.id == "password":
            username, password = self.query_one("#username", Input).value.strip(), event.value
            if not username:
                self.query_one("#username", Input).focus()
                return
            station = current.station
            self._attempt(lambda: _take_over(store, current, _auth().sign_in(store, username, password, station=station)),
                          self._unlocked)
        elif event.input.id == "pin":
            badge, pin, station = self._badge, event.value, current.station
            self._attempt(lambda: _take_over(store, current, _auth().sign_in_badge(store, badge, pin, station=station)),
                          self._unlocked)

    def _unlocked(self, result: SignInResult) -> None:
        self.dismiss(result.actor)


def _take_over(store: Any, previous: Actor, result: SignInResult) -> SignInResult:
    """Another user signed in at the lock screen: the previous session ends (audited)."""
    if result.actor.username != previous.username:
        _auth().record_sign_out(store, previous, f"station taken over by {result.actor.username} while locked")
    return result
