"""Signing in, first administrator, lockout, idle lock and sign-out, through the real app at 80x24."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from textual.widgets import Input, Static

from ims_tui.db.models import AuditEntry
from ims_tui.screens.audit import AuditScreen
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.signin import LockScreen, SignInScreen
from ims_tui.services import auth
from tests.app_helpers import make_app, scan_burst, settle, wait_until
from tests.auth_support import PASSWORD, PIN, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import open_store

SIZE = (80, 24)
pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
def store(sqlite_url):
    store = open_store(sqlite_url)
    yield store
    store.dispose()


@pytest.fixture
def staffed(store):
    add_user(store, "mona", "manager", badge="BADGE-0042", pin=PIN)
    add_user(store, "pat", "picker")
    return store


async def type_in(pilot, text: str) -> None:
    """Keys, then a pause longer than a scanner's key gap, then Enter: typing, not a scan."""
    await pilot.press(*text)
    await pilot.pause(0.1)
    await pilot.press("enter")
    await settle(pilot)


def status(app) -> str:
    return str(app.screen.query_one("#signin-status", Static).content)


def visible_inputs(screen) -> list[str]:
    return [field.id for field in screen.query(Input) if field.display]


async def signed_in_screen(app, pilot) -> SignInScreen:
    await settle(pilot)
    assert isinstance(app.screen, SignInScreen)
    return app.screen


async def test_password_sign_in_opens_home_for_that_role(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        assert screen.mode == "password" and visible_inputs(screen) == ["username", "password"]
        assert not screen.query_one("#demo-users").display
        await type_in(pilot, "mona")
        await type_in(pilot, PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        assert (app.actor.username, app.actor.role, app.actor.station) == ("mona", "manager", "station-1")
        assert app.actor.user_id is not None


async def test_wrong_password_says_so_and_clears_the_field(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        await type_in(pilot, "mona")
        await type_in(pilot, "not-my-password")
        assert app.screen is screen and app.actor is None
        assert status(app) == auth.FAILED_PASSWORD
        assert screen.query_one("#password", Input).value == ""
        assert app.focused is screen.query_one("#password", Input)
        assert app.bells == 1


async def test_badge_scan_then_pin(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        scan_burst(app, "BADGE-0042")  # a keyboard-wedge scanner
        await settle(pilot)
        assert screen.mode == "badge" and visible_inputs(screen) == ["pin"]
        assert screen.query_one("#username", Input).value == "", "the scan leaked into the name field"
        await type_in(pilot, PIN)
        assert isinstance(app.screen, HomeScreen) and app.actor.username == "mona"


async def test_badge_from_a_serial_scanner_with_a_wrong_pin_then_escape(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        app.deliver_scan("BADGE-0042", "serial")
        await settle(pilot)
        await type_in(pilot, "0000")
        assert status(app) == auth.FAILED_BADGE and screen.mode == "badge"
        await pilot.press("escape")
        await settle(pilot)
        assert screen.mode == "password" and visible_inputs(screen) == ["username", "password"]


async def test_lockout_message_for_real_and_unknown_names_alike(staffed):
    app = make_app(staffed, max_failed_logins=3)  # the station's [security] setting
    async with app.run_test(size=SIZE) as pilot:
        await signed_in_screen(app, pilot)
        for name in ("pat", "nobody"):
            await type_in(pilot, name)
            for _ in range(2):
                await type_in(pilot, "wrong")
                assert status(app) == auth.FAILED_PASSWORD, name
            await type_in(pilot, "wrong")
            assert status(app).startswith("too many failed sign-ins: locked until "), name
            await type_in(pilot, PASSWORD)  # the right password does not get past a lock
            assert "locked until" in status(app) and app.actor is None
            app.screen.query_one("#username", Input).value = ""
            app.screen.query_one("#username", Input).focus()


async def test_first_administrator_on_an_empty_store(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        assert screen.mode == "first_admin"
        assert visible_inputs(screen) == ["username", "password", "confirm"]
        assert "first administrator" in str(screen.query_one("#signin-title", Static).content)
        await type_in(pilot, "boss")
        await type_in(pilot, "first-admin-pw")
        await type_in(pilot, "first-admin-typo")
        assert status(app) == "the two passwords differ; type them again"
        assert auth.needs_first_admin(store)
        await type_in(pilot, "first-admin-pw")
        await type_in(pilot, "first-admin-pw")
        assert isinstance(app.screen, HomeScreen)
        assert (app.actor.username, app.actor.role) == ("boss", "admin")
    assert auth.sign_in(store, "boss", "first-admin-pw", station="s").actor.role == "admin"


async def test_first_administrator_made_elsewhere_meanwhile_turns_into_sign_in(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        auth.create_first_admin(store, "quick", "quicker-than-you", station="other")
        await type_in(pilot, "slow")
        await type_in(pilot, "slow-admin-pw")
        await type_in(pilot, "slow-admin-pw")
        assert screen.mode == "password" and "already has users" in status(app)
        assert app.actor is None


async def test_a_demo_store_lists_its_users(sqlite_url):
    from ims_tui.db.engine import Store
    from ims_tui.services.demo import load_demo

    demo = Store(sqlite_url)
    load_demo(demo)
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        screen = await signed_in_screen(app, pilot)
        panel = screen.query_one("#demo-users", Static)
        text = str(panel.content)
        assert panel.display and "Demo store" in text
        for name in ("admin", "manager", "receiver", "picker", "auditor"):
            assert name in text
        assert panel.region.bottom <= SIZE[1] - 1, "the demo list runs under the footer"
        await type_in(pilot, "receiver")
        await type_in(pilot, "demo")
        assert app.actor.role == "receiver"
    demo.dispose()


async def work_in_progress(app, pilot) -> AuditScreen:
    """Open the audit log and start typing a filter without applying it."""
    await pilot.press("f12")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    await pilot.press(*"pat")
    await pilot.pause(0.1)
    assert screen.query_one("#f-user", Input).value == "pat"
    return screen


async def test_idle_station_locks_and_the_same_user_resumes_with_the_work_intact(staffed):
    app = make_app(staffed, idle_lock_minutes=0.02)  # 1.2 s without a key
    async with app.run_test(size=SIZE) as pilot:
        await signed_in_screen(app, pilot)
        await type_in(pilot, "mona")
        await type_in(pilot, PASSWORD)
        audit = await work_in_progress(app, pilot)
        await wait_until(pilot, lambda: app.locked, timeout=10)
        app.config = dataclasses.replace(app.config, idle_lock_minutes=60)  # no second lock during the test
        await settle(pilot)
        lock = app.screen
        assert isinstance(lock, LockScreen) and visible_inputs(lock) == ["secret"]
        assert lock.styles.background.a == 1, "the lock screen must hide the work underneath"
        await pilot.press("escape", "f12")  # neither gets past the lock
        await settle(pilot)
        assert app.screen is lock
        await type_in(pilot, "wrong-password")
        assert app.screen is lock and status(app) == auth.FAILED_UNLOCK
        await type_in(pilot, PIN)  # the PIN works as well as the password
        assert app.screen is audit and not app.locked
        assert app.actor.username == "mona"
        assert audit.query_one("#f-user", Input).value == "pat"


async def test_another_user_signs_in_at_the_lock_screen(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in_screen(app, pilot)
        await type_in(pilot, "mona")
        await type_in(pilot, PASSWORD)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        await pilot.press("ctrl+u")
        await settle(pilot)
        assert visible_inputs(app.screen) == ["username", "password"]
        await type_in(pilot, "pat")
        await type_in(pilot, PASSWORD)
        assert isinstance(app.screen, HomeScreen) and app.actor.username == "pat"
    with staffed.read() as session:
        [entry] = session.execute(select(AuditEntry.username, AuditEntry.summary).where(AuditEntry.action == "signout")).all()
    assert entry.username == "mona" and "taken over by pat" in entry.summary


async def test_badge_scan_unlocks_the_lock_screen(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in_screen(app, pilot)
        await type_in(pilot, "mona")
        await type_in(pilot, PASSWORD)
        audit = await work_in_progress(app, pilot)
        app.lock()
        await settle(pilot)
        scan_burst(app, "BADGE-0042")
        await settle(pilot)
        assert visible_inputs(app.screen) == ["pin"]
        await type_in(pilot, PIN)
        assert app.screen is audit and app.actor.username == "mona"


async def test_sign_out_by_key(staffed):
    app = make_app(staffed)
    async with app.run_test(size=SIZE) as pilot:
        await signed_in_screen(app, pilot)
        await type_in(pilot, "pat")
        await type_in(pilot, PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen) and app.actor is None
