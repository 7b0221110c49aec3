"""Shared set-up for the sales, picking and reservation tests (through the services)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from ims_tui.db.engine import Store
from ims_tui.db.models import Location
from ims_tui.services import sales
from ims_tui.services.actor import Actor
from ims_tui.services.sales import SOLineInput
from tests.conftest import make_locations

ADMIN = Actor("tester", "admin", "test-station")
PACKING = "PACK"
QUARANTINE = "QUAR"
BINS = ("A-01-1", "A-02-1", "B-01-1", "B-02-1")


def set_usage(store: Store, code: str, usage: str) -> None:
    with store.write() as session:
        session.execute(update(Location).where(Location.code == code).values(usage=usage))


def warehouse(store: Store) -> None:
    """Four bins in two aisles, a packing and a quarantine location."""
    make_locations(store, *BINS, PACKING, QUARANTINE)
    set_usage(store, PACKING, "packing")
    set_usage(store, QUARANTINE, "quarantine")


def order(store: Store, customer: str, *lines: tuple[str, int], policy: str = "as-available", confirm: bool = True,
          min_shelf_days: int = 0) -> str:
    """A new order for ``customer`` (created if needed) with ``(sku, qty)`` lines; confirmed."""
    if customer not in {c.name for c in sales.list_customers(store, ADMIN)}:
        sales.add_customer(store, ADMIN, customer, min_shelf_days=min_shelf_days)
    view = sales.create_so(store, ADMIN, customer, [SOLineInput(sku, Decimal(qty)) for sku, qty in lines], policy=policy)
    if confirm:
        sales.confirm_so(store, ADMIN, view.number)
    return view.number
