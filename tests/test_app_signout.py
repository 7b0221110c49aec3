"""Signing out by key is itself in the audit trail."""

from __future__ import annotations

from ims_tui.services.audit_log import AuditFilter, browse
from tests.app_helpers import actor, make_app, settle, sign_in, stock_the_store


async def test_sign_out_by_key_is_audited(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, "picker")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert app.actor is None
    page = browse(store, actor("auditor"), AuditFilter(action="signout"))
    assert [(row.username, row.action) for row in page.rows] == [("picker", "signout")]
