"""Issue 16 items 3, 11 and 13: numbers and dates are refused at entry, one line, exit 2.

Quantities and amounts stay below 10^12 with at most 3 (quantity) or 4 (money) decimals, in
ASCII digits; the command line takes dates as YYYY-MM-DD only.  A refused value changes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import Balance, Posting
from tests.conftest import make_locations, make_product, open_store, run_cli


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    make_product(store, "WIDGET")
    make_product(store, "FLOUR", uom="kg")
    make_locations(store, "BIN-1")
    store.dispose()
    return store_url


def _postings_and_balances(url: str) -> tuple[int, int]:
    store = open_store(url)
    try:
        with store.read() as session:
            return (session.scalar(select(func.count()).select_from(Posting)),
                    session.scalar(select(func.count()).select_from(Balance)))
    finally:
        store.dispose()


def _refused(capsys, url: str, *argv: str) -> str:
    code, out, err = run_cli(capsys, url, *argv)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "unexpected" not in err
    return err


def test_a_huge_quantity_is_refused_twice_and_the_store_stays_checkable(capsys, url):
    for _ in range(2):
        err = _refused(capsys, url, "stock", "receive", "WIDGET", "9e15", "--to", "BIN-1")
        assert "too large" in err and "999,999,999,999" in err
    assert _postings_and_balances(url) == (0, 0)
    assert run_cli(capsys, url, "check")[0] == 0
    # the largest value is accepted, and the check still adds up
    assert run_cli(capsys, url, "stock", "receive", "WIDGET", "999999999999", "--to", "BIN-1")[0] == 0
    assert run_cli(capsys, url, "check")[0] == 0


def test_more_decimals_than_the_store_keeps_are_refused_not_rounded(capsys, url):
    err = _refused(capsys, url, "stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--cost", "0.00001")
    assert "4 decimals" in err
    err = _refused(capsys, url, "stock", "receive", "FLOUR", "0.0001", "--to", "BIN-1")
    assert "3 decimals" in err
    assert _postings_and_balances(url) == (0, 0)
    assert run_cli(capsys, url, "stock", "receive", "FLOUR", "0.001", "--to", "BIN-1", "--cost", "0.0001")[0] == 0


@pytest.mark.parametrize("qty", ["５", "١٢", "1_0", "nan", "inf"])
def test_quantities_are_ascii_digits_only(capsys, url, qty):
    err = _refused(capsys, url, "stock", "receive", "WIDGET", qty, "--to", "BIN-1")
    assert "number" in err
    assert _postings_and_balances(url) == (0, 0)


@pytest.mark.parametrize("day", ["2026/01/02", "20260102", "260102", "2026-1-2", "２０２６-01-02"])
def test_the_command_line_takes_dates_as_yyyy_mm_dd_only(capsys, url, day):
    err = _refused(capsys, url, "stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--lot", "A", "--expiry", day)
    assert "not a date (YYYY-MM-DD)" in err
    assert _postings_and_balances(url) == (0, 0)


def test_an_import_row_out_of_range_is_refused_with_its_row(capsys, url, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,location,qty\nWIDGET,BIN-1,5\nWIDGET,BIN-1,9000000000000000\nWIDGET,BIN-1,１２\n", encoding="utf-8")
    code, out, err = run_cli(capsys, url, "import", "stock", str(path))
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "unexpected" not in err
    report = out + err
    assert "row 3" in report and "too large" in report
    assert "row 4" in report
    assert _postings_and_balances(url) == (0, 0)
    assert run_cli(capsys, url, "check")[0] == 0
