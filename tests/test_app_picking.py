"""The picking station and the sales-order screens through the real app at 80x24, scan bursts only.

A picker picks a three-line order (a plain item, a FEFO lot item where the newer lot is scanned
first and refused, a short pick re-routed to a second bin), then ships it: the packing slip and
SSCC label arrive whole at a printer listening on 127.0.0.1.  A manager makes an order by
scanning products; the picker's order screen offers only what a picker may do.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ims_tui.screens.picking import PickingScreen
from ims_tui.screens.sales_orders import SalesOrderScreen, SalesOrdersScreen
from ims_tui.services import picking, sales, stock
from tests.app_helpers import actor, make_app, scan_burst, settle, type_slowly
from tests.conftest import make_product, open_store
from tests.label_printer import PrinterListener
from tests.sales_support import ADMIN, PACKING, order, warehouse

D = Decimal
MILK_GTIN = "05012345678900"


def days(n: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=n)


def milk(lot: str) -> str:
    return "]C1" + "01" + MILK_GTIN + "10" + lot


@pytest.fixture
def shop(sqlite_url):
    store = open_store(sqlite_url)
    warehouse(store)
    make_product(store, "BOLT", name="Hex bolt M6")
    make_product(store, "MILK", name="Milk 1 l", tracking="lot", barcodes=((MILK_GTIN, 1),))
    make_product(store, "GLOVE", name="Work glove")
    stock.receive(store, ADMIN, "BOLT", D(10), to="A-01-1")
    stock.receive(store, ADMIN, "MILK", D(5), to="A-02-1", lot="SOON", expiry=days(10))
    stock.receive(store, ADMIN, "MILK", D(5), to="A-02-1", lot="LATE", expiry=days(90))
    stock.receive(store, ADMIN, "GLOVE", D(2), to="B-01-1")  # first in: allocated first
    stock.receive(store, ADMIN, "GLOVE", D(5), to="B-02-1")
    yield store
    store.dispose()


class Counter:
    """Counts what the picker does: scans and key presses."""

    def __init__(self, pilot) -> None:
        self.pilot = pilot
        self.scans = 0
        self.keys = 0

    async def scan(self, text: str) -> None:
        self.scans += 1
        scan_burst(self.pilot.app, text)
        await wait_flow(self.pilot)

    async def press(self, key: str) -> None:
        self.keys += 1
        await self.pilot.press(key)
        await wait_flow(self.pilot)

    def take(self) -> tuple[int, int]:
        taken = (self.scans, self.keys)
        self.scans = self.keys = 0
        return taken


async def wait_flow(pilot) -> None:
    """Until the scan detector has judged every key and the flow worker has done its queue."""
    for _ in range(300):
        await settle(pilot)
        if not pilot.app.scan_detector.holding and not [w for w in pilot.app.workers if w.is_running]:
            return
    raise AssertionError("the station never settled")


async def open_task(pilot, role: str, username: str, key: str) -> None:
    """Sign ``username`` in on the station and press the Home key of a task."""
    pilot.app.sign_in_complete(actor(role, username))
    await wait_flow(pilot)
    await pilot.press(key)
    await wait_flow(pilot)


def said(screen) -> str:
    return str(screen.query_one(f"#{screen.MESSAGE_LINE}").content)


async def test_pick_a_plain_a_lot_and_a_short_line_then_ship_to_the_printer(shop):
    number = order(shop, "Corner Shop", ("BOLT", 2), ("MILK", 2), ("GLOVE", 2))
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_task(pilot, "picker", "pat", "f4")
        screen = app.screen
        assert isinstance(screen, PickingScreen)
        do = Counter(pilot)
        await do.scan(number)  # the order's number makes its pick list
        flow = screen.flow
        assert flow.step == "bin" and flow.line.location == "A-01-1"
        assert "A-01-1" in str(screen.query_one("#flow-prompt").content)
        do.take()

        # a plain line: the bin, the item, Enter takes what is left
        await do.scan("A-01-1")
        await do.scan("BOLT")
        await do.press("enter")
        assert "picked 2 BOLT" in said(screen) and flow.line.location == "A-02-1"
        plain = do.take()

        # a FEFO lot line: the newer lot is refused with the reason, the allocated one taken
        await do.scan("A-02-1")
        bells = len(app.messages)
        await do.scan(milk("LATE"))
        assert "lot LATE expires later" in said(screen) and "take lot SOON" in said(screen)
        assert len(app.messages) > bells
        await do.scan(milk("SOON"))
        await do.press("enter")
        assert "picked 2 MILK" in said(screen)
        lot_line = do.take()

        # a short pick: the gloves are not in B-01-1; two presses of F8, the list re-routes
        assert flow.line.location == "B-01-1"
        await do.scan("B-01-1")
        await do.press("f8")
        assert "F8 again" in said(screen)
        await do.press("f8")
        assert "re-allocated" in said(screen) and flow.line.location == "B-02-1"
        short = do.take()
        await do.scan("B-02-1")
        await do.scan("GLOVE")
        await do.press("enter")
        assert "picked 2 GLOVE" in said(screen) and flow.step == "pick"
        rerouted = do.take()
        assert sales.get_so(shop, ADMIN, number).lines[2].qty_picked == 2

    # ship it at the packing station, whose config names its label printer
    with PrinterListener() as printer:
        app = make_app(shop, label_printer=printer.address, idle_lock_minutes=0)
        async with app.run_test(size=(80, 24)) as pilot:
            # ship it from the order's screen
            await open_task(pilot, "picker", "pat", "s")
            assert isinstance(app.screen, SalesOrdersScreen)
            assert app.screen.orders.highlighted.number == number
            await pilot.press("enter")
            await wait_flow(pilot)
            view = app.screen
            assert isinstance(view, SalesOrderScreen) and view.view.status == "picking"
            await pilot.press("s")
            await wait_flow(pilot)
            assert "press s again" in said(view)
            await pilot.press("s")
            await wait_flow(pilot)
            assert "sent to printer 127.0.0.1" in said(view), said(view)
            assert view.view.status == "shipped"
    slip = picking.shipment_documents(shop, ADMIN, view.last_shipment)
    assert printer.jobs == [slip.zpl.encode()]  # whole: one job, every byte
    assert "Packing slip" in slip.packing_slip and "GLOVE" in slip.packing_slip
    assert stock_at_packing(shop) == 0
    print(f"\nper pick line (scans, keys): plain {plain}, lot with one refused lot {lot_line}, "
          f"short pick {short} + re-routed line {rerouted}")
    assert plain == (2, 1) and lot_line == (3, 1) and short == (1, 2) and rerouted == (2, 1)


def stock_at_packing(store) -> Decimal:
    from ims_tui.services.inventory import product_detail

    return sum((row.on_hand for sku in ("BOLT", "MILK", "GLOVE")
                for row in product_detail(store, ADMIN, sku, movements=0).stock if row.location == PACKING), D(0))


async def test_a_manager_makes_an_order_by_scans_and_a_picker_sees_only_what_they_may_do(shop):
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_task(pilot, "manager", "mia", "s")
        assert isinstance(app.screen, SalesOrdersScreen)
        await pilot.press("n")
        await type_slowly(pilot, "Corner Shop")
        await pilot.press("enter")
        await wait_flow(pilot)
        assert not isinstance(app.screen, SalesOrderScreen)  # no such customer yet: refused, one line
        sales.add_customer(shop, ADMIN, "Corner Shop")
        await pilot.press("n")
        await type_slowly(pilot, "Corner Shop")
        await pilot.press("enter")
        await wait_flow(pilot)
        screen = app.screen
        assert isinstance(screen, SalesOrderScreen)
        for code in ("BOLT", "BOLT", milk("SOON")):
            scan_burst(app, code)
            await wait_flow(pilot)
        await pilot.press("c")
        await wait_flow(pilot)
        view = sales.get_so(shop, ADMIN, screen.key)
        assert view.status == "confirmed" and [(ln.sku, ln.qty_ordered) for ln in view.lines] == [("BOLT", 2), ("MILK", 1)]
        assert screen.check_action("ship", ()) is False  # managers do not ship
    picker = make_app(shop, idle_lock_minutes=0)
    async with picker.run_test(size=(80, 24)) as pilot:
        await open_task(pilot, "picker", "pat", "s")
        await pilot.press("enter")
        await wait_flow(pilot)
        screen = picker.screen
        assert isinstance(screen, SalesOrderScreen)
        assert [screen.check_action(name, ()) for name in ("add", "confirm", "cancel_so", "ship")] == [False] * 3 + [True]
        scan_burst(picker, "BOLT")
        await wait_flow(pilot)
        assert "only a manager" in said(screen)
        assert sales.get_so(shop, ADMIN, screen.key).lines[0].qty_ordered == 2


async def test_another_station_short_picks_and_confirms_and_both_screens_follow(store):
    """Live through the change feed (``picks`` and ``sales_orders`` topics), on both backends."""
    from tests.test_app_live import other_station
    from tests.app_helpers import wait_until

    warehouse(store)
    make_product(store, "GLOVE", name="Work glove")
    stock.receive(store, ADMIN, "GLOVE", D(2), to="B-01-1")
    stock.receive(store, ADMIN, "GLOVE", D(5), to="B-02-1")
    number = order(store, "Corner Shop", ("GLOVE", 2))
    second = order(store, "Corner Shop", ("GLOVE", 1), confirm=False)
    app = make_app(store, idle_lock_minutes=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_task(pilot, "picker", "pat", "f4")
        screen = app.screen
        scan_burst(app, number)
        await wait_flow(pilot)
        flow = screen.flow
        assert flow.line.location == "B-01-1"
        other_station(store.url, "pick", "short", flow.pick.number, str(flow.line.line_no))
        await wait_until(pilot, lambda: flow.line is not None and flow.line.location == "B-02-1", timeout=10)
        await wait_flow(pilot)
        assert "another station took this line" in said(screen) and "B-02-1" in str(screen.query_one("#flow-prompt").content)
        await pilot.press("escape")
        await wait_flow(pilot)
        await pilot.press("s")
        await wait_flow(pilot)
        orders = app.screen.orders
        status = lambda: {row.number: row.status for row in orders.rows}.get(second)  # noqa: E731
        assert status() == "draft"
        other_station(store.url, "so", "confirm", second)
        await wait_until(pilot, lambda: status() == "confirmed", timeout=10)
