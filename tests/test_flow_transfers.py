"""The transfers flow without a screen, on SQLite and PostgreSQL: ship from bins, receive by scans, close."""

from __future__ import annotations

from decimal import Decimal

from ims_tui.flows.transfers import TransfersFlow
from ims_tui.services import stock_transfers
from ims_tui.services.integrity import run_check
from ims_tui.services.purchasing import LineInput
from tests.test_transfers_scrap import MANAGER, PICKER, two_sites, where  # noqa: F401 - fixture

D = Decimal


def test_ship_receive_by_scans_and_close_through_the_flow(two_sites):
    store = two_sites
    made = stock_transfers.create_transfer(store, PICKER, "WH1", "WH2", [LineInput("BOLT", D(48))])
    flow = TransfersFlow(store, PICKER)
    flow.start()
    assert made.number in [t.number for t in flow.open]
    flow.typed(made.number)
    assert flow.step == "ship" and flow.command("ship").error      # no bin yet
    assert flow.scan("05012345678900").error                       # an item is not a bin
    flow.scan("N-01")
    shipped = flow.command("ship")
    assert not shipped.error and "48 in transit" in shipped.message, shipped.message
    assert flow.scan("S-01").error                                 # the item before its bin
    flow.scan("15012345678907")                                    # a case of 12
    flow.typed("3")                                                # ... 3 units, not the case
    flow.typed("24")
    received = flow.scan("S-01")
    assert not received.error and "received 24 BOLT into S-01" in received.message, received.message
    flow.scan("15012345678907")
    wrong = flow.scan("N-02")                                      # a bin of the sending warehouse
    assert wrong.error and "not a bin of the receiving warehouse" in wrong.message and flow.step == "bin"
    flow.cancel()
    closer = TransfersFlow(store, PICKER)
    closer.start()
    closer.typed(made.number)
    closer.command("close")
    assert closer.command("close").error                           # pickers may not write off
    manager = TransfersFlow(store, MANAGER)
    manager.start()
    manager.typed(made.number)
    manager.command("close")
    closed = manager.command("close")
    assert not closed.error and "closed" in closed.message, closed.message
    assert stock_transfers.get_transfer(store, MANAGER, made.number).status == "closed"
    assert where(store, "BOLT") == [("N-01", None, 52), ("S-01", None, 24)]
    assert run_check(store).clean


async def test_the_transfers_screen_offers_ship_to_movers_and_close_to_managers_only(sqlite_url):
    from ims_tui.screens.transfers import TransfersScreen
    from tests.app_helpers import make_app
    from tests.conftest import open_store
    from tests.test_counting_screen import rendered
    from tests.test_receiving_screen import settle

    store = open_store(sqlite_url)
    for who, offered in ((PICKER, False), (MANAGER, True)):
        app = make_app(store, idle_lock_minutes=0)
        async with app.run_test(size=(80, 24)) as pilot:
            app.sign_in_complete(who)
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, TransfersScreen)
            shown = rendered(app)
            assert ("f12 Close" in shown) is offered and ("f10 Ship" in shown) is not offered, shown
            await pilot.press("f12")
            await settle(pilot)
            assert ("pick a transfer first" in " ".join(app.messages)) is offered
    store.dispose()
