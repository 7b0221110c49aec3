"""The reports screen and each of its charts at 80x24, on the fixed report store (sync tests)."""

from __future__ import annotations

import datetime as dt

import pytest

from ims_tui.screens import reports as reports_screen
from tests import reports_store
from tests.app_helpers import make_app, settle, sign_in
from tests.conftest import open_store
from tests.snapshots.screens import SIZE, use_utc


def choose(report: str, chart: bool, date_from: str = "", date_to: str = ""):
    async def before(pilot) -> None:
        await sign_in(pilot, "manager")
        await pilot.press("f9")
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#report-from").value = date_from
        screen.query_one("#report-to").value = date_to
        screen.query_one("#report-name").value = report
        await settle(pilot)
        screen.query_one("#report-rows").focus()
        if chart:
            await pilot.press("ctrl+g")
        await settle(pilot)

    return before


CASES = {
    "valuation": choose("valuation", chart=False),
    "turnover-chart": choose("turnover", chart=True, date_from="2025-09-01", date_to="2026-02-08"),
    "abc-pareto-chart": choose("abc", chart=True, date_from="2026-01-05", date_to="2026-01-11"),
    "aging-chart": choose("aging", chart=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reports_snapshot(name, snap_compare, tmp_path, monkeypatch):
    use_utc()
    monkeypatch.setattr(reports_screen, "today", lambda: dt.date(2026, 2, 8))
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    reports_store.build(store)
    app = make_app(store, idle_lock_minutes=0)
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=CASES[name])
    finally:
        store.dispose()
