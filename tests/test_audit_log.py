"""Browsing and exporting the audit trail: filters, keyset pages, and the export stream."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import insert

from ims_tui.db.models import AuditEntry
from ims_tui.services import audit_log, stock
from ims_tui.services.actor import Actor
from ims_tui.services.audit_log import AuditFilter
from ims_tui.services.errors import BadInput, NotFound, PermissionDenied
from tests.conftest import make_locations, make_product

VIEWER = Actor("auditor-1", "auditor", "office")


def add_entries(store, count: int, *, username="u", action="thing.done", at=None, product_id=None) -> None:
    at = at or dt.datetime.now(dt.timezone.utc)
    with store.write() as session:
        session.execute(insert(AuditEntry), [
            {"at": at, "username": username, "role": "admin", "station": "s", "action": action,
             "target": f"t{i}", "summary": f"entry {i}", "outcome": "ok", "product_id": product_id}
            for i in range(count)
        ])


def all_pages(store, filters=AuditFilter(), limit=7):
    pages, page = [], audit_log.browse(store, VIEWER, filters, limit=limit)
    pages.append(page)
    while page.has_older:
        page = audit_log.browse(store, VIEWER, filters, before_id=page.oldest_id, limit=limit)
        pages.append(page)
    return pages


def test_pages_walk_the_whole_log_newest_first_and_back(store):
    add_entries(store, 30)
    pages = all_pages(store)
    ids = [row.id for page in pages for row in page.rows]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 30
    assert [len(p.rows) for p in pages] == [7, 7, 7, 7, 2]
    assert not pages[0].has_newer and pages[1].has_newer and not pages[-1].has_older
    back = audit_log.browse(store, VIEWER, after_id=pages[2].newest_id, limit=7)
    assert back.rows == pages[1].rows and back.has_newer and back.has_older


def test_filters_by_user_action_outcome_and_date(store):
    add_entries(store, 3, username="rita", action="stock.receive")
    add_entries(store, 2, username="pat", action="stock.issue")
    add_entries(store, 2, username="pat", action="signin")
    add_entries(store, 1, username="pat", action="signin.failed")
    add_entries(store, 4, username="old", action="stock.receive", at=dt.datetime(2020, 5, 17, 12, tzinfo=dt.timezone.utc))

    def shown(**kwargs):
        return [(r.username, r.action) for r in audit_log.browse(store, VIEWER, AuditFilter(**kwargs), limit=100).rows]

    assert set(shown(username="rita")) == {("rita", "stock.receive")}
    assert len(shown(action="stock")) == 9  # an action matches its sub-actions
    assert sorted(set(shown(action="signin"))) == [("pat", "signin"), ("pat", "signin.failed")]
    assert shown(action="signin.failed") == [("pat", "signin.failed")]
    assert shown(action="stock.rec") == []  # but not a partial word
    assert len(shown(since=dt.date(2020, 5, 17), until=dt.date(2020, 5, 17))) == 4
    assert len(shown(until=dt.date(2020, 5, 16))) == 0
    assert len(shown(since=dt.date.today())) == 8
    assert len(shown(username="pat", action="signin")) == 3
    with pytest.raises(BadInput, match="backwards"):
        shown(since=dt.date(2021, 1, 2), until=dt.date(2021, 1, 1))


def test_filter_by_product_code_finds_its_postings(store):
    make_product(store, "P1", barcodes=(("5012345678900", 1),))
    make_product(store, "P2")
    make_locations(store, "BIN-A")
    stock.receive(store, Actor("r", "admin", "s"), "P1", Decimal(3), to="BIN-A")
    stock.receive(store, Actor("r", "admin", "s"), "P2", Decimal(3), to="BIN-A")
    rows = audit_log.browse(store, VIEWER, AuditFilter(product="5012345678900")).rows
    assert [(r.action, r.product) for r in rows] == [("stock.receive", "P1"), ("barcode.add", "P1"), ("product.create", "P1")]
    with pytest.raises(NotFound, match="unknown product 'NOPE'"):
        audit_log.browse(store, VIEWER, AuditFilter(product="NOPE"))


def test_paging_with_a_filter_skips_other_rows(store):
    for _ in range(5):
        add_entries(store, 3, username="rita")
        add_entries(store, 4, username="pat")
    pages = all_pages(store, AuditFilter(username="rita"), limit=4)
    assert [len(p.rows) for p in pages] == [4, 4, 4, 3]
    assert {r.username for p in pages for r in p.rows} == {"rita"}


def test_export_streams_everything_oldest_first_in_batches(store):
    add_entries(store, 25, username="rita")
    add_entries(store, 5, username="pat")
    rows = list(audit_log.iter_entries(store, VIEWER, AuditFilter(username="rita"), batch=4))
    assert len(rows) == 25 and [r.id for r in rows] == sorted(r.id for r in rows)
    record = rows[0].as_record()
    assert list(record) == list(audit_log.EXPORT_COLUMNS)
    assert record["at"].tzinfo is not None and record["summary"] == "entry 0"


def test_export_checks_filters_and_permission_when_called(store):
    with pytest.raises(NotFound):
        audit_log.iter_entries(store, VIEWER, AuditFilter(product="NOPE"))
    with pytest.raises(PermissionDenied):
        audit_log.iter_entries(store, Actor("p", "picker", "s"))


def test_known_actions_for_the_filter_picker(store):
    add_entries(store, 1, action="b.second")
    add_entries(store, 2, action="a.first")
    assert audit_log.known_actions(store, VIEWER) == ["a.first", "b.second"]
