"""The audit log screen in the real app: who gets it, filters, paging from the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert
from textual.widgets import Input, Static

from ims_tui.db.models import AuditEntry
from ims_tui.screens.audit import AuditScreen
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.tasks import tasks_for
from tests.app_helpers import actor, make_app, settle, sign_in
from tests.conftest import open_store

SIZE = (80, 24)


@pytest.fixture
def store(sqlite_url):
    store = open_store(sqlite_url)
    now = dt.datetime.now(dt.timezone.utc)
    rows = [{"at": dt.datetime(2020, 5, 17, 12, tzinfo=dt.timezone.utc), "username": "old", "role": "admin",
             "station": "s", "action": "user.add", "target": "x", "summary": "long ago", "outcome": "ok"}]
    rows += [  # in the order they happened, as the log is written
        {"at": now - dt.timedelta(minutes=i), "username": "rita" if i % 3 else "pat", "role": "receiver",
         "station": "dock-1", "action": "stock.receive" if i % 2 else "signin.failed", "target": f"T{i}",
         "summary": f"entry {i}", "outcome": "ok" if i % 2 else "failed"}
        for i in reversed(range(300))
    ]
    with store.write() as session:
        session.execute(insert(AuditEntry), rows)
    yield store
    store.dispose()


@pytest.mark.parametrize(("role", "shown"), [
    ("admin", True), ("manager", True), ("auditor", True), ("receiver", False), ("picker", False),
])
def test_the_task_is_for_roles_that_may_view_the_audit_log(role, shown):
    import ims_tui.screens.audit  # noqa: F401 - registers the task

    assert ("audit" in [task.id for task in tasks_for(actor(role))]) is shown


async def open_audit(pilot, role: str = "auditor") -> AuditScreen:
    await sign_in(pilot, role)
    await pilot.press("f12")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AuditScreen)
    return pilot.app.screen


def status(screen) -> str:
    return str(screen.query_one("#audit-status", Static).content)


async def apply_filter(pilot, screen, field_id: str, value: str) -> None:
    field = screen.query_one(f"#{field_id}", Input)
    field.value = value
    field.focus()
    await pilot.pause(0.1)
    await pilot.press("enter")
    await settle(pilot)


async def test_pages_load_as_the_cursor_moves_down(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        entries = screen.entries
        assert 0 < len(entries.rows) < 300 and entries.has_more
        assert status(screen).endswith("+ entries: everything")
        assert entries.rows[0].summary == "entry 0"  # newest first
        entries.focus()
        for _ in range(12):
            await pilot.press("pagedown")
            await settle(pilot)
        assert len(entries.rows) > 100
        ids = [row.id for row in entries.rows]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        detail = str(screen.query_one("#audit-detail", Static).content)
        assert f"#{entries.highlighted.id} " in detail


async def test_filters_narrow_the_list_and_bad_dates_are_refused(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot, "manager")
        await apply_filter(pilot, screen, "f-user", "pat")
        assert {row.username for row in screen.entries.rows} == {"pat"}
        await apply_filter(pilot, screen, "f-action", "signin")
        assert {(row.username, row.action) for row in screen.entries.rows} == {("pat", "signin.failed")}
        assert len(screen.entries.rows) == 50  # every 6th of 300
        assert "user pat, action signin" in status(screen)

        await pilot.press("ctrl+n")
        await settle(pilot)
        await apply_filter(pilot, screen, "f-since", "2020-05-17")
        await apply_filter(pilot, screen, "f-until", "2020-05-17")
        assert [row.summary for row in screen.entries.rows] == ["long ago"]

        await apply_filter(pilot, screen, "f-until", "17/05/2020")
        assert status(screen) == "to: not a date (YYYY-MM-DD): '17/05/2020'"
        assert app.bells == 1
        await apply_filter(pilot, screen, "f-until", "")
        await apply_filter(pilot, screen, "f-product", "NO-SUCH-SKU")
        assert status(screen) == "unknown product 'NO-SUCH-SKU'"


async def test_home_of_a_picker_has_no_audit_key(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "picker")
        await pilot.press("f12")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
