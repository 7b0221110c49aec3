"""Helpers for the sales benchmarks: bulk-made stores, customers and draft orders.

Bulk inserts straight into the tables (no ledger, no audit): these build the scenery a
benchmark measures against, quickly; they are not how a store is ever changed in use.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import insert, select


from ims_tui.db.engine import Store
from ims_tui.db.models import Balance, Customer, Location, Product, SalesOrder, SalesOrderLine, Warehouse

CHUNK = 20_000


def bulk_locations(store: Store, aisles: str, bays: int, levels: int, warehouse: str = "WH1") -> list[int]:
    """Bins ``WH-A-01-1`` ... and a packing location; returns the bins' ids."""
    with store.write() as session:
        wh_id = session.execute(insert(Warehouse).values(code=warehouse, name=warehouse).returning(Warehouse.id)).scalar_one()
        rows = [{"code": f"{warehouse}-{a}-{b:02d}-{lv}", "name": "", "kind": "internal", "warehouse_id": wh_id,
                 "active": True, "usage": "stock"}
                for a in aisles for b in range(1, bays + 1) for lv in range(1, levels + 1)]
        rows.append({"code": f"{warehouse}-PACK", "name": "packing", "kind": "internal", "warehouse_id": wh_id,
                     "active": True, "usage": "packing"})
        session.execute(insert(Location), rows)
        return list(session.scalars(select(Location.id).where(Location.usage == "stock", Location.warehouse_id == wh_id)
                                    .order_by(Location.id)))


def bulk_products(store: Store, count: int, bins: Sequence[int], on_hand: Decimal, prefix: str = "BP") -> None:
    """``count`` plain products ``BP0000001`` ..., each with ``on_hand`` in one bin (round robin)."""
    now = dt.datetime.now(dt.timezone.utc)
    for start in range(0, count, CHUNK):
        with store.write() as session:
            first = session.scalar(select(Product.id).order_by(Product.id.desc()).limit(1)) or 0
            session.execute(insert(Product), [
                {"sku": f"{prefix}{n:07d}", "name": f"Bulk product {n}", "description": "", "category": "bulk", "uom": "ea",
                 "unit_price": Decimal(2), "standard_cost": Decimal(1), "average_cost": Decimal(1), "tracking": "none",
                 "reorder_point": Decimal(0), "reorder_qty": Decimal(0), "active": True, "created_at": now, "updated_at": now}
                for n in range(start, min(start + CHUNK, count))
            ])
            session.execute(insert(Balance), [
                {"product_id": first + 1 + i, "location_id": bins[(start + i) % len(bins)], "lot_key": 0, "lot_id": None,
                 "on_hand": on_hand, "reserved": Decimal(0), "received_at": now}
                for i in range(min(CHUNK, count - start))
            ])


def bulk_draft_orders(store: Store, lines_of: Sequence[Sequence[tuple[int, Decimal]]], customer: str = "Bench customer",
                      prefix: str = "SO-B") -> list[str]:
    """Draft orders with the given (product id, qty) lines; returns their numbers."""
    with store.write() as session:
        customer_id = session.scalar(select(Customer.id).where(Customer.name == customer))
        if customer_id is None:
            customer_id = session.execute(insert(Customer).values(code=uuid.uuid4().hex[:12].upper(), name=customer, active=True,
                                                                   min_shelf_days=0).returning(Customer.id)).scalar_one()
        numbers = [f"{prefix}{uuid.uuid4().hex[:10].upper()}" for _ in lines_of]
        ids = [session.execute(insert(SalesOrder).values(
            number=number, customer_id=customer_id, status="draft", policy="as-available", hold_reason="", note="",
            created_by="bench").returning(SalesOrder.id)).scalar_one() for number in numbers]
        session.execute(insert(SalesOrderLine), [
            {"order_id": order_id, "line_no": no, "product_id": product_id, "qty_ordered": qty, "qty_reserved": Decimal(0),
             "qty_shipped": Decimal(0), "qty_waiting": Decimal(0), "qty_picked": Decimal(0), "qty_returned": Decimal(0),
             "unit_price": Decimal(2)}
            for order_id, lines in zip(ids, lines_of, strict=True) for no, (product_id, qty) in enumerate(lines, start=1)
        ])
    return numbers
