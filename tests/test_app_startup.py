"""Start-up: the sign-in screen paints before the store is opened (issue 17).

``ims`` hands the app a function that opens the store; the sign-in screen's first store call,
made in a worker after its first paint, opens it.  Until then the screen says it is opening the
store and keeps what is typed; a store that cannot be opened ends the app with its one-line error.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from ims_tui.app import ImsApp
from ims_tui.config import Config
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.signin import SignInScreen
from ims_tui.services.errors import StoreError
from tests.app_helpers import settle, wait_until
from tests.auth_support import PASSWORD, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import open_store

SIZE = (80, 24)
pytestmark = pytest.mark.usefixtures("fast_hashing")


def test_painting_the_sign_in_screen_imports_neither_sqlalchemy_nor_the_services():
    code = (
        "import sys\n"
        "from ims_tui.config import Config\n"
        "from ims_tui.app import ImsApp\n"
        "from ims_tui.screens.signin import SignInScreen\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' or m.startswith('ims_tui.db')\n"
        "             or m in ('ims_tui.services.auth', 'ims_tui.services.catalogue')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


async def test_the_store_is_opened_after_the_sign_in_screen_is_up_and_then_signs_in(sqlite_url):
    store = open_store(sqlite_url)
    add_user(store, "mona", "manager")
    gate, opened = threading.Event(), []

    def open_later():
        assert gate.wait(10), "the test never let the store open"
        opened.append(store)
        return store

    app = ImsApp(Config(database_url=sqlite_url, station="station-1"), open_later)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SignInScreen) and screen.mode == "loading"
            assert opened == []
            gate.set()
            await wait_until(pilot, lambda: screen.mode == "password", timeout=5)
            await pilot.press(*"mona", "enter", *PASSWORD, "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=5)
            await settle(pilot)
            assert opened == [store] and app.store is store and app.actor.username == "mona"
    finally:
        store.dispose()


async def test_a_store_that_cannot_be_opened_ends_the_app_with_its_one_line_error():
    def refuse():
        raise StoreError("the store's schema is revision 0001, this program needs 0005: run 'ims db upgrade'")

    app = ImsApp(Config(database_url="sqlite:///nowhere.db", station="station-1"), refuse)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.store_error is not None, timeout=5)
        await pilot.pause()
    assert app.return_code == StoreError.exit_code
    assert "ims db upgrade" in str(app.store_error)
