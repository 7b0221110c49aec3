"""The station app with 1,000,000 products against the same app with 1,000 - and its start-up.

Measured through the real app (``run_test`` at 80x24, headless), each store size in its own
process so resident memory is comparable:

- scan to product shown: a wedge burst (EAN + Enter) until the product screen has its data;
- search as you type: each keystroke of a SKU or a name until the results for it are shown;
- first paint of the results list (F2 until the first page is on screen) and paging
  (pagedown until the next page has arrived);
- resident memory (VmHWM) of the process after the run.

Goal: the million-product figures within 1.2x of the thousand-product ones.  Start-up: process
start to the first frame of the sign-in screen (the first refresh after it mounted), against a
bare Textual app composing the same widgets, measured the same way (goal: within 1.5x).  Figures are printed as ratios, never asserted.

    python -m bench.app_station [--backend sqlite|postgresql] [--large 1000000] [--small 1000]

The stores are built once (raw inserts of catalogue rows, no stock) and kept under
``bench/results/`` between runs (SQLite), or in a database named ``ims_bench_<n>`` (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._results import record

RESULTS = Path(__file__).with_name("results")
PG_ADMIN_URL = os.environ.get("IMS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORDS = ("Hex", "Nyloc", "Copper", "Cable", "Safety", "Packing", "Spring", "Ball", "Wall", "Flat")
THINGS = ("bolt", "nut", "pipe", "tie", "glove", "tape", "water", "valve", "plug", "washer")
BATCH = 20_000


def ean13(number: int) -> str:
    from biip.checksums import gs1_standard_check_digit

    body = f"20{number:010d}"
    return body + str(gs1_standard_check_digit(body))


def sku(number: int) -> str:
    return f"SKU-{number:07d}"


# -- building the stores ------------------------------------------------------------------------


def store_url(backend: str, products: int) -> str:
    if backend == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        return f"sqlite:///{RESULTS / f'app_{products}.db'}"
    from sqlalchemy import make_url

    return make_url(PG_ADMIN_URL).set(database=f"ims_bench_{products}").render_as_string(hide_password=False)


def build_store(backend: str, products: int) -> str:
    """A store with ``products`` products, one EAN each, one supplier item each (built once)."""
    from sqlalchemy import create_engine, func, insert, make_url, select, text

    from ims_tui.db import schema
    from ims_tui.db.engine import Store
    from ims_tui.db.models import Barcode, Product, Supplier, SupplierItem

    url = store_url(backend, products)
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                       {"n": make_url(url).database})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
        admin.dispose()
    store = Store(url)
    schema.upgrade(store)
    with store.read() as session:
        have = session.scalar(select(func.count()).select_from(Product))
    if have == products:
        store.dispose()
        return url
    if have:
        raise SystemExit(f"{url} holds {have} products, not {products}: delete it and run again")
    print(f"building a store with {products:,} products at {url} ...", file=sys.stderr)
    rng = random.Random(products)
    with store.write() as session:
        session.add(Supplier(code="BENCH", name="Bench Supplier", lead_time_days=5, active=True))
    with store.engine.begin() as connection:
        supplier_id = connection.scalar(select(Supplier.id))
        for start in range(0, products, BATCH):
            numbers = range(start, min(start + BATCH, products))
            connection.execute(insert(Product), [
                {"id": n + 1, "sku": sku(n), "name": f"{rng.choice(WORDS)} {rng.choice(THINGS)} {n % 997} mm",
                 "description": "", "category": "Bench", "uom": "ea", "tracking": "none", "active": True}
                for n in numbers
            ])
            connection.execute(insert(Barcode), [{"product_id": n + 1, "code": ean13(n), "pack_qty": 1} for n in numbers])
            connection.execute(insert(SupplierItem), [
                {"supplier_id": supplier_id, "product_id": n + 1, "supplier_sku": f"BS-{n:07d}", "cost": 1,
                 "min_order_qty": 1} for n in numbers
            ])
        if backend == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('products', 'id'), :n)"), {"n": products})
            connection.execute(text("ANALYZE"))
        else:
            connection.exec_driver_sql("ANALYZE")
    store.dispose()
    return url


# -- measuring one store (in its own process) -------------------------------------------------


async def measure(url: str, products: int, rounds: int) -> dict:
    from ims_tui.app import ImsApp
    from ims_tui.config import Config
    from ims_tui.db.engine import Store
    from ims_tui.screens.lookup import LookupScreen
    from ims_tui.screens.product import ProductScreen
    from ims_tui.services.actor import Actor
    from textual import events

    rng = random.Random(42)
    store = Store(url)
    app = ImsApp(Config(database_url=url, station="bench", idle_lock_minutes=0), store)
    figures: dict[str, list[float]] = {"scan": [], "keystroke": [], "first_paint": [], "page": []}

    async def until(condition, timeout=30.0) -> float:
        start = time.perf_counter()
        while not condition():
            if time.perf_counter() - start > timeout:
                raise RuntimeError("timed out")
            await asyncio.sleep(0.001)
        return time.perf_counter() - start

    async with app.run_test(size=(80, 24)) as pilot:
        app.sign_in_complete(Actor("bench", "manager", "bench"))
        await pilot.pause()
        for _ in range(rounds):  # scan to product shown
            number = rng.randrange(products)
            start = time.perf_counter()
            for char in ean13(number) + "\r":
                app.post_message(events.Key("enter" if char == "\r" else char, char))
            await until(lambda: isinstance(app.screen, ProductScreen) and app.screen.detail is not None
                        and app.screen.detail.sku == sku(number))
            figures["scan"].append(time.perf_counter() - start)
            app.pop_screen()
            await pilot.pause()
        for _ in range(max(rounds // 4, 3)):  # first paint and paging of the results list
            start = time.perf_counter()
            await pilot.press("f2")
            await until(lambda: isinstance(app.screen, LookupScreen) and len(app.screen.results.rows) > 0)
            figures["first_paint"].append(time.perf_counter() - start)
            results = app.screen.results
            results.focus()
            for _ in range(6):
                if not results.has_more:
                    break
                loaded = len(results.rows)
                start = time.perf_counter()
                await pilot.press("end")  # the cursor to the last loaded row: the next page is fetched
                await until(lambda: len(results.rows) > loaded)
                figures["page"].append(time.perf_counter() - start)
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("f2")
        await until(lambda: isinstance(app.screen, LookupScreen))
        lookup = app.screen
        search = lookup.query_one("#search")
        for round_number in range(rounds // 2):  # search as you type: SKUs and name starts
            number = rng.randrange(products)
            typed = sku(number) if round_number % 2 == 0 else f"{rng.choice(WORDS).lower()} {rng.choice(THINGS)}"
            search.value = ""
            await pilot.pause()
            for end in range(1, len(typed) + 1):
                before = lookup.results.generation
                start = time.perf_counter()
                search.value = typed[:end]
                await until(lambda: lookup.results.generation > before and not lookup.results.loading)
                figures["keystroke"].append(time.perf_counter() - start)
    store.dispose()
    rss_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmHWM"))
    summary = {name: statistics.median(values) * 1000 for name, values in figures.items()}
    summary |= {f"{name}_p95": sorted(values)[int(len(values) * 0.95) - 1] * 1000 for name, values in figures.items()}
    summary["rss_mb"] = rss_kb / 1024
    return summary


# -- start-up --------------------------------------------------------------------------------

SINCE_START = """
import os
def since_process_start():
    ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
    return float(open("/proc/uptime").read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
"""

BARE_APP = SINCE_START + """
import time, sys
from textual.app import App
from textual.containers import Vertical
from textual.widgets import Footer, Header, Input, Static

class Bare(App):
    def compose(self):
        yield Header()
        with Vertical():
            yield Static("Sign in"); yield Static("intro")
            for name in ("user name", "password", "repeat", "PIN"):
                yield Input(placeholder=name)
            yield Static("status")
        yield Static("")
        yield Footer(compact=True)

    def on_mount(self):
        self.call_after_refresh(self.painted)

    def painted(self):
        print(since_process_start(), flush=True)
        self.exit()

Bare().run(headless=True, size=(80, 24))
"""

IMS_APP = SINCE_START + """
import sys
from ims_tui.config import Config
from ims_tui.app import ImsApp
from ims_tui.screens.signin import SignInScreen

url = sys.argv[1]

def open_store():  # as ``ims`` does: the store opens behind the sign-in screen's first paint
    from ims_tui.db.engine import Store
    return Store(url)

app = ImsApp(Config(database_url=url, station="bench", idle_lock_minutes=0), open_store)
sign_in_mounted = SignInScreen.on_mount

def on_mount(screen):  # the sign-in screen's first frame, measured as the bare app's is
    sign_in_mounted(screen)
    screen.call_after_refresh(painted)

def painted():
    print(since_process_start(), flush=True)
    app.exit()

SignInScreen.on_mount = on_mount
app.run(headless=True, size=(80, 24))
"""


def startup(url: str, runs: int) -> tuple[float, float]:
    def timed(code: str, *args: str) -> float:
        """Seconds from the process starting to the screen being painted (median of ``runs``)."""
        best = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                                  text=True, timeout=120)
            best.append(float(done.stdout.split()[0]))
        return statistics.median(best) * 1000

    return timed(BARE_APP), timed(IMS_APP, url)


# -- driver ------------------------------------------------------------------------------------


def run_child(url: str, products: int, rounds: int) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.app_station", "--child", url, str(products), str(rounds)],
        check=True, capture_output=True, text=True, timeout=3600, cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, products, rounds = args.child
        print(json.dumps(asyncio.run(measure(url, int(products), int(rounds)))))
        return
    small_url = build_store(args.backend, args.small)
    large_url = build_store(args.backend, args.large)
    small = run_child(small_url, args.small, args.rounds)
    large = run_child(large_url, args.large, args.rounds)
    print(f"station app, {args.backend}: {args.large:,} products against {args.small:,} (goal: within 1.2x)")
    print(f"{'':32}{args.small:>12,}{args.large:>12,}{'ratio':>8}")
    labels = {
        "scan": "scan to product shown (ms)", "keystroke": "search keystroke (ms)",
        "first_paint": "results first paint (ms)", "page": "next page (ms)",
    }
    for key, label in labels.items():
        for suffix, name in (("", label), ("_p95", "  p95")):
            a, b = small[key + suffix], large[key + suffix]
            print(f"{name:32}{a:12.1f}{b:12.1f}{b / a:8.2f}")
    print(f"{'resident memory (MB)':32}{small['rss_mb']:12.1f}{large['rss_mb']:12.1f}{large['rss_mb'] / small['rss_mb']:8.2f}")
    sizes = f"{args.large:,} vs {args.small:,} products, {args.backend}"
    for key, label in labels.items():
        record("app_station", label.removesuffix(" (ms)"), large[key] / small[key], at_most=1.2,
               detail=f"{large[key]:.1f} vs {small[key]:.1f} ms, {sizes}")
    record("app_station", "resident memory", large["rss_mb"] / small["rss_mb"], at_most=1.2,
           detail=f"{large['rss_mb']:.1f} vs {small['rss_mb']:.1f} MB")
    bare, ims = startup(small_url, runs=5)
    print(f"start-up to the sign-in screen: bare Textual app {bare:.0f} ms, ims {ims:.0f} ms")
    record("app_station", "start-up to sign-in vs bare Textual", ims / bare, at_most=1.5,
           detail=f"{ims:.0f} vs {bare:.0f} ms")


if __name__ == "__main__":
    main()
