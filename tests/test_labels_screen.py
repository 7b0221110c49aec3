"""The print-label dialog driven through ``run_test`` at 80x24, printing to a 127.0.0.1 listener."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from textual.app import App
from textual.widgets import Input

from ims_tui.config import Config
from ims_tui.screens.labels import PrintLabelScreen
from ims_tui.services import ledger
from ims_tui.services.actor import Actor
from ims_tui.services.audit_log import AuditFilter, browse
from tests.conftest import make_locations, make_product, open_store
from tests.label_printer import PrinterListener, closed_port

ADMIN = Actor("admin", "admin", "station-1")


class StationApp(App[None]):
    """The attributes the dialog uses, named as ImsApp names them; counts bells and results."""

    def __init__(self, store, actor: Actor | None, config) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.config = config
        self.bells = 0
        self.results: list[str | None] = []

    def bell(self) -> None:
        self.bells += 1

    def open_dialog(self, *args) -> PrintLabelScreen:
        screen = PrintLabelScreen(*args)
        self.push_screen(screen, self.results.append)
        return screen


@pytest.fixture
def store(sqlite_url):
    store = open_store(sqlite_url)
    make_product(store, "HEX-M6", name="Hex bolt M6 x 30 mm", barcodes=(("5012345678900", 1),))
    make_product(store, "WATER-05", name="Spring water 500 ml", tracking="lot")
    make_locations(store, "A-01-1")
    with store.write() as session:
        ledger.post(session, ADMIN, "receive", [
            ledger.StockMove("WATER-05", Decimal(24), "SUPPLIER", "A-01-1", lot="L2503", expiry=dt.date(2027, 3, 31)),
        ], key="setup-lot")
    yield store
    store.dispose()


def make_app(store, actor: Actor | None = ADMIN, config=None) -> StationApp:
    return StationApp(store, actor, config or Config(database_url=store.url, station="station-1"))


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text_of(screen: PrintLabelScreen, selector: str) -> str:
    return str(screen.query_one(selector).content)


async def fill(pilot, screen: PrintLabelScreen, printer: str, copies: str = "1") -> None:
    screen.query_one("#printer", Input).value = printer
    screen.query_one("#copies", Input).value = copies
    screen.query_one("#copies", Input).focus()
    await pilot.pause()


async def test_enter_prints_every_copy_to_the_printer_and_dismisses_with_the_summary(store):
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog("product", "5012345678900")
        await settle(pilot)
        assert text_of(screen, "#label-preview").splitlines() == [
            "Hex bolt M6 x 30 mm", "HEX-M6", "GS1 DataMatrix (01)05012345678900",
        ]
        assert screen.query_one("#printer", Input).has_focus
        with PrinterListener() as printer:
            await fill(pilot, screen, printer.address, "2")
            await pilot.press("enter")
            await settle(pilot)
        assert app.results == [f"printed 2 copies of HEX-M6 as ZPL to printer {printer.address}"]
        assert app.screen is not screen
    [job] = printer.jobs
    assert job.decode().count("^XA") == 2 and "^FD_10105012345678900^FS" in job.decode()
    rows = browse(store, ADMIN, AuditFilter(action="label.print")).rows
    assert [(r.username, r.target, r.outcome) for r in rows] == [("admin", "HEX-M6", "ok")]


async def test_unreachable_printer_keeps_the_dialog_open_with_one_line_then_a_retry_prints(store):
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog("lot", "WATER-05", "L2503")
        await settle(pilot)
        assert "Lot L2503   Exp 2027-03-31" in text_of(screen, "#label-preview")
        port = closed_port()
        await fill(pilot, screen, f"127.0.0.1:{port}")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and app.results == [] and app.bells == 1
        status = text_of(screen, "#label-status")
        assert status == f"printer 127.0.0.1:{port}: connection refused - is raw printing on port {port} enabled?"
        assert screen.query_one("#label-status").has_class("error")
        with PrinterListener() as printer:
            await fill(pilot, screen, printer.address)
            await pilot.press("enter")
            await settle(pilot)
        assert app.results == [f"printed 1 copy of WATER-05 lot L2503 as ZPL to printer {printer.address}"]
    assert "^FO24,304^A0N,26,26^FB752,1,0,L,0^FH^FDLot L2503   Exp 2027-03-31^FS" in printer.jobs[0].decode()


async def test_the_last_printer_is_offered_next_time_and_escape_cancels(store):
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog("location", "A-01-1")
        await settle(pilot)
        assert screen.query_one("#printer", Input).value == ""
        with PrinterListener() as printer:
            await fill(pilot, screen, printer.address)
            await pilot.press("enter")
            await settle(pilot)
        again = app.open_dialog("location", "A-01-1")
        await settle(pilot)
        assert again.query_one("#printer", Input).value == printer.address
        await pilot.press("escape")
        await settle(pilot)
        assert app.results[-1] is None and app.screen is not again
    assert len(printer.jobs) == 1


async def test_a_configured_label_printer_prefills_the_dialog(store):
    class StationConfig:
        label_printer = "zebra-dock1:9100"

    app = make_app(store, config=StationConfig())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog("product", "HEX-M6")
        await settle(pilot)
        assert screen.query_one("#printer", Input).value == "zebra-dock1:9100"


@pytest.mark.parametrize(
    ("actor", "args", "preview", "message"),
    [
        (Actor("audrey", "auditor", "office"), ("product", "HEX-M6"), "Hex bolt M6 x 30 mm",
         "permission denied: role auditor may not print labels"),
        (ADMIN, ("product", "NOPE"), "unknown product 'NOPE'", "the label is not ready: nothing to print"),
        (ADMIN, ("product", "HEX-M6"), "Hex bolt M6 x 30 mm", "copies must be a whole number from 1 to 999"),
    ],
)
async def test_refusals_are_one_line_and_nothing_is_sent(store, actor, args, preview, message):
    app = make_app(store, actor)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog(*args)
        await settle(pilot)
        assert preview in text_of(screen, "#label-preview") + text_of(screen, "#label-status")
        with PrinterListener() as printer:
            await fill(pilot, screen, printer.address, "0" if "copies" in message else "1")
            await pilot.press("enter")
            await settle(pilot)
        assert text_of(screen, "#label-status") == message
        assert app.screen is screen and app.results == []
    assert printer.jobs == []


async def test_a_screen_pushed_on_top_while_printing_is_not_popped_by_the_result(store):
    """The idle lock can come over the dialog while the printer answers: the result waits for it."""
    from textual.screen import ModalScreen

    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.open_dialog("product", "HEX-M6")
        await settle(pilot)
        await fill(pilot, screen, "127.0.0.1:9")
        screen.printing = True  # as while the worker waits for the printer
        await pilot.press("escape")
        assert app.screen is screen
        assert text_of(screen, "#label-status") == "printing: wait for the printer to answer"
        lock = ModalScreen()
        app.push_screen(lock)
        await pilot.pause()
        screen._printed("127.0.0.1:9", "printed 1 copy of HEX-M6 as ZPL to printer 127.0.0.1:9")
        await pilot.pause()
        assert app.screen is lock and app.results == []
        app.pop_screen()
        await settle(pilot)
        assert app.results == ["printed 1 copy of HEX-M6 as ZPL to printer 127.0.0.1:9"]
        assert app.screen is not screen
