"""The four screens the README shows, built the same way for snapshot tests and for ``docs/``.

``python -m tests.snapshots.screens docs/screenshots`` writes the SVGs (Textual's own
``save_screenshot``) for the README.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ims_tui.app import ImsApp
from ims_tui.screens.product import ProductScreen
from ims_tui.services import users
from ims_tui.services.actor import Actor
from tests.app_helpers import make_app, settle, sign_in, stock_the_store, type_slowly
from tests.conftest import open_store

SIZE = (80, 24)
Before = Callable[[object], Awaitable[None]]


def use_utc() -> None:
    """Movement times render in local time; pin it so screenshots do not depend on the machine."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def snapshot_app(directory: Path) -> ImsApp:
    store = open_store(f"sqlite:///{directory / 'snapshot.db'}")
    stock_the_store(store)
    users.add_user(store, Actor.system(), "manager", "manager", "correct horse battery", full_name="Morgan Manager")
    return make_app(store, idle_lock_minutes=0)


async def at_sign_in(pilot) -> None:
    await settle(pilot)


async def at_home(pilot) -> None:
    await sign_in(pilot, "manager")


async def at_lookup(pilot) -> None:
    await sign_in(pilot, "manager")
    await pilot.press("f2")
    await settle(pilot)
    await type_slowly(pilot, "m6", gap=0.06)
    await pilot.pause(0.06)
    await settle(pilot)


async def at_product(pilot) -> None:
    await sign_in(pilot, "manager")
    pilot.app.push_screen(ProductScreen("HEX-M6"))
    await settle(pilot)


SCREENS: dict[str, Before] = {
    "signin": at_sign_in,
    "home": at_home,
    "lookup": at_lookup,
    "product": at_product,
}


async def save_screenshots(target: Path) -> list[Path]:
    use_utc()
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, before in SCREENS.items():
        with tempfile.TemporaryDirectory() as scratch:
            app = snapshot_app(Path(scratch))
            async with app.run_test(size=SIZE) as pilot:
                await before(pilot)
                saved.append(Path(app.save_screenshot(filename=f"ims-{name}.svg", path=str(target))))
            app.store.dispose()
    return saved


if __name__ == "__main__":
    for path in asyncio.run(save_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))):
        print(path)
