"""The reports screen driven through the real app on the fixed store: rows, totals, a chart, an export."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from ims_tui.screens import reports as reports_screen
from ims_tui.screens.reports import ReportsScreen
from ims_tui.widgets.paged_list import PagedList
from tests import reports_store
from tests.app_helpers import make_app, settle, sign_in
from tests.conftest import open_store


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setattr(reports_screen, "today", lambda: dt.date(2026, 2, 8))
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    reports_store.build(store)
    app = make_app(store, idle_lock_minutes=0)
    yield app
    store.dispose()


async def open_reports(pilot):
    await sign_in(pilot, "manager")
    await pilot.press("f9")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReportsScreen)
    return pilot.app.screen


def status(screen) -> str:
    return str(screen.query_one("#report-status").render())


async def test_valuation_rows_totals_and_parameters(app):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_reports(pilot)
        rows = screen.query_one("#report-rows", PagedList)
        assert [row[0] for row in rows.rows] == ["AVG-1", "FIFO-1", "LIFO-1", "LOT-1", "OUT-1"]
        assert "5 rows" in status(screen) and "book_value" in status(screen)
        screen.query_one("#report-filters").value = "by=warehouse"
        screen.query_one("#report-as-of").value = "2026-01-11"
        screen.query_one("#report-filters").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert [(row[0], row[3]) for row in rows.rows] == [("WH1", 32), ("WH2", 2)]
        screen.query_one("#report-filters").value = "colour=red"
        screen.query_one("#report-filters").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "key=value" in status(screen)
        assert [row[0] for row in rows.rows] == ["WH1", "WH2"]  # nothing changed


async def test_aging_chart_and_xlsx_export_with_progress(app, tmp_path):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_reports(pilot)
        screen.query_one("#report-name").value = "aging"
        await settle(pilot)
        await pilot.press("ctrl+g")
        await settle(pilot)
        chart = str(screen.query_one("#report-chart").render())
        assert "0-30" in chart and "159.00" in chart and "316.00" in chart
        await pilot.press("ctrl+e")
        target = tmp_path / "aging.xlsx"
        screen.query_one("#report-file").value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert "exported 5 aging report rows" in status(screen)
        assert openpyxl.load_workbook(target)["chart"]._charts


async def test_a_parameter_the_report_does_not_take_is_refused_on_screen(app):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_reports(pilot)
        screen.query_one("#report-name").value = "turnover"
        await settle(pilot)
        screen.query_one("#report-filters").value = "warehouse=WH1"
        screen.query_one("#report-filters").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "does not take warehouse" in status(screen)


async def test_a_receiver_has_no_reports_task(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "receiver")
        await pilot.press("f9")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, ReportsScreen)
