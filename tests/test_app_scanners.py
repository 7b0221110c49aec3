"""Scans from a station's serial scanner reach the app like wedge scans, and its state shows.

The scanner is faked only at the hardware boundary: the app opens a real pyserial port on the
slave side of a pseudo-terminal, and the test writes the scanner's bytes into the master side.
"""

from __future__ import annotations

from ims_tui.config import ScannerConfig
from ims_tui.screens.product import ProductScreen
from tests.app_helpers import EAN, make_app, settle, sign_in, stock_the_store, wait_until
from tests.devices_fakes import Pty


async def test_a_serial_scan_opens_the_product_and_home_shows_the_scanner(store):
    stock_the_store(store)
    pty = Pty()
    spec = f"serial:{pty.slave_path}?baud=9600&eol=cr"
    app = make_app(store, scanners=(ScannerConfig(source=spec),))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, "receiver")
            await wait_until(pilot, lambda: "connected" in app.scanner_states.values(), timeout=5)
            await settle(pilot)
            home_text = app.screen.query_one("#scanners").render().plain
            assert f"Scanner serial:{pty.slave_path}: connected" in home_text

            pty.write(EAN.encode() + b"\r")
            await wait_until(pilot, lambda: isinstance(app.screen, ProductScreen), timeout=5)
            await settle(pilot)
            assert app.screen.detail.sku == "HEX-M6"

            pty.unplug()
            await wait_until(pilot, lambda: any(s.startswith("disconnected") for s in app.scanner_states.values()), timeout=5)
            assert any("disconnected" in line for line in app.messages)
    finally:
        pty.close()
