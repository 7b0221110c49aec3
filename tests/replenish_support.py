"""Setting up products with suppliers and reorder settings for the replenishment tests."""

from __future__ import annotations

from decimal import Decimal

from ims_tui.db.engine import Store
from ims_tui.services import catalogue, replenishment
from ims_tui.services.actor import Actor
from tests.conftest import make_locations, make_product

SETUP = Actor("setup", "admin", "test")
SUPPLIERS = {"Acme": 5, "Bolt": 10}
"""Suppliers and their lead times in days."""


def make_suppliers(store: Store) -> None:
    with store.write() as session:
        for name, lead in SUPPLIERS.items():
            catalogue.save_supplier(session, SETUP, name, {"lead_time_days": lead})


def make_item(
    store: Store,
    sku: str,
    supplier: str,
    *,
    reorder_point: int,
    reorder_qty: int = 0,
    max_qty: int = 0,
    moq: int = 1,
    pack: int = 1,
    lead: int | None = None,
    cost: str = "2.50",
    location: str = "A-01",
) -> None:
    """A product in ``location`` bought from ``supplier`` (MOQ, pack multiple, lead time) with its
    reorder settings in its home warehouse."""
    make_product(store, sku, cost=cost, default_location=location)
    with store.write() as session:
        product = catalogue.resolve_product(session, sku)
        vendor = catalogue.save_supplier(session, SETUP, supplier, {})
        catalogue.set_supplier_item(session, SETUP, product, vendor, f"{supplier[:2].upper()}-{sku}", cost=Decimal(cost),
                                    lead_time_days=lead, min_order_qty=Decimal(moq), pack_qty=Decimal(pack))
    replenishment.set_reorder_settings(store, SETUP, sku, reorder_point=reorder_point, reorder_qty=reorder_qty,
                                       max_qty=max_qty, supplier=supplier)


def make_store(store: Store) -> None:
    make_locations(store, "A-01", "A-02")
    make_suppliers(store)
