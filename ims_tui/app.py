"""The station app: sign-in, home, tasks by F-key, scan-anywhere, live updates, idle lock.

Everything a station does passes through :class:`ImsApp`:

- keys: every binding has an id, so ``[keys]`` in the station config remaps it
  (``lookup = "f6"``, ``help = "f1,question_mark"``); F1 lists the current screen's keys,
  Escape goes back, ctrl+p opens a command palette whose commands follow the screen;
- scans: :meth:`ImsApp.deliver_scan` is the one entry point, fed by the keyboard-wedge
  detector here and by evdev/serial sources;
- live data: a thread worker follows the store's change feed and posts
  :class:`~ims_tui.screens.base.StoreChanged` to every open screen;
- size: below 80x24 a screen says how large the terminal must be.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.reactive import reactive
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette, DiscoveryHit, Hits
from textual.system_commands import SystemCommandsProvider
from textual.screen import ModalScreen, Screen
from textual.theme import Theme

from ims_tui.config import Config
from ims_tui.screens.base import MIN_HEIGHT, MIN_WIDTH, ImsScreen, StoreChanged, TooSmallScreen
from ims_tui.screens.tasks import Task, get_task, load_tasks, tasks_for
from ims_tui.services.actor import Actor
from ims_tui.services.errors import ImsError, PermissionDenied
from ims_tui.services.permissions import Permission, allows
from ims_tui.services.text import ESCAPES
from ims_tui.settings import use_site
from ims_tui.widgets.scan import TERMINATOR_KEYS, ScanDetector, Scanned


def _show_control_characters() -> None:
    """Text from the store is data, never terminal control: Rich and Textual drop only BEL, BS,
    VT, FF and CR from the text they render and pass ESC and the C1 range through, so a stored
    ``ESC ] 0 ; ... BEL`` would retitle the terminal.  Widen their tables to show every control
    character as ``\\xNN`` instead (the CLI does the same with :func:`~ims_tui.services.text.visible`)."""
    import rich.control
    import textual.content

    for table in (rich.control._CONTROL_STRIP_TRANSLATE, textual.content._CONTROL_STRIP_TRANSLATE):
        table.update(ESCAPES)


_show_control_characters()

if TYPE_CHECKING:
    from ims_tui.db.engine import Store
    from ims_tui.services.changes import Change
    from ims_tui.services.scans import ScanResolution

DEFAULT_THEME = "textual-dark"
HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#0000c8",
    secondary="#000000",
    accent="#b00000",
    warning="#8a5a00",
    error="#b00000",
    success="#006400",
    foreground="#000000",
    background="#ffffff",
    surface="#ffffff",
    panel="#e0e0e0",
    dark=False,
    variables={
        "text-muted": "#000000",
        "footer-background": "#000000",
        "footer-foreground": "#ffffff",
        "footer-key-foreground": "#ffff00",
        "footer-description-foreground": "#ffffff",
        "block-cursor-background": "#0000c8",
        "block-cursor-foreground": "#ffffff",
        "input-selection-background": "#0000c8 40%",
    },
)
"""Black on white with saturated accents: readable on a kiosk in daylight."""


class ImsApp(App[int]):
    """The ims station app.  Construct with the station config and a store, or a function that
    opens it: then the store is opened in a worker after the first paint (start-up time)."""

    TITLE = "ims"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {lambda: StationCommands}
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("escape", "back", "Back", id="back"),
        Binding("ctrl+l", "lock", "Lock station", show=False, id="lock"),
        Binding("ctrl+o", "sign_out", "Sign out", show=False, id="sign_out"),
        Binding("ctrl+t", "toggle_contrast", "High contrast", show=False, id="theme"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="quit", priority=True),
        Binding("ctrl+z", "kiosk_refuse('ctrl+z')", "", show=False, id="suspend"),  # kiosk only: says no
    ]

    scanner_states: reactive[dict[str, str]] = reactive(dict, always_update=True)
    """Each configured scanner's state ('connected', 'disconnected: ...'); Home shows them."""
    open_alerts: reactive[int | None] = reactive(None)
    """Open reorder alerts, for the footer's badge; None for a role that may not see alerts."""

    IDLE_CHECK_SECONDS = 5.0
    BACKGROUND_START_SECONDS = 0.3
    FEED_WAIT_SECONDS = 0.25
    FEED_RETRY_SECONDS = 2.0
    EARLY_KEYS_KEPT = 1000
    """Keys typed before the sign-in screen is ready are kept up to this many (then dropped)."""
    EARLY_KEYS_RESUME_SECONDS = 0.25
    """Early keys after an Enter or Tab wait for the focus to move, at most this long."""
    LATE_GAP_FACTOR = 4
    """On a screen with ``WHOLE_SCANS`` a burst may pause once for this many ``max_gap``s."""
    KIOSK_IDLE_LOCK_MINUTES = 1.0
    """A kiosk locks after at most this long without a key (shorter in the station file wins)."""

    def __init__(self, config: Config, store: Store | Callable[[], Store], *, actor: Actor | None = None,
                 kiosk: bool = False) -> None:
        """``store``: an open store, or a function that opens it, called by the first worker that
        needs the store (an :class:`ImsError` it raises ends the app, kept in :attr:`store_error`).
        ``actor``: start signed in as this user (a served session whose user the server
        authenticated; signing out ends the session).  ``kiosk``: no key leaves the app."""
        super().__init__()
        self.config = config
        self._store: Store | None = None if callable(store) else store
        self._open_store_with = store if callable(store) else None
        self._store_lock = threading.Lock()
        self.store_error: ImsError | None = None
        """Why the store could not be opened (the app then exits with the error's code)."""
        use_site(config.site)
        self.actor: Actor | None = None
        timing = config.scan_timing
        self.scan_detector: ScanDetector[events.Key] = ScanDetector(max_gap=timing.max_gap_ms / 1000,
                                                                     min_length=timing.min_length)
        self.station = config.station_profile
        """This station's profile: from the station file, completed from the store at sign-in."""
        self.last_printer = ""
        """Session state: the printer that last took a job, offered first next time."""
        self.export_folders: dict[str, Path] = {}
        """Session state: the folder each user last exported to, offered first next time."""
        self.kiosk = kiosk or config.kiosk
        self._start_actor = actor
        self.messages: deque[str] = deque(maxlen=50)
        """The last lines the app said to the user (status and errors), newest last."""
        self.bells = 0
        self._flush_timer = None
        self._early_keys: list[events.Key] | None = []
        """Keys that came before the first screen could take them (None: it can); see :meth:`input_ready`."""
        self._replay_timer = None
        self._replaying = False
        self._last_activity = time.monotonic()
        self._locked = False
        self._idle_minutes = config.idle_lock_minutes
        """The station's idle lock until sign-in, then the store's policy made stricter by it;
        a kiosk caps it further (:attr:`idle_lock_minutes`)."""
        self._feed_stop: threading.Event | None = None
        self._feed_thread: threading.Thread | None = None
        self._scanner_task: asyncio.Task | None = None
        self.register_theme(HIGH_CONTRAST)
        self.theme = config.theme if config.theme in self.available_themes else DEFAULT_THEME
        self.tasks: list[Task] = []
        if config.keys:
            self.set_keymap(config.keys)

    # -- start-up, sign-in, sign-out, lock ---------------------------------------------------

    @property
    def store(self) -> Store:
        """The store.  Given an opener, the first caller opens it (SQLAlchemy, the models, the
        engine): the sign-in screen's first store call, made in a worker after its first paint,
        so start-up paints without them.  Read it in a worker, as every store call is."""
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = self._open_store()
        return self._store

    def _open_store(self) -> Store:
        if self.store_error is not None:
            raise self.store_error
        assert self._open_store_with is not None
        try:
            return self._open_store_with()
        except ImsError as exc:
            self.store_error = exc
            try:
                self.call_from_thread(self.exit, None, exc.exit_code)
            except RuntimeError:  # called on the app's own thread
                self.exit(return_code=exc.exit_code)
            raise

    @property
    def idle_lock_minutes(self) -> float:
        minutes = self._idle_minutes
        if self.kiosk:
            return min(minutes, self.KIOSK_IDLE_LOCK_MINUTES) if minutes > 0 else self.KIOSK_IDLE_LOCK_MINUTES
        return minutes

    def on_mount(self) -> None:
        if self._start_actor is not None:
            self.sign_in_complete(self._start_actor)
            self.input_ready()
        else:
            self._show_sign_in()
        self._check_size()
        minutes = self.idle_lock_minutes
        self.set_interval(min(self.IDLE_CHECK_SECONDS, minutes * 60 / 4) if minutes > 0 else self.IDLE_CHECK_SECONDS,
                          self._check_idle)
        self._start_scanners()
        # Importing the task screens and opening the change feed took the GIL from the first
        # paint (about 200 ms of it); nobody needs either before they have signed in.
        self.set_timer(self.BACKGROUND_START_SECONDS, self._start_background_work)

    def _start_background_work(self) -> None:
        """Once: warm the task screens' imports and follow the store's changes."""
        if self._feed_thread is not None:
            return
        self._import_tasks()
        self._follow_changes()

    def _show_sign_in(self) -> None:
        from ims_tui.screens.signin import SignInScreen

        if self._early_keys is None:
            self._early_keys = []
        self._replace_stack(SignInScreen())

    @work(thread=True, group="tasks", exit_on_error=False)
    def _import_tasks(self) -> None:
        """Import the task screens while the sign-in screen is up, off the UI thread (start-up cost)."""
        load_tasks()
        self.call_from_thread(self._bind_tasks)

    def _bind_tasks(self) -> None:
        """Bind each task's key (id = task id, so ``[keys]`` remaps it); idempotent."""
        known = {task.id for task in self.tasks}
        for task in load_tasks():
            if task.id not in known:
                self._bindings.key_to_bindings.setdefault(task.key, []).append(
                    Binding(task.key, f"open_task('{task.id}')", task.title, id=task.id)
                )
                self.tasks.append(task)
        if self.config.keys:
            self.set_keymap(self.config.keys)
        self.refresh_bindings()

    def sign_in_complete(self, actor: Actor) -> None:
        """Called by the sign-in screens: the user is in; show their home screen."""
        from ims_tui.screens.home import HomeScreen

        self._start_background_work()
        self._bind_tasks()
        self._load_security_policy()
        self.actor = actor
        self._locked = False
        self._last_activity = time.monotonic()
        self.sub_title = f"{actor.username} ({actor.role}) @ {actor.station}"
        self._replace_stack(HomeScreen())
        self.refresh_bindings()
        self._resolve_station()
        self.open_alerts = None
        self.count_alerts()

    @work(thread=True, group="station", exit_on_error=False)
    def _resolve_station(self) -> None:
        """Complete the station profile from the store's ``stations`` row (and record the visit)."""
        from ims_tui.services.stations import resolve_station

        try:
            profile = resolve_station(self.store, self.config.station_profile)
        except ImsError as exc:
            self.call_from_thread(self.say, f"station profile not read: {exc}", error=True)
            return
        self.call_from_thread(setattr, self, "station", profile)

    @work(thread=True, group="policy", exit_on_error=False)
    def _load_security_policy(self) -> None:
        """The idle lock follows the store's security policy; this station's file can only shorten it."""
        from ims_tui.services.settings import effective_policy, read_security_policy

        policy = effective_policy(read_security_policy(self.store), idle_lock_minutes=self.config.idle_lock_minutes)
        self._idle_minutes = policy.idle_lock_minutes

    def sign_out(self) -> None:
        """Audit the sign-out, forget the user and go back to the sign-in screen."""
        if self.actor is not None:
            self._record_sign_out(self.actor)
        if self._start_actor is not None and not self.kiosk:
            # A served session belongs to the user the server signed in: signing out ends it.
            self.actor = None
            self.exit(0)
            return
        self.actor = None
        self.open_alerts = None
        self._locked = False
        self.sub_title = ""
        self._show_sign_in()
        self.refresh_bindings()

    @work(thread=True, group="audit", exit_on_error=False)
    def _record_sign_out(self, actor: Actor) -> None:
        from ims_tui.services.auth import record_sign_out

        try:
            record_sign_out(self.store, actor)
        except ImsError as exc:
            self.call_from_thread(self.say, f"sign-out not recorded: {exc}", error=True)

    def lock(self) -> None:
        """Cover the station with the lock screen; the same or another user unlocks it."""
        if self.actor is None or self._locked:
            return
        from ims_tui.screens.signin import LockScreen

        self._locked = True
        self.push_screen(LockScreen(), callback=self._unlocked)

    def _unlocked(self, actor: Actor | None) -> None:
        self._locked = False
        self._last_activity = time.monotonic()
        if actor is None:
            self.sign_out()
        elif self.actor is not None and actor.username == self.actor.username:
            self.actor = actor
        else:
            self.sign_in_complete(actor)

    def _replace_stack(self, screen: Screen) -> None:
        """Make ``screen`` the only screen above Textual's default one."""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self.call_later(self._check_size)

    def _check_idle(self) -> None:
        if self.actor is None or self._locked:
            return
        if self.idle_lock_minutes > 0 and time.monotonic() - self._last_activity >= self.idle_lock_minutes * 60:
            self.lock()

    @property
    def locked(self) -> bool:
        return self._locked

    # -- input: activity, scan detection ----------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.DescendantFocus) and self._replay_timer is not None and self._early_keys:
            self.call_after_refresh(self._replay_early_keys)  # the early keys' Enter moved the focus
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self._last_activity = time.monotonic()
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._early_keys is not None and _waits_for_the_screen(event):
                if len(self._early_keys) < self.EARLY_KEYS_KEPT:
                    self._early_keys.append(event)
                return
            await self._take_key(event)
            return
        await super().on_event(event)

    def input_ready(self) -> None:
        """The screen's fields are up and focused: replay the keys that came before, in order.

        Called once the app is signed in at start, and by the sign-in screen when it knows
        whether the store needs a first administrator (until then it has no field to type in).
        The replay runs after the pending focus change; keys still arriving meanwhile queue
        behind the early ones.  The keys keep their own times, so an early scan is a scan.
        """
        if self._early_keys is not None and self._replay_timer is None:
            self._replay_timer = self.set_timer(self.EARLY_KEYS_RESUME_SECONDS, self._replay_early_keys)
            self.call_after_refresh(self._replay_early_keys)

    async def _replay_early_keys(self) -> None:
        """Replay up to an Enter or Tab the focused field took; the rest waits for the focus to move
        (the user name's Enter moves to the password), or at most ``EARLY_KEYS_RESUME_SECONDS``."""
        if self._replaying:  # the timer and the focus change can both ask; one replays
            return
        if self._replay_timer is not None:
            self._replay_timer.stop()
            self._replay_timer = None
        self._replaying = True
        try:
            early = self._early_keys or []
            while early:
                event = early.pop(0)
                await self._take_key(event)
                if event.key in TERMINATOR_KEYS and early and not self.scan_detector.holding:
                    self._replay_timer = self.set_timer(self.EARLY_KEYS_RESUME_SECONDS, self._replay_early_keys)
                    return
            self._early_keys = None
        finally:
            self._replaying = False

    async def _take_key(self, event: events.Key) -> None:
        """One key through scan detection, then (held back, released or as a scan) on its way."""
        self.scan_detector.late_gap = self.scan_detector.max_gap * self.LATE_GAP_FACTOR \
            if getattr(self.screen, "WHOLE_SCANS", False) else 0.0
        verdict = self.scan_detector.feed(event.key, event.character, event.time, event)
        for held in verdict.release:
            await super().on_event(held)
        if verdict.scan is not None:
            self.deliver_scan(verdict.scan, "wedge")
        elif verdict.pass_key:
            await super().on_event(event)
        if self.scan_detector.holding:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush_timer = self.set_timer(self.scan_detector.window + 0.005, self._flush_held_keys)

    async def _flush_held_keys(self) -> None:
        """A burst that ended without a terminator was typing: let the keys through."""
        self._flush_timer = None
        if not self._message_queue.empty():
            # More input is already waiting: judge the burst after reading it.
            self._schedule_flush()
            return
        for held in self.scan_detector.flush(time.monotonic()):
            await super().on_event(held)
        if self.scan_detector.holding:
            self._schedule_flush()

    def deliver_scan(self, text: str, source: str = "wedge") -> None:
        """The one entry point for scans (wedge, evdev, serial); call it on the app's thread.

        A screen with scan steps of its own gets a :class:`Scanned` message; on any other
        screen the scan opens the product or the location, or rings and says it is unknown.
        """
        screen = self.screen
        if getattr(screen, "SCAN_STEPS", False):
            screen.post_message(Scanned(text, source))
            return
        if isinstance(screen, (TooSmallScreen,)):
            self.say("enlarge the terminal before scanning", error=True)
            return
        if self.actor is None or self._locked:
            self.say("sign in first", error=True)
            return
        from ims_tui.screens.help import HelpScreen

        if isinstance(screen, (HelpScreen, CommandPalette)):
            self.pop_screen()
        elif isinstance(screen, ModalScreen):
            self.say("finish or close this dialog first (Esc)", error=True)
            return
        self._resolve_scan(text)

    @work(thread=True, group="scan", exit_on_error=False)
    def _resolve_scan(self, text: str) -> None:
        from ims_tui.services.scans import resolve_scan

        try:
            resolution = resolve_scan(self.store, text)
        except ImsError as exc:
            self.call_from_thread(self.say, str(exc), error=True)
            return
        self.call_from_thread(self.open_resolution, resolution)

    def _typed_fast(self, resolution: ScanResolution) -> bool:
        """A burst that is no known code, typed where a field has the focus (a fast typist, not
        a scanner): the field gets the text and the Enter, as typed.  True when it did."""
        from textual.widgets import Input

        field = self.focused
        raw = resolution.raw
        if resolution.kind != "unknown" or resolution.problems or not isinstance(field, Input):
            return False
        if raw.startswith("]") or not raw.isprintable():
            return False
        field.insert_text_at_cursor(raw)
        self.call_later(field.action_submit)
        return True

    def open_resolution(self, resolution: ScanResolution) -> None:
        """Open what was scanned (a product, a bin) or say what it is; screens with scan steps
        of their own hand on the scans their steps do not take."""
        if self._typed_fast(resolution):
            return
        if resolution.kind == "product" and resolution.sku:
            from ims_tui.screens.product import ProductScreen

            self._open_over(ProductScreen(resolution.sku), ProductScreen, resolution.sku)
        elif resolution.kind == "location" and resolution.location_code:
            from ims_tui.screens.location import LocationScreen

            self._open_over(LocationScreen(resolution.location_code), LocationScreen, resolution.location_code)
        elif resolution.kind == "unknown":
            self.say(resolution.message or f"unknown code: {resolution.raw}", error=True)
        else:
            self.say(resolution.message)

    def _open_over(self, screen: Screen, kind: type, key: str) -> None:
        """Push ``screen``, replacing the top one when it already shows the same kind of thing."""
        if isinstance(self.screen, kind):
            if getattr(self.screen, "key", None) == key:
                return
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    # -- saying things --------------------------------------------------------------------

    def say(self, text: str, *, error: bool = False) -> None:
        """One line to the user; errors ring the bell."""
        self.messages.append(text)
        if error:
            self.bell()
        self.notify(text, severity="error" if error else "information", timeout=4 if error else 3)

    def bell(self) -> None:
        self.bells += 1
        super().bell()

    # -- tasks, navigation, help ------------------------------------------------------------

    def task_key_display(self, task: Task) -> str:
        """The key that opens ``task`` on this station (after config remaps), e.g. ``F2``."""
        key = self.config.keys.get(task.id, task.key).split(",")[0].strip()
        return self.get_key_display(Binding(key, "")).upper()

    def open_task(self, task_id: str) -> None:
        task = get_task(task_id)
        if task is None or self.actor is None or not allows(self.actor.role, task.permission):
            self.say(f"not available: {task_id}", error=True)
            return
        from ims_tui.screens.home import HomeScreen

        screen = task.screen()
        if isinstance(self.screen, HomeScreen):
            self.push_screen(screen)
        else:
            # one level of task screens above home: F-keys switch between tasks
            while len(self.screen_stack) > 3:
                self.pop_screen()
            self.switch_screen(screen) if len(self.screen_stack) == 3 else self.push_screen(screen)

    def action_open_task(self, task_id: str) -> None:
        self.open_task(task_id)

    def _navigation_allowed(self) -> bool:
        """False while signed out, locked, or too small: no way around the lock screen."""
        return self.actor is not None and not self._locked and not isinstance(self.screen, TooSmallScreen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_task":
            task = get_task(str(parameters[0])) if parameters else None
            return bool(task and self._navigation_allowed() and allows(self.actor.role, task.permission))
        if action in ("lock", "sign_out", "command_palette"):
            return self._navigation_allowed() or (action == "command_palette" and self.actor is None)
        if action == "back":
            return self._can_go_back()
        if action == "kiosk_refuse":
            return self.kiosk
        return True

    def _can_go_back(self) -> bool:
        from ims_tui.screens.home import HomeScreen

        screen = self.screen
        if isinstance(screen, (HomeScreen, TooSmallScreen)) or self._locked or self.actor is None:
            return False
        return len(self.screen_stack) > 2

    def action_back(self) -> None:
        """Escape: close the dialog or go back one screen; never past home."""
        if not self._can_go_back():
            return
        if isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)
        else:
            self.pop_screen()

    def action_help(self) -> None:
        from ims_tui.screens.help import HelpScreen

        if isinstance(self.screen, (HelpScreen, TooSmallScreen)):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_lock(self) -> None:
        self.lock()

    # -- leaving: ctrl+q asks when work is open; a kiosk never quits --------------------------

    def open_work(self) -> list[str]:
        """What the open screens hold unfinished (a receipt being scanned ...), for ctrl+q."""
        return [work for screen in self.screen_stack if (work := getattr(screen, "open_work", lambda: None)())]

    async def action_quit(self) -> None:
        if self.kiosk:
            self.action_kiosk_refuse("ctrl+q")
            return
        from ims_tui.screens.quit_confirm import QuitConfirmScreen

        if isinstance(self.screen, QuitConfirmScreen):  # ctrl+q again: the answer is yes
            self.exit(0)
            return
        work = self.open_work()
        if not work:
            self.exit(0)
            return
        self.push_screen(QuitConfirmScreen(work), callback=lambda leave: self.exit(0) if leave else None)

    def action_help_quit(self) -> None:
        if self.kiosk:
            self.action_kiosk_refuse("ctrl+c")
        else:
            super().action_help_quit()

    def action_kiosk_refuse(self, key: str) -> None:
        """In kiosk mode the keys that would leave the app only say why nothing happened."""
        self.say(f"{key} does nothing on this kiosk station; sign out with ctrl+o" if self.actor else f"{key} does nothing on this kiosk station")

    def action_sign_out(self) -> None:
        if self._navigation_allowed():
            self.sign_out()

    def action_toggle_contrast(self) -> None:
        self.theme = DEFAULT_THEME if self.theme == HIGH_CONTRAST.name else HIGH_CONTRAST.name

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette follows the screen: its own keys, the user's tasks, then app commands."""
        if self._navigation_allowed():
            from ims_tui.widgets.footer import OWN, ordered_keys

            for entry in ordered_keys(screen):
                binding = entry.active.binding
                if entry.kind != OWN or binding.id in {"help", "back"}:
                    continue
                yield SystemCommand(
                    f"{binding.description} ({entry.display})",
                    f"{getattr(screen, 'TITLE', '') or 'this screen'}",
                    _runner(entry.active.node, binding.action),
                )
            for task in tasks_for(self.actor):
                yield SystemCommand(f"Open {task.title} ({self.task_key_display(task)})", task.description or "task",
                                    lambda task_id=task.id: self.open_task(task_id))
            yield SystemCommand("Lock station", "cover the screen until someone signs in (ctrl+l)", self.lock)
            yield SystemCommand("Sign out", "end this session (ctrl+o)", self.sign_out)
        yield SystemCommand("Keys", "list this screen's keys (F1)", self.action_help)
        yield SystemCommand("High contrast theme", "black on white for bright kiosks (ctrl+t)",
                            lambda: setattr(self, "theme", HIGH_CONTRAST.name))
        yield SystemCommand("Default theme", "the standard dark theme", lambda: setattr(self, "theme", DEFAULT_THEME))
        if not self.kiosk:
            yield SystemCommand("Quit", "close ims on this station (ctrl+q)", self.action_quit)

    # -- size guard ------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        if width is None or height is None:
            width, height = self.size
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        showing = any(isinstance(screen, TooSmallScreen) for screen in self.screen_stack)
        if too_small and not showing:
            self.push_screen(TooSmallScreen())
        elif not too_small and showing and isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    # -- live changes ------------------------------------------------------------------------

    def _follow_changes(self) -> None:
        """Follow the store's change feed in a thread of our own.

        Not a Textual worker: it never finishes, and ``app.workers.wait_for_complete()`` (what
        tests and screens wait on) must not wait for it.
        """
        loop = asyncio.get_running_loop()
        self._feed_stop = threading.Event()
        self._feed_thread = threading.Thread(
            target=self._feed_loop, args=(loop, self._feed_stop), name="ims-change-feed", daemon=True
        )
        self._feed_thread.start()

    def _feed_loop(self, loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        from ims_tui.services.changes import open_feed

        def tell(callback, *args) -> None:
            if not stop.is_set():
                try:
                    loop.call_soon_threadsafe(callback, *args)
                except RuntimeError:  # the loop closed under us: the app is gone
                    stop.set()

        feed = None
        while not stop.is_set():
            try:
                if feed is None:
                    feed = open_feed(self.store)
                change = feed.wait(self.FEED_WAIT_SECONDS)
            except ImsError as exc:
                if feed is not None:
                    feed.close()
                    feed = None
                tell(self.say, f"live updates paused: {exc}", error=True)
                stop.wait(self.FEED_RETRY_SECONDS)
                continue
            if change is not None:
                tell(self._broadcast, change)
        if feed is not None:
            feed.close()

    # -- USB and serial scanners --------------------------------------------------------------

    def _start_scanners(self) -> None:
        """Read the station's evdev and serial scanners; their scans enter like wedge scans.

        A plain asyncio task rather than a Textual worker: it runs for the app's whole life,
        and tests wait for workers to complete.
        """
        from ims_tui.devices.sources import merge_scans, source_from_config

        sources = []
        for entry in self.config.scanners:
            try:
                source = source_from_config(entry, self.config.layouts)
            except ValueError as exc:
                self.say(f"scanner {entry.source}: {exc}", error=True)
                continue
            source.on_state = self._scanner_state_changed
            self.scanner_states = {**self.scanner_states, source.name: source.state}
            sources.append(source)
        if sources:
            self._scanner_task = asyncio.create_task(self._read_scanners(merge_scans(sources)))

    async def _read_scanners(self, scans) -> None:  # type: ignore[no-untyped-def]
        async for event in scans:
            self.deliver_scan(event.text, event.source)

    def _scanner_state_changed(self, source: Any, state: str) -> None:
        self.scanner_states = {**self.scanner_states, source.name: state}
        self.say(f"scanner {source.name}: {state}", error=state.startswith("disconnected"))

    def _broadcast(self, change: Change) -> None:
        if change.touches("alerts"):
            self.count_alerts()
        for screen in self.screen_stack:
            screen.post_message(StoreChanged(change))

    def count_alerts(self) -> None:
        """Re-read the number of open reorder alerts (the badge), for a role that may see them."""
        actor = self.actor
        if actor is not None and allows(actor.role, Permission.REPLENISH):
            self._count_alerts(actor)

    @work(thread=True, group="alerts", exclusive=True, exit_on_error=False)
    def _count_alerts(self, actor: Actor) -> None:
        from textual.worker import get_current_worker

        from ims_tui.services.replenishment import count_open_alerts

        try:
            count = count_open_alerts(self.store, actor)
        except PermissionDenied:
            count = None  # demoted meanwhile: no badge
        except ImsError:
            return  # the store is away for a moment: the next change counts again
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._show_alert_count, actor, count)

    def _show_alert_count(self, actor: Actor, count: int | None) -> None:
        if self.actor is not None and self.actor.username == actor.username:
            self.open_alerts = count

    async def on_unmount(self) -> None:
        if self._scanner_task is not None:
            self._scanner_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanner_task
        if self._feed_stop is not None:
            self._feed_stop.set()
        if self._feed_thread is not None:
            self._feed_thread.join(timeout=2)


class StationCommands(SystemCommandsProvider):
    """The palette's entries in :meth:`ImsApp.get_system_commands` order (the screen's actions,
    then tasks, then the app's), not alphabetical."""

    async def discover(self) -> Hits:
        for name, help_text, callback, discover in self.app.get_system_commands(self.screen):
            if discover:
                yield DiscoveryHit(name, callback, help=help_text)


def _waits_for_the_screen(event: events.Key) -> bool:
    """A key that types or ends a scan waits for the first screen; any other (ctrl+q) acts at once."""
    return event.is_printable or event.key in TERMINATOR_KEYS or event.key in ("backspace", "ctrl+right_square_bracket")


def _runner(node: Any, action: str):
    async def run() -> None:
        await node.run_action(action)

    return run


__all__ = ["ImsApp", "ImsScreen", "Scanned", "StoreChanged", "HIGH_CONTRAST"]
