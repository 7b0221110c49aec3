"""Kiosk mode and leaving the app: ctrl+q/ctrl+c/ctrl+z never leave a kiosk; ctrl+q asks once
when work is open elsewhere; a served session starts signed in; the kiosk restarts a crashed app."""

from __future__ import annotations

import os
import signal
import sys
from decimal import Decimal

import pytest

from ims_tui.app import ImsApp
from ims_tui.config import Config, ConfigError, load_config
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.quit_confirm import QuitConfirmScreen
from ims_tui.screens.signin import SignInScreen
from ims_tui.services import purchasing
from ims_tui.services.auth import sign_in
from ims_tui.services.purchasing import LineInput
from tests.app_helpers import actor, make_app, settle, stock_the_store
from tests.conftest import open_store
from tests.serve_support import TMUX, Terminal, session_processes, wait_for
from tests.test_purchasing_service import MANAGER
from tests.test_receiving_screen import open_receiving, scan, shop  # noqa: F401 - fixture
from tests.test_receiving_screen import settle as settle_receiving


async def test_kiosk_ignores_ctrl_q_ctrl_c_and_ctrl_z_and_says_so(store):
    stock_the_store(store)
    app = make_app(store, kiosk=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen)
        await pilot.press("ctrl+q")
        await pilot.press("ctrl+c")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        app.sign_in_complete(actor("picker"))
        await settle(pilot)
        for key in ("ctrl+q", "ctrl+c", "ctrl+z"):
            await pilot.press(key)
            await settle(pilot)
            assert app.is_running and app.return_code is None
            assert app.messages[-1] == f"{key} does nothing on this kiosk station; sign out with ctrl+o"
        assert isinstance(app.screen, HomeScreen)
        assert "Quit" not in [command.title for command in app.get_system_commands(app.screen)]
        await pilot.press("ctrl+o")  # signing out returns to the sign-in screen, never to a shell
        await settle(pilot)
        assert isinstance(app.screen, SignInScreen) and app.is_running
        assert app.idle_lock_minutes == ImsApp.KIOSK_IDLE_LOCK_MINUTES


async def test_outside_kiosk_ctrl_q_quits_at_once_without_open_work(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(actor("picker"))
        await settle(pilot)
        await pilot.press("ctrl+z")  # not a kiosk: ctrl+z is not taken by the app
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_ctrl_q_mid_receipt_asks_once_and_a_second_ctrl_q_quits(shop):
    view = purchasing.create_po(shop, MANAGER, "Acme Supplies", [LineInput("PLAIN", Decimal(24))])
    number = purchasing.order_po(shop, MANAGER, view.number).number
    app = ImsApp(Config(database_url=shop.url, station="desk-1", idle_lock_minutes=0), shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_receiving(pilot, shop)
        await pilot.press("ctrl+q")  # nothing scanned yet: no open work, but the PO is not scanned either
        await pilot.pause()
    assert app.return_code == 0
    app = ImsApp(Config(database_url=shop.url, station="desk-1", idle_lock_minutes=0), shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_receiving(pilot, shop)
        await scan(pilot, number)
        await scan(pilot, "14006381333938")
        await settle_receiving(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuitConfirmScreen) and app.is_running
        assert f"a receipt for {number}" in app.screen.work[0]
        await pilot.press("n")  # stay: back at the receipt
        await pilot.pause()
        assert not isinstance(app.screen, QuitConfirmScreen) and app.return_code is None
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("ctrl+q")  # asked once: the second ctrl+q is the answer
        await pilot.pause()
    assert app.return_code == 0


async def test_a_served_session_starts_signed_in_and_signing_out_ends_it(shop):
    rita = sign_in(shop, "rita", "receiver-pass-1", station="ssh").actor
    app = ImsApp(Config(database_url=shop.url, station="ssh", idle_lock_minutes=0), shop, actor=rita)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and app.actor == rita
        await pilot.press("ctrl+o")
        await settle(pilot)
    assert app.return_code == 0


def test_kiosk_in_the_station_file(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text("[station]\nkiosk = true\n")
    assert load_config(path=path, database_url="sqlite://").kiosk is True
    path.write_text("[station]\nkiosk = 'yes'\n")
    with pytest.raises(ConfigError, match="kiosk must be true or false"):
        load_config(path=path, database_url="sqlite://")


@pytest.mark.skipif(TMUX is None, reason="needs tmux (.ci/system-packages)")
def test_the_kiosk_in_a_real_terminal_survives_its_keys_and_restarts_a_crashed_app(sqlite_url, tmp_path):
    store = open_store(sqlite_url)
    stock_the_store(store)
    store.dispose()
    env = {**os.environ, "IMS_CONFIG": str(tmp_path / "none.toml")}
    term = Terminal([sys.executable, "-m", "ims_tui", "--db", sqlite_url, "--kiosk"], env=env)
    try:
        term.wait_text("Sign in")
        for key in ("C-q", "C-c", "C-z", "C-\\"):
            term.keys(key)
        term.wait_text("does nothing on this kiosk")
        assert "[exit" not in term.text()
        pane_pid = term.pane_pid()
        children = wait_for(lambda: session_processes(pane_pid), what="the kiosk's app process")
        os.kill(children[0], signal.SIGKILL)  # the app crashes
        term.wait_text("the kiosk starts it again")
        wait_for(lambda: (found := session_processes(pane_pid)) and found != children, 15, "a new app process")
        term.wait_text("Sign in")
        assert "[exit" not in term.text()
    finally:
        term.close()
