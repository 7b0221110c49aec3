"""Every main screen, through the real app on the demo store, for the docs and the screenshot check.

``python -m tests.snapshots.screens`` rewrites ``docs/screenshots/ims-<name>.svg`` (Textual's own
SVG export); ``tests/snapshots/test_app_snapshots.py`` renders the same screens and fails when one
differs from its file, so a screen cannot change without its screenshot.  The clock is pinned
(time-machine) and the demo store is seeded, so the pictures do not depend on the day or machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import time_machine

from ims_tui.app import ImsApp
from ims_tui.config import Config
from ims_tui.db.engine import Store
from ims_tui.services.demo import load_demo
from tests.app_helpers import settle, sign_in, type_slowly, wait_until
from tests.conftest import open_store

SIZE = (80, 24)
PINNED_AT = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.timezone.utc)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
Steps = Callable[[object], Awaitable[None]]


@dataclass(frozen=True)
class Shot:
    """A screen: who is signed in (None: nobody) and what they did to get there."""

    role: str | None
    keys: tuple[str, ...] = ()
    typed: str = ""
    then: Steps | None = field(default=None)


async def _live_followed(pilot) -> None:
    """Live fills its table from a worker and then follows the newest row: wait until it has."""
    table = pilot.app.screen.query_one("#live-table")
    await wait_until(pilot, lambda: table.row_count > 0 and table.cursor_row == table.row_count - 1
                     and table.scroll_y == table.max_scroll_y, timeout=20)


async def _lines_fitted(pilot) -> None:
    """A flow's table sizes its columns to their cells a moment after the rows arrive: wait for it,
    or the picture may catch a column still as wide as its header."""
    from textual.coordinate import Coordinate

    table = pilot.app.screen.query_one("#flow-lines")

    def fitted() -> bool:
        return table.row_count > 0 and all(
            column.content_width >= max(len(str(table.get_cell_at(Coordinate(row, index)))) for row in range(table.row_count))
            for index, column in enumerate(table.ordered_columns))

    await wait_until(pilot, fitted, timeout=20)
    await pilot.pause()


async def _open_product(pilot) -> None:
    from ims_tui.screens.product import ProductScreen

    pilot.app.push_screen(ProductScreen(await _first_sku(pilot.app)))


async def _first_sku(app: ImsApp) -> str:
    from ims_tui.services import search

    return search.search_products(app.store, app.actor, "bolt", limit=1).hits[0].sku


SCREENS: dict[str, Shot] = {
    "signin": Shot(None),
    "home": Shot("manager"),
    "lookup": Shot("manager", keys=("f2",), typed="bolt"),
    "product": Shot("manager", then=_open_product),
    "receiving": Shot("receiver", keys=("f3",)),
    "picking": Shot("picker", keys=("f4",), then=_lines_fitted),
    "sales-orders": Shot("manager", keys=("s",)),
    "counting": Shot("picker", keys=("f6",)),
    "purchase-orders": Shot("manager", keys=("f7",)),
    "replenish": Shot("manager", keys=("f8",)),
    "live": Shot("manager", keys=("f11",), then=_live_followed),
    "audit": Shot("manager", keys=("f12",)),
    "import": Shot("manager", keys=("i",)),
}


def use_utc() -> None:
    """Times render in local time; pin the zone so screenshots do not depend on the machine, and
    turn animations off so a scrolling list is photographed where it ends, not on its way."""
    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    os.environ["TZ"] = "UTC"
    time.tzset()


def demo_template(directory: Path) -> Path:
    """The demo store as of the pinned day, loaded once into ``directory``."""
    path = directory / "demo-template.db"
    if not path.exists():
        with time_machine.travel(PINNED_AT, tick=False):
            store = open_store(f"sqlite:///{path}")
            load_demo(store)
            store.dispose()
    return path


async def render(name: str, template: Path, scratch: Path) -> str:
    """The named screen as Textual's SVG, with the clock pinned."""
    shot = SCREENS[name]
    database = scratch / f"{name}.db"
    shutil.copyfile(template, database)
    store = Store(f"sqlite:///{database}")
    app = ImsApp(Config(database_url=store.url, station="dock-1", idle_lock_minutes=0), store)
    try:
        with time_machine.travel(PINNED_AT, tick=False):
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                if shot.role:
                    await sign_in(pilot, shot.role)
                for key in shot.keys:
                    await pilot.press(key)
                    await settle(pilot)
                if shot.typed:
                    await type_slowly(pilot, shot.typed, gap=0.06)
                    await pilot.pause(0.06)
                    await settle(pilot)
                if shot.then:
                    await shot.then(pilot)
                    await settle(pilot)
                await steady_cursors(pilot)
                return app.export_screenshot(title=f"ims-{name}")
    finally:
        store.dispose()


async def steady_cursors(pilot) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken."""
    for widget in pilot.app.screen.query("*"):
        if getattr(widget, "cursor_blink", False):
            widget.cursor_blink = False
    await pilot.pause()


def comparable(svg: str) -> str:
    """The picture without Textual's per-export id, which is a hash and says nothing of the screen."""
    return re.sub(r"terminal-\d+", "terminal", svg)


async def save_screenshots(target: Path = SCREENSHOTS) -> list[Path]:
    use_utc()
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as scratch:
        template = demo_template(Path(scratch))
        for name in SCREENS:
            path = target / f"ims-{name}.svg"
            path.write_text(await render(name, template, Path(scratch)))
            saved.append(path)
    return saved


if __name__ == "__main__":
    for written in asyncio.run(save_screenshots(Path(sys.argv[1]) if len(sys.argv) > 1 else SCREENSHOTS)):
        print(written)
