"""Issue 16 item 10: the opening-stock import posts its rows as one batch (``ledger.post_receipts``)
and must leave the store exactly as posting each row through ``ledger.post`` does - balances,
movements, lots, serials, cost layers and averages, postings and their digests, audit rows,
reorder alerts, and what ``ims check`` says - on SQLite and PostgreSQL, under each valuation
method; and a batch keeps each posting's idempotency (a key posted before posts nothing again,
a key reused with other content is refused), posts receipts only, and writes nothing of a batch
it refuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bench.stock_import import per_row_apply
from ims_tui.db.models import (
    AuditEntry,
    Balance,
    CostLayer,
    Location,
    Lot,
    Movement,
    Posting,
    Product,
    ReorderSetting,
    SerialNumber,
)
from ims_tui.services import ledger, settings, stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, RuleViolation
from ims_tui.services.integrity import run_check
from ims_tui.services.ledger import Receipt, StockMove
from ims_tui.services.transfer import importers, run_import
from ims_tui.values import ADJUSTMENT
from tests.conftest import make_locations, make_product, open_store

ADMIN = Actor("tester", "admin", "test-station")


def dump(store) -> dict:  # type: ignore[no-untyped-def]
    """The store's ledger in terms of codes (ids and times differ between the two stores)."""
    source, destination = aliased(Location), aliased(Location)
    with store.read() as session:
        sku = dict(session.execute(select(Product.id, Product.sku)).all())
        code = dict(session.execute(select(Location.id, Location.code)).all())
        lot = dict(session.execute(select(Lot.id, Lot.code)).all())
        serial = dict(session.execute(select(SerialNumber.id, SerialNumber.serial)).all())
        movements = session.execute(
            select(Movement.id, Movement.product_id, source.code, destination.code, Movement.lot_id, Movement.serial_id,
                   Movement.qty, Movement.unit_cost, Movement.reason, Movement.reference, Posting.idempotency_key,
                   Posting.kind, Posting.reason, Posting.reference, Posting.content_digest)
            .join(Posting, Posting.id == Movement.posting_id)
            .join(source, source.id == Movement.from_location_id).join(destination, destination.id == Movement.to_location_id)
            .order_by(Movement.id)
        ).all()
        order = {row[0]: n for n, row in enumerate(movements)}
        check = run_check(store)
        return {
            "movements": [(sku[r[1]], r[2], r[3], lot.get(r[4]), serial.get(r[5]), *r[6:]) for r in movements],
            "balances": sorted((sku[b.product_id], code[b.location_id], lot.get(b.lot_id), b.on_hand, b.reserved,
                                b.received_at is not None) for b in session.scalars(select(Balance))),
            "layers": [(sku[layer.product_id], order[layer.movement_id], layer.unit_cost, layer.original_qty,
                        layer.remaining_qty) for layer in session.scalars(select(CostLayer).order_by(CostLayer.id))],
            "averages": sorted(session.execute(select(Product.sku, Product.average_cost)).all()),
            "lots": sorted((sku[lt.product_id], lt.code, lt.expiry) for lt in session.scalars(select(Lot))),
            "serials": sorted((sku[s.product_id], s.serial, code.get(s.location_id), lot.get(s.lot_id))
                              for s in session.scalars(select(SerialNumber))),
            "postings": session.scalar(select(func.count()).select_from(Posting)),
            "audit": [(a.action, a.target, a.summary, sku.get(a.product_id), a.username, a.station) for a in session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("stock.%")).order_by(AuditEntry.id))],
            "alerts": sorted((sku[r.product_id], r.alert_since is not None) for r in session.scalars(select(ReorderSetting))),
            "check": (check.clean, check.products, check.balances, check.movements, check.violations),
        }


def receipt(key: str, sku: str, qty: str, to: str = "BIN-1", **fields) -> Receipt:  # type: ignore[no-untyped-def]
    return Receipt(key, (StockMove(sku, Decimal(qty), ADJUSTMENT, to, **fields),), reference=f"ref {key}")


def test_a_batch_keeps_each_postings_key_and_digest(store):
    make_locations(store, "BIN-1")
    make_product(store, "PLAIN")
    make_product(store, "SERIAL", tracking="serial")
    with store.write() as session:
        ledger.post(session, ADMIN, "adjust", receipt("k1", "PLAIN", "1").moves, key="k1", reference="ref k1")
    with store.write() as session:
        results = ledger.post_receipts(session, ADMIN, "adjust", [
            receipt("k1", "PLAIN", "1"), receipt("k2", "PLAIN", "2"), receipt("k2", "PLAIN", "2"), receipt("k3", "PLAIN", "3")])
    assert [(r.key, r.already_posted, len(r.movement_ids)) for r in results] == [
        ("k1", True, 0), ("k2", False, 1), ("k2", True, 0), ("k3", False, 1)]
    assert results[2].posting_id == results[1].posting_id
    before = dump(store)
    assert sum(qty for name, *_rest, qty, _reserved, _stamped in before["balances"] if name == "PLAIN") == Decimal(6)

    refusals = [
        ([receipt("k4", "PLAIN", "1"), receipt("k1", "PLAIN", "5")], 1, RuleViolation, "key k1 was already used"),
        ([receipt("k5", "PLAIN", "1"), receipt("k5", "PLAIN", "2")], 1, RuleViolation, "key k5 was already used"),
        ([receipt("k6", "PLAIN", "1"), Receipt("k7", (StockMove("PLAIN", Decimal(1), "BIN-1", ADJUSTMENT),))], 1,
         BadInput, "only adds stock"),
        ([receipt("k8", "SERIAL", "1", serials=("X",)), receipt("k9", "SERIAL", "1", serials=("X",))], 1,
         RuleViolation, "serial X of SERIAL is already in stock"),
        ([receipt("k10", "NOPE", "1"), receipt("k1", "PLAIN", "9")], 0, BadInput, "unknown product"),
    ]
    for receipts, index, kind, message in refusals:
        with pytest.raises(ledger.ReceiptRefused) as refused, store.write() as session:
            ledger.post_receipts(session, ADMIN, "adjust", receipts)
        assert refused.value.index == index
        assert isinstance(refused.value.error, kind) and message in str(refused.value)
        assert dump(store) == before  # all or nothing


# --- the import: batch against per row ----------------------------------------------------------

STOCK = (
    "sku,location,qty,unit_cost,lot,expiry,serial\n"
    "PLAIN,BIN-1,10,2.5,,,\n"
    "PLAIN,BIN-1,10,2.5,,,\n"  # a second pallet, same content: its own posting
    "PLAIN,BIN-2,3,,,,\n"  # no cost: the moving average so far
    "PLAIN,BIN-2,7,4.1234,,,\n"
    "LOTTED,BIN-1,5,1.10,OLD,2027-03-01,\n"  # a stored lot without expiry gets one
    "LOTTED,BIN-1,4,1.30,NEW,,\n"  # a new lot, then its expiry from a later row
    "LOTTED,BIN-2,6,1.20,NEW,2028-01-31,\n"
    "SERIAL,BIN-1,2,99,,,S-1|S-2\n"  # S-1 left stock before: it comes back
    "SERIAL,BIN-2,1,,,,S-3\n"
    "ALERT,BIN-1,1,5,,,\n"  # stays under its reorder point: an alert opens
    "CLEAR,BIN-1,50,5,,,\n"  # over its point: its alert clears
)
MORE = STOCK + "PLAIN,BIN-1,10,2.5,,,\nSERIAL,BIN-1,1,80,,,S-4\n"  # a third pallet and one more serial


def prepare(url: str, method: str) -> object:
    store = open_store(url)
    make_locations(store, "BIN-1", "BIN-2")
    make_product(store, "PLAIN", cost="2.00")
    make_product(store, "LOTTED", tracking="lot", cost="1.00")
    make_product(store, "SERIAL", tracking="serial", cost="50")
    make_product(store, "ALERT", reorder_point=Decimal(10), reorder_qty=Decimal(20))
    make_product(store, "CLEAR", reorder_point=Decimal(10), reorder_qty=Decimal(20))
    if method != "fifo":
        settings.set_valuation_method(store, ADMIN, method)
    stock.receive(store, ADMIN, "PLAIN", Decimal(4), to="BIN-1", cost=Decimal("3.00"), key="before-plain")
    stock.receive(store, ADMIN, "LOTTED", Decimal(2), to="BIN-1", lot="OLD", cost=Decimal("1.00"), key="before-lot")
    stock.receive(store, ADMIN, "SERIAL", Decimal(1), to="BIN-1", serials=("S-1",), cost=Decimal(60), key="before-s1")
    stock.issue(store, ADMIN, "SERIAL", Decimal(1), source="BIN-1", serials=("S-1",), key="before-s1-out")
    stock.receive(store, ADMIN, "CLEAR", Decimal(1), to="BIN-2", cost=Decimal(5), key="before-clear")
    return store


@pytest.mark.parametrize("method", ["fifo", "lifo", "average"])
def test_the_batch_leaves_the_store_as_posting_each_row_does(store_url, twin_url, tmp_path, monkeypatch, method):
    stock_file, more_file = tmp_path / "stock.csv", tmp_path / "more.csv"
    stock_file.write_text(STOCK, encoding="utf-8")
    more_file.write_text(MORE, encoding="utf-8")
    batch, per_row = prepare(store_url, method), prepare(twin_url, method)
    try:
        outcomes = {}
        for name, store in (("batch", batch), ("per row", per_row)):
            with monkeypatch.context() as patch:
                if name == "per row":
                    patch.setattr(importers.StockImporter, "apply", per_row_apply)
                first = run_import(store, ADMIN, "stock", stock_file)
                assert first.committed and first.created == 11, first.render()
                between = dump(store)
                again = run_import(store, ADMIN, "stock", stock_file)
                assert (again.created, again.unchanged) == (0, 11)
                assert dump(store) == between  # nothing posted twice
                more = run_import(store, ADMIN, "stock", more_file)
                assert (more.created, more.unchanged) == (2, 11), more.render()
                outcomes[name] = (between, dump(store))
        assert outcomes["batch"] == outcomes["per row"]
        final = outcomes["batch"][1]
        assert final["check"][0], final["check"]
        assert ("ALERT", True) in final["alerts"] and ("CLEAR", False) in final["alerts"]
        assert ("LOTTED", "NEW", dt.date(2028, 1, 31)) in final["lots"]
        assert ("SERIAL", "S-1", "BIN-1", None) in final["serials"]
    finally:
        batch.dispose()
        per_row.dispose()
