"""Round trip: export a store, import the files into an empty store, get the same catalogue and stock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from ims_tui.db.models import Balance, Barcode, Location, Lot, Product, SerialNumber, Supplier, SupplierItem, Warehouse
from ims_tui.services import catalogue, stock
from ims_tui.services.actor import Actor
from ims_tui.services.integrity import run_check
from ims_tui.services.transfer import export, run_import
from tests.conftest import create_pg_database, drop_pg_database, make_product, open_store

KINDS_IN_ORDER = ("suppliers", "locations", "products", "stock")


@pytest.fixture
def empty_store(backend: str, tmp_path: Path) -> Iterator:
    if backend == "sqlite":
        target = open_store(f"sqlite:///{tmp_path / 'target.db'}")
        yield target
        target.dispose()
        return
    url = create_pg_database()
    target = open_store(url)
    try:
        yield target
    finally:
        target.dispose()
        drop_pg_database(url)


def build_catalogue(store, admin: Actor) -> None:
    with store.write() as session:
        catalogue.save_supplier(session, admin, "Acme, Ltd", {"code": "ACME", "email": "orders@acme.example", "lead_time_days": 5})
        catalogue.save_supplier(session, admin, "Ölwerk GmbH", {"code": "OEL", "phone": "+49 30 1234"})
        catalogue.save_location(session, admin, "WH1-A", name="Aisle A", warehouse="WH1", kind="view")
        catalogue.save_location(session, admin, "WH1-A-01", name="Bin A-01", parent="WH1-A", warehouse="WH1", barcode="LOC0001")
        catalogue.save_location(session, admin, "WH1-A-02", parent="WH1-A", warehouse="WH1")
    make_product(store, "BOLT-M6", name="=HYPERLINK(\"http://evil\")", description='Zinc, "bright"\nsecond line',
                 category="Fasteners", unit_price=Decimal("0.125"), reorder_point=Decimal(100), reorder_qty=Decimal("250.5"),
                 uom="kg", barcodes=(("4006381333931", 1), ("14006381333938", 12)), default_location="WH1-A-01")
    make_product(store, "MILK-1L", name="-20% Milch 1 l", tracking="lot", cost="0.6")
    make_product(store, "DRILL-18V", name="@Drill 18 V", tracking="serial", cost="89.9")
    make_product(store, "OLD-1", name="Discontinued", active=False)
    with store.write() as session:
        bolt = session.scalars(select(Product).where(Product.sku == "BOLT-M6")).one()
        for name, supplier_sku, cost in (("Acme, Ltd", "AC|1", "0.09"), ("Ölwerk GmbH", "OEL-1", "0.1")):
            supplier = session.scalars(select(Supplier).where(Supplier.name == name)).one()
            catalogue.set_supplier_item(session, admin, bolt, supplier, supplier_sku.replace("|", "/"), Decimal(cost))
    stock.receive(store, admin, "BOLT-M6", Decimal("12.5"), to="WH1-A-01", cost=Decimal("0.1"))
    stock.receive(store, admin, "MILK-1L", Decimal(24), to="WH1-A-02", lot="L-7", expiry=dt.date(2027, 1, 31), cost=Decimal("0.55"))
    stock.receive(store, admin, "MILK-1L", Decimal(6), to="WH1-A-02", lot="L-8", cost=Decimal("0.6"))
    stock.receive(store, admin, "DRILL-18V", Decimal(2), to="WH1-A-01", serials=("SN-1", "SN-2"), cost=Decimal("90"))


def catalogue_and_stock(store) -> dict:
    with store.read() as session:
        product_columns = [c for c in Product.__table__.c if c.name not in ("id", "created_at", "updated_at", "default_location_id")]
        return {
            "products": sorted(tuple(r) for r in session.execute(
                select(*product_columns, Location.code).outerjoin(Location, Location.id == Product.default_location_id))),
            "barcodes": sorted(tuple(r) for r in session.execute(
                select(Product.sku, Barcode.code, Barcode.pack_qty).join(Product, Product.id == Barcode.product_id))),
            "items": sorted(tuple(r) for r in session.execute(
                select(Product.sku, Supplier.name, SupplierItem.supplier_sku, SupplierItem.cost)
                .join(Product, Product.id == SupplierItem.product_id).join(Supplier, Supplier.id == SupplierItem.supplier_id))),
            "suppliers": sorted(tuple(r) for r in session.execute(
                select(Supplier.name, Supplier.code, Supplier.email, Supplier.phone, Supplier.lead_time_days, Supplier.active))),
            "locations": sorted(tuple(r) for r in session.execute(
                select(Location.code, Location.name, Location.kind, Location.barcode, Location.active, Warehouse.code)
                .outerjoin(Warehouse, Warehouse.id == Location.warehouse_id))),
            "balances": sorted(tuple(r) for r in session.execute(
                select(Product.sku, Location.code, Lot.code, Lot.expiry, Balance.on_hand)
                .join(Product, Product.id == Balance.product_id).join(Location, Location.id == Balance.location_id)
                .outerjoin(Lot, Lot.id == Balance.lot_id).where(Balance.on_hand > 0))),
            "serials": sorted(tuple(r) for r in session.execute(
                select(SerialNumber.serial, Location.code).join(Location, Location.id == SerialNumber.location_id))),
        }


def test_export_then_import_into_an_empty_store_gives_the_same_catalogue_and_stock(store, empty_store, admin, tmp_path):
    build_catalogue(store, admin)
    files = {}
    for kind in KINDS_IN_ORDER:
        files[kind] = tmp_path / f"{kind}.csv"
        assert export(store, admin, kind, files[kind]).rows > 0
    for kind in KINDS_IN_ORDER:
        report = run_import(empty_store, admin, kind, files[kind])
        assert report.committed, report.render()
    original, copy = catalogue_and_stock(store), catalogue_and_stock(empty_store)
    for part in original:
        assert copy[part] == original[part], part
    for kind in KINDS_IN_ORDER:  # and the copy exports byte for byte the same files
        again = tmp_path / f"{kind}.again.csv"
        export(empty_store, admin, kind, again)
        assert again.read_bytes() == files[kind].read_bytes(), kind
    assert run_check(empty_store).clean
    for kind in KINDS_IN_ORDER:  # importing the same files again changes nothing
        report = run_import(empty_store, admin, kind, files[kind], dry_run=True)
        assert report.ok and report.unchanged == report.total, (kind, report.render())
