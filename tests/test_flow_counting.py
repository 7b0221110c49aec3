"""The counting flow driven without a screen, on SQLite and PostgreSQL: blind, bin by bin,
cases and GS1 labels count their quantity, serials one scan each, bad input refused at its step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from ims_tui.db.models import TaskDraft
from ims_tui.flows.counting import CountingFlow
from ims_tui.services import counts, stock
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from ims_tui.services.stock_settings import change_settings
from tests.conftest import make_locations, make_product

D = Decimal
MANAGER = Actor("mgr", "manager", "office")
ANNA = Actor("anna", "picker", "rf-1")
ADMIN = Actor("setup", "admin", "t")
CASE = "15012345678907"            # a case of 12 CASEY
MILK_LABEL = "]C1010950110153000310L7"  # GS1: MILK's GTIN + lot L7


@pytest.fixture
def shelf(store):
    make_locations(store, "B-01", "B-02", "B-03")
    make_product(store, "PLAIN", cost="2.00", barcodes=(("4006381333931", 1),))
    make_product(store, "CASEY", cost="1.00", barcodes=(("05012345678900", 1), (CASE, 12)))
    make_product(store, "MILK", tracking="lot", cost="1.00", barcodes=(("09501101530003", 1),))
    make_product(store, "DRILL", tracking="serial", cost="50.00")
    stock.receive(store, ADMIN, "PLAIN", D(7), to="B-01")
    stock.receive(store, ADMIN, "CASEY", D(137), to="B-01")
    stock.receive(store, ADMIN, "MILK", D(59), to="B-01", lot="L7")
    stock.receive(store, ADMIN, "DRILL", D(2), to="B-02", serials=("S1", "S2"))
    stock.receive(store, ADMIN, "PLAIN", D(3), to="B-03")
    change_settings(store, MANAGER, {"count.tolerance_pct": "100", "count.tolerance_value": "100000"})
    return store


def started(store, actor=ANNA) -> CountingFlow:
    flow = CountingFlow(store, actor)
    flow.start()
    return flow


def everything_shown(flow: CountingFlow) -> str:
    view = flow.view()
    return "\n".join((view.head, *(" ".join(row) for row in view.rows), *view.lines, view.pending, view.prompt))


def test_a_counter_counts_three_bins_blind_and_the_count_posts_the_differences(shelf):
    task = counts.create_count(shelf, MANAGER, locations=["B-01", "B-02", "B-03"])
    flow = started(shelf)
    assert task.number in everything_shown(flow)                 # the open counts are listed
    shown = []
    outcomes = [flow.typed(task.number.split("-")[1].lstrip("0"))]   # "1" picks CC-000001
    assert flow.step == "bin" and "B-01" in flow.prompt
    for step in (
        lambda: flow.scan("B-01"),
        lambda: flow.scan("4006381333931"),                       # PLAIN: 1
        lambda: flow.typed("6"),                                  # ... 6 in all (one missing)
        lambda: flow.scan(CASE),                                  # CASEY: a case of 12
        lambda: flow.typed("137"),                                # ... counted loose: 137
        lambda: flow.scan(MILK_LABEL),                            # MILK lot L7: 1
        lambda: flow.typed("59"),
        lambda: flow.command("done"),
        lambda: flow.scan("B-02"),
        lambda: flow.scan("S1"),                                  # nothing scanned yet: not a product
        lambda: flow.typed("DRILL"),                              # serial-tracked: asks for serials
        lambda: flow.scan("S1"),
        lambda: flow.scan("S1"),                                  # twice: refused
        lambda: flow.typed(""),
        lambda: flow.command("done"),
        lambda: flow.scan("B-03"),
        lambda: flow.command("empty"),                            # 3 PLAIN there: the count says 0
    ):
        outcomes.append(step())
        shown.append(everything_shown(flow))
    errors = [o.message for o in outcomes if o.error]
    assert len(errors) == 2, errors
    assert "serial S1 of DRILL is already counted here" in errors[1]
    assert flow.step == "bin" and "F10 submits" in outcomes[-1].message
    # BLIND: nothing the counter saw names what the store holds (7, 137, 59, 2, 3 expected)
    for screen in shown:
        for expected in (" 7 ", ": 7", " 3 ", ": 3 "):
            assert expected not in screen, screen
    assert flow.command("submit").error                           # press again
    assert "submitted" in flow.command("submit").message
    assert flow.step == "task" and flow.number is None
    manager_view = counts.get_count(shelf, MANAGER, task.number)
    lines = {(ln.location, ln.sku): (ln.counted, ln.expected, ln.status) for ln in manager_view.lines}
    assert lines[("B-01", "PLAIN")] == (6, 7, "posted")
    assert lines[("B-01", "CASEY")] == (137, 137, "posted")
    assert lines[("B-02", "DRILL")] == (1, 2, "posted")
    assert lines[("B-03", "PLAIN")] == (0, 3, "posted")
    with shelf.read() as session:
        assert session.scalars(select(TaskDraft).where(TaskDraft.kind == "count")).all() == []
    assert run_check(shelf).clean


def test_a_case_scan_counts_its_pack_and_a_dropped_station_resumes_in_the_bin(shelf):
    task = counts.create_count(shelf, MANAGER, locations=["B-01"])
    flow = started(shelf)
    flow.typed(task.number)
    flow.scan("B-01")
    assert "CASEY" in flow.scan(CASE).message and "12 counted" in flow.view().lines[-1]
    flow.scan(CASE)
    assert "24 counted" in flow.view().lines[-1]
    again = started(shelf)                                         # the station dropped
    assert again.number == task.number and again.bin == "B-01" and again.step == "item"
    assert "24 counted" in again.view().lines[-1]
    again.scan(CASE)
    assert counts.get_count(shelf, MANAGER, task.number).lines[0].counted == 36


def test_bad_input_is_refused_at_its_step_and_changes_nothing(shelf):
    task = counts.create_count(shelf, MANAGER, locations=["B-01"])
    flow = started(shelf)
    assert flow.typed("CC-999999").error and flow.step == "task"
    flow.typed(task.number)
    refused = flow.scan("B-02")                                   # not a bin of this count
    assert refused.error and "not a bin of" in refused.message and flow.step == "bin"
    assert flow.scan("4006381333931").error                       # an item before the bin
    flow.scan("B-01")
    assert flow.typed("5").error                                  # a quantity before any item
    flow.scan("09501101530003")                                   # MILK without its label: asks the lot
    assert flow.step == "lot"
    flow.typed("L7")
    assert flow.step == "item"
    assert flow.typed("2.5").error                                # whole units only
    assert flow.scan("B-03").error                                # another bin before "bin done"
    assert flow.command("submit").error                           # the bin is not done
    assert flow.command("undo").error
    view = counts.get_count(shelf, MANAGER, task.number)
    assert [(ln.sku, ln.lot, ln.counted) for ln in view.lines] == [("MILK", "L7", 1)]


def test_bin_empty_is_one_key_and_asks_again_when_items_were_counted(shelf):
    task = counts.create_count(shelf, MANAGER, locations=["B-01", "B-03"])
    flow = started(shelf)
    flow.typed(task.number)
    flow.scan("B-03")
    assert not flow.command("empty").error and flow.step == "bin"
    flow.scan("B-01")
    flow.scan("4006381333931")
    assert flow.command("empty").error                            # something was counted here
    assert not flow.command("empty").error
    assert all(b.status == "done" for b in flow.bins)
