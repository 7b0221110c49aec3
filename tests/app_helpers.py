"""Helpers for driving the real station app in tests: stores with data, scan bursts, waits."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

from textual import events
from textual.keys import _character_to_key

from ims_tui.app import ImsApp
from ims_tui.config import Config
from ims_tui.db.engine import Store
from ims_tui.services import ledger
from ims_tui.services.actor import Actor
from tests.conftest import make_locations, make_product

EAN = "4006381333931"
GS = "\x1d"
FIXED_AT = dt.datetime(2025, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
TERMINATOR_CHARS = {"enter": "\r", "ctrl+j": "\n", "tab": "\t"}


def actor(role: str, username: str | None = None, station: str = "station-1") -> Actor:
    return Actor(username or role, role, station)


def stock_the_store(store: Store) -> None:
    """Two products with barcodes and a supplier SKU, three bins, backdated stock (stable screens)."""
    from ims_tui.services import catalogue

    make_product(store, "HEX-M6", name="Hex bolt M6 x 30 mm zinc", barcodes=((EAN, 1), ("14006381333938", 12)),
                 reorder_point=Decimal(20), unit_price=Decimal("0.35"))
    make_product(store, "NUT-M6", name="Nyloc nut M6 stainless", cost="0.08")
    make_product(store, "WATER-05", name="Spring water 500 ml", tracking="lot", cost="0.30")
    make_locations(store, "A-01-1", "A-01-2", "RCV")
    setup = Actor("setup", "admin", "test")
    with store.write() as session:
        supplier = catalogue.save_supplier(session, setup, "Nordic Fasteners AB", {"code": "NORD"})
        product = catalogue.resolve_product(session, "HEX-M6")
        catalogue.set_supplier_item(session, setup, product, supplier, "NF-99017", Decimal("0.21"))
    moves = [
        ("receive", ledger.StockMove("HEX-M6", Decimal(40), "SUPPLIER", "A-01-1", unit_cost=Decimal("0.21"))),
        ("receive", ledger.StockMove("NUT-M6", Decimal(100), "SUPPLIER", "A-01-1")),
        ("move", ledger.StockMove("HEX-M6", Decimal(8), "A-01-1", "A-01-2")),
        ("receive", ledger.StockMove("WATER-05", Decimal(24), "SUPPLIER", "A-01-2", lot="L2501",
                                     expiry=dt.date(2025, 6, 30))),
    ]
    with store.write() as session:
        for minutes, (kind, move) in enumerate(moves):
            ledger.post(session, Actor("receiver", "receiver", "dock-1"), kind, [move], key=f"setup-{minutes}",
                        at=FIXED_AT + dt.timedelta(minutes=minutes))


def make_app(store: Store, **config) -> ImsApp:
    return ImsApp(Config(database_url=store.url, station="station-1", **config), store)


async def settle(pilot) -> None:
    """Let posted messages run, then wait for every worker the screens started, then repaint."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def sign_in(pilot, role: str = "manager") -> None:
    pilot.app.sign_in_complete(actor(role))
    await settle(pilot)


def scan_burst(app: ImsApp, text: str, terminator: str = "enter") -> None:
    """Key events as a wedge scanner makes them: one terminal read, all keys microseconds apart."""
    for char in text:
        key = "ctrl+right_square_bracket" if char == GS else (char if char.isalnum() else _character_to_key(char))
        app.post_message(events.Key(key, char))
    app.post_message(events.Key(terminator, TERMINATOR_CHARS[terminator]))


async def type_slowly(pilot, text: str, gap: float = 0.08) -> None:
    """Keys as a person types them: each well after the previous one."""
    for char in text:
        await pilot.press(char)
        await pilot.pause(gap)


def live_within(seconds: float = 1.0) -> float:
    """The live bound (another station's commit on screen within a second), stretched by how
    loaded this machine is right now: with more runnable processes than cores (two test workers
    and racing processes on two), the app's thread waits its turn for the CPU.  On an idle machine
    it is the bound itself; ``bench/`` measures the figures."""
    return seconds * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


async def wait_until(pilot, condition, timeout: float) -> float:
    """Poll the running app until ``condition()``; returns the seconds it took (raises on timeout)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.02)
    return time.monotonic() - start
