"""Keys that come before the sign-in screen is ready, and badges whose keys come bunched.

- keys typed or scanned while the store opens (the sign-in screen has no field yet) are kept
  in order and go in once the fields are up: nothing typed at start-up is lost;
- on the sign-in screen a badge burst may pause once (a scanner's keys reaching the terminal in
  two reads): it is still one badge, never half in the user name and half in the password.
"""

from __future__ import annotations

import threading
import time

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from ims_tui.screens.home import HomeScreen
from ims_tui.screens.signin import SignInScreen
from ims_tui.services import auth
from ims_tui.widgets.scan import ScanDetector
from tests.app_helpers import TERMINATOR_CHARS, make_app, scan_burst, settle, wait_until
from tests.auth_support import PASSWORD, PIN, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import open_store

SIZE = (80, 24)
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def staffed(sqlite_url):
    store = open_store(sqlite_url)
    add_user(store, "mona", "manager", badge="BADGE-0042", pin=PIN)
    yield store
    store.dispose()


@pytest.fixture
def slow_store_open(monkeypatch):
    """The sign-in screen's first store call waits until the test lets it go (a slow network store)."""
    gate = threading.Event()
    real = auth.needs_first_admin

    def needs_first_admin(store):
        assert gate.wait(10), "the test never let the store open"
        return real(store)

    monkeypatch.setattr(auth, "needs_first_admin", needs_first_admin)
    yield gate
    gate.set()


def key(text: str, at: float) -> events.Key:
    """One key event as the terminal reported it at ``at`` (a character, or a terminator name)."""
    if text in TERMINATOR_CHARS:
        event = events.Key(text, TERMINATOR_CHARS[text])
    else:
        event = events.Key(text if text.isalnum() else _character_to_key(text), text)
    event.time = at
    return event


def post_keys(app, keys: list[str], start: float, gap: float) -> float:
    """Post ``keys`` stamped ``gap`` apart from ``start``; returns the last key's time."""
    at = start
    for index, text in enumerate(keys):
        at = start + index * gap
        app.post_message(key(text, at))
    return at


def username(app) -> str:
    return app.screen.query_one("#username", Input).value


async def test_a_sign_in_typed_while_the_store_opens_is_kept_and_signs_in(staffed, slow_store_open):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        typed = [*"mona", "enter", *PASSWORD, "enter"]
        post_keys(app, typed, time.monotonic() - len(typed) * 0.1, gap=0.1)  # a person, 100 ms a key, just now
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SignInScreen) and screen.mode == "loading"
        assert username(app) == ""  # no field to take them yet: kept, not typed into nothing
        slow_store_open.set()
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=5)
        await settle(pilot)
        assert app.actor is not None and app.actor.username == "mona"


async def test_a_badge_scanned_while_the_store_opens_is_recognised(staffed, slow_store_open):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        scan_burst(app, "BADGE-0042")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SignInScreen) and screen.mode == "loading"
        slow_store_open.set()
        await wait_until(pilot, lambda: screen.mode == "badge", timeout=5)
        assert username(app) == ""
        await pilot.press(*PIN, "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=5)
        await settle(pilot)
        assert app.actor is not None and app.actor.username == "mona"


async def test_keys_before_the_screen_is_ready_keep_their_order(staffed, slow_store_open):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        post_keys(app, list("pat"), time.monotonic() - 0.3, gap=0.1)
        await pilot.pause()
        slow_store_open.set()
        await settle(pilot)
        await pilot.press("r", "i", "c", "k")  # typed after the screen is up: behind the early ones
        await wait_until(pilot, lambda: username(app) == "patrick", timeout=5)


@pytest.mark.parametrize("terminator", ["tab", "enter"])
async def test_a_badge_whose_keys_come_in_two_bunches_is_one_badge(staffed, terminator):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SignInScreen) and screen.mode == "password"
        window = app.scan_detector.max_gap
        start = time.monotonic()
        # "BADGE-" in one read, then a pause twice the scan window, then "0042" and the terminator.
        last = post_keys(app, list("BADGE-"), start, gap=0.001)
        post_keys(app, [*"0042", terminator], last + 2 * window, gap=0.001)
        await wait_until(pilot, lambda: screen.mode == "badge", timeout=5)
        await settle(pilot)
        assert screen._badge == "BADGE-0042"
        assert screen.query_one("#username", Input).value == ""
        assert screen.query_one("#password", Input).value == ""
        assert app.focused is screen.query_one("#pin", Input)


async def test_a_person_typing_a_user_name_and_tab_on_sign_in_is_typing(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        post_keys(app, [*"mona", "tab"], time.monotonic() - 0.5, gap=0.1)
        await wait_until(pilot, lambda: app.focused is screen.query_one("#password", Input), timeout=5)
        assert username(app) == "mona" and screen.mode == "password"


# -- the detector's rule for one late pause -------------------------------------------------

def feed(detector: ScanDetector, keys: list[tuple[str, float]]) -> tuple[list[str], list[str | None]]:
    """Feed (key, time) pairs; returns the keys let through (in order) and the scans taken."""
    through: list[str] = []
    scans: list[str | None] = []
    for text, at in keys:
        name = text if len(text) > 1 else (text if text.isalnum() else _character_to_key(text))
        verdict = detector.feed(name, text if len(text) == 1 else None, at, text)
        through += verdict.release
        if verdict.pass_key:
            through.append(text)
        if verdict.scan is not None:
            scans.append(verdict.scan)
    return through, scans


def bunched(first: str, second: str, pause: float, terminator: str = "tab") -> list[tuple[str, float]]:
    keys = [(char, index * 0.001) for index, char in enumerate(first)]
    resume = keys[-1][1] + pause
    keys += [(char, resume + index * 0.001) for index, char in enumerate([*second, terminator])]
    return keys


def test_one_late_pause_inside_the_late_gap_keeps_the_scan_whole():
    detector: ScanDetector[str] = ScanDetector(max_gap=0.035, min_length=4)
    detector.late_gap = 0.14
    assert feed(detector, bunched("BADGE-", "0042", pause=0.1)) == ([], ["BADGE-0042"])


def test_without_a_late_gap_the_same_keys_split_as_before():
    detector: ScanDetector[str] = ScanDetector(max_gap=0.035, min_length=4)
    through, scans = feed(detector, bunched("BADGE-", "0042", pause=0.1))
    assert through == list("BADGE-") and scans == ["0042"]


def test_a_second_late_pause_or_a_longer_one_is_typing():
    detector: ScanDetector[str] = ScanDetector(max_gap=0.035, min_length=4)
    detector.late_gap = 0.14
    keys = bunched("BAD", "GE", pause=0.1, terminator="x")[:-1]
    keys += [(char, keys[-1][1] + 0.1 + index * 0.001) for index, char in enumerate("-0042")] + [("tab", 1.0)]
    through, scans = feed(detector, keys)
    assert scans == [] and through == [*"BADGE-0042", "tab"]
    # past the late gap the bursts are two: the first typing, the second a scan of its own
    assert feed(detector, bunched("BADGE-", "0042", pause=0.2)) == (list("BADGE-"), ["0042"])


def test_single_keys_a_person_types_are_not_held_for_the_late_gap():
    detector: ScanDetector[str] = ScanDetector(max_gap=0.035, min_length=4)
    detector.late_gap = 0.14
    feed(detector, [("m", 0.0)])
    assert detector.window == 0.035  # one key: released after the ordinary window
    assert detector.flush(0.04) == ["m"]
    feed(detector, [("o", 1.0), ("n", 1.01)])  # two keys rolled over: may wait for a bunched rest
    assert detector.window == 0.14 and detector.flush(1.05) == [] and detector.flush(1.16) == ["o", "n"]
