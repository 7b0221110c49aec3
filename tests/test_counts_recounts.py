"""Recount requests from short picks become a count task (``ims count create --recounts``), and
the bin's posted count answers them: the bin is allocated from again.  Both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from ims_tui.db.models import RecountRequest
from ims_tui.services import counts, picking, sales, stock
from ims_tui.services.errors import RuleViolation
from ims_tui.services.integrity import run_check
from tests.conftest import make_product, run_cli
from tests.sales_support import ADMIN, order, warehouse


@pytest.fixture
def doubted(store):
    """GLOVE in A-01-1 (5) and B-02-1 (5); a short pick in A-01-1 asked for its recount."""
    warehouse(store)
    make_product(store, "GLOVE")
    stock.receive(store, ADMIN, "GLOVE", Decimal(5), to="A-01-1")
    stock.receive(store, ADMIN, "GLOVE", Decimal(5), to="B-02-1")
    pick = picking.create_pick(store, ADMIN, [order(store, "Site", ("GLOVE", 4))])
    picking.confirm_pick(store, ADMIN, pick.number, 1, Decimal(1), source="A-01-1")
    picking.short_pick(store, ADMIN, pick.number, 1)
    return store


def open_requests(store) -> list:
    with store.read() as session:
        return session.execute(select(RecountRequest.id).where(RecountRequest.done_at.is_(None))).all()


def test_a_recount_count_covers_the_doubted_bin_and_its_posting_answers_the_request(doubted):
    view = counts.create_count(doubted, ADMIN, recounts=True)
    assert [b.location for b in view.bins] == ["A-01-1"]
    assert view.kind == "recounts"
    counts.record(doubted, ADMIN, view.number, "A-01-1", "GLOVE", Decimal(4))
    counts.bin_done(doubted, ADMIN, view.number, "A-01-1")
    counts.submit(doubted, ADMIN, view.number)
    assert open_requests(doubted) == []
    # the bin is trusted again: the next order is served from it first (received first)
    other = order(doubted, "Other", ("GLOVE", 4))
    held = {(a.location, a.qty) for a in sales.get_so(doubted, ADMIN, other).allocations if a.stage == "reserved"}
    assert held == {("A-01-1", Decimal(4))}
    assert run_check(doubted).clean


def test_no_open_request_is_a_clear_refusal(store):
    warehouse(store)
    with pytest.raises(RuleViolation, match="no bin waits for a recount"):
        counts.create_count(store, ADMIN, recounts=True)


def test_the_cli_creates_the_recount_task(doubted, capsys):
    code, out, err = run_cli(capsys, doubted.url, "count", "create", "--recounts")
    assert code == 0, err
    assert "1 bins to count" in out
    assert len(open_requests(doubted)) == 1  # open until the bin's count posts
