"""Valuation snapshots stay exact: a posting backdated before a snapshot is added in (the figure
still equals replaying the ledger), a location moved to another warehouse retires the snapshots
computed with the old one, and ``ims report snapshot`` builds them from the CLI (both backends)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text

from ims_tui.services import catalogue, ledger, reports
from ims_tui.services.ledger import StockMove
from ims_tui.services.reports import ReportParams
from tests import reports_store
from tests.conftest import run_cli
from tests.reports_store import ADMIN, D, PERIOD, TODAY
from tests.test_reports_asof_property import CENT, replay

END = PERIOD[1]


@pytest.fixture
def fixed(store):
    reports_store.build(store)
    return store


def figures(store, sku, day=END):
    rows = reports.page(store, ADMIN, "valuation", ReportParams(as_of=day, today=TODAY), limit=1000).rows
    row = {r[0]: r for r in rows}[sku]
    return row[3], row[4], row[5], row[6], row[7]


def snapshot_rows(store):
    with store.read() as session:
        rows = session.execute(text("SELECT id, cut, movement_id, locations_digest FROM valuation_snapshots "
                                    "WHERE complete ORDER BY cut")).all()
    return [(row.id, str(row.cut)[:10], row.movement_id, row.locations_digest) for row in rows]


def ledger_replay(store, sku, day):
    history = []
    columns, rows = reports.iterate(store, ADMIN, "moves", ReportParams(date_from=dt.date(2026, 1, 1), date_to=day,
                                                                        product=sku))
    for row in rows:
        _, when, _, _, amount, source, target, *_rest = row
        if source in ("SUPPLIER", "CUSTOMER"):
            history.append((when, "in", amount, row[9]))
        elif target in ("CUSTOMER", "ADJUSTMENT"):
            history.append((when, "out", amount, row[9]))
    cut = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    qty, book, fifo, lifo, average = replay(history, cut)
    return qty, book.quantize(CENT), fifo.quantize(CENT), lifo.quantize(CENT), average.quantize(CENT)


def test_a_posting_backdated_before_the_snapshot_is_added_in(fixed):
    assert figures(fixed, "FIFO-1") == (9, Decimal("120.00"), Decimal("120.00"), Decimal("90.00"), Decimal("108.53"))
    before = snapshot_rows(fixed)
    assert before, "the valuation built the snapshot it reads"
    # received "on day 6", before the snapshot's cut (the start of day 7), posted after it was built
    fixed.transact(lambda s: ledger.post(s, ADMIN, "receive", [StockMove("FIFO-1", Decimal(5), "SUPPLIER", "B1",
                                                                         unit_cost=Decimal(20))],
                                         key=ledger.new_key(), at=D[6] + dt.timedelta(hours=1)))
    assert [cut for _, cut, _, _ in before] == [str(END)]
    expected = (14, Decimal("220.00"), Decimal("220.00"), Decimal("148.00"), Decimal("183.08"))
    assert figures(fixed, "FIFO-1") == expected
    assert ledger_replay(fixed, "FIFO-1", END) == expected
    assert snapshot_rows(fixed) == before, "the snapshot was neither rebuilt nor thrown away: the posting is added in"
    # a day after the backdated one and before the period's end: read from the same ledger
    assert figures(fixed, "FIFO-1", dt.date(2026, 1, 7)) == ledger_replay(fixed, "FIFO-1", dt.date(2026, 1, 7))


def test_a_location_moved_to_another_warehouse_retires_the_old_snapshots(fixed):
    def by_warehouse():
        rows = reports.page(fixed, ADMIN, "valuation", ReportParams(as_of=END, by="warehouse", today=TODAY)).rows
        return {row[0]: (row[3], row[4]) for row in rows}

    assert by_warehouse() == {"WH1": (32, Decimal("362.00")), "WH2": (2, Decimal("10.00"))}
    old = snapshot_rows(fixed)
    with fixed.write() as session:
        catalogue.save_location(session, ADMIN, "C1", warehouse="WH1")
    assert by_warehouse() == {"WH1": (34, Decimal("372.00"))}
    new = snapshot_rows(fixed)
    assert [cut for _, cut, _, _ in new] == [str(END)] and new[0][3] != old[0][3], "rebuilt with today's warehouses"


def test_snapshot_command(store_url, capsys):
    from tests.conftest import open_store

    store = open_store(store_url)
    reports_store.build(store)
    store.dispose()
    code, out, _ = run_cli(capsys, store_url, "--json", "report", "snapshot", "--as-of", "2026-01-11")
    assert code == 0
    built = json.loads(out)["built"]
    assert [entry["cut"][:10] for entry in built] == ["2026-01-11"]  # the ledger starts in January: no month before
    assert built[0]["products"] == 5
    code, out, _ = run_cli(capsys, store_url, "report", "snapshot", "--as-of", "2026-02-03")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("snapshot at 2026-02-01: 5 products") and lines[1].startswith("snapshot at 2026-02-03: 5 products")
    code, out, _ = run_cli(capsys, store_url, "report", "snapshot", "--as-of", "2026-02-03")
    assert (code, out) == (0, "the snapshots were already up to date\n")
    code, _, err = run_cli(capsys, store_url, "report", "snapshot", "--warehouse", "WH1")
    assert code == 2 and "takes only --as-of" in err
    # the valuation as of the snapshot's day reads it and agrees with the hand-computed figures
    code, out, _ = run_cli(capsys, store_url, "--json", "report", "valuation", "--as-of", "2026-01-11", "--by", "warehouse")
    assert {row["warehouse"]: row["book_value"] for row in json.loads(out)["rows"]} == {"WH1": "362", "WH2": "10"}


def test_an_empty_store_and_reports_racing_for_the_first_snapshot(store):
    assert reports.page(store, ADMIN, "valuation", ReportParams()).rows == []
    reports_store.build(store)
    params = ReportParams(as_of=END, by="warehouse", today=TODAY)
    results, errors = [], []

    def run(work):
        try:
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - the test reports whatever escaped
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lambda: reports.page(store, ADMIN, "valuation", params).rows,)),
               threading.Thread(target=run, args=(lambda: reports.totals(store, ADMIN, "valuation", params),)),
               threading.Thread(target=run, args=(lambda: reports.page(store, ADMIN, "valuation", params).rows,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pages = [result for result in results if isinstance(result, list)]
    assert [[(row[0], row[3], row[4]) for row in rows] for rows in pages] == [
        [("WH1", 32, Decimal("362.00")), ("WH2", 2, Decimal("10.00"))]] * 2
    assert [cut for _, cut, _, _ in snapshot_rows(store)] == [str(END)]
