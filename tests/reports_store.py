"""A small fixed store whose report figures are computed by hand in the tests.

Three products run the same textbook sequence, each under another valuation method (the method is
changed between them, so this also shows a change applying to later postings only):

    day 1  receive 10 @ 10.00          day 5  customer returns 2 (at 11.00)
    day 2  receive 10 @ 12.00          day 6  count loss of 1
    day 3  ship 16                     day 7  ship 8
    day 4  receive 12 @ 14.00

and a lot-tracked product is received on a PO, split across two bins in two warehouses and shipped
to three customers on three sales orders, plus a walk-in sale (the recall case); a fifth product
is out of stock for two days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ims_tui.db.engine import Store
from ims_tui.db.models import Customer, PurchaseOrder, PurchaseOrderLine, SalesOrder, Supplier
from ims_tui.services import catalogue, ledger, settings
from ims_tui.services.actor import Actor
from ims_tui.services.ledger import StockMove

ADMIN = Actor("tester", "admin", "test")
D = {n: dt.datetime(2026, 1, 4 + n, 9, 0, tzinfo=dt.timezone.utc) for n in range(1, 12)}  # day 1 = 2026-01-05
TODAY = dt.date(2026, 2, 1)
PERIOD = (dt.date(2026, 1, 5), dt.date(2026, 1, 11))  # day 1 .. day 7
LOT_EXPIRY = dt.date(2026, 2, 20)


def _post(store: Store, kind: str, move: StockMove, day: int, reference: str = "") -> None:
    store.transact(lambda session: ledger.post(session, ADMIN, kind, [move], key=ledger.new_key(), at=D[day],
                                               reference=reference))


def textbook(store: Store, sku: str, bin_: str = "B1") -> None:
    _post(store, "receive", StockMove(sku, Decimal(10), "SUPPLIER", bin_, unit_cost=Decimal(10)), 1)
    _post(store, "receive", StockMove(sku, Decimal(10), "SUPPLIER", bin_, unit_cost=Decimal(12)), 2)
    _post(store, "issue", StockMove(sku, Decimal(16), bin_, "CUSTOMER"), 3)
    _post(store, "receive", StockMove(sku, Decimal(12), "SUPPLIER", bin_, unit_cost=Decimal(14)), 4)
    _post(store, "return", StockMove(sku, Decimal(2), "CUSTOMER", bin_, unit_cost=Decimal(11)), 5)
    _post(store, "adjust", StockMove(sku, Decimal(1), bin_, "ADJUSTMENT"), 6)
    _post(store, "issue", StockMove(sku, Decimal(8), bin_, "CUSTOMER"), 7)


def build(store: Store) -> None:
    with store.write() as session:
        catalogue.save_location(session, ADMIN, "B1", warehouse="WH1")
        catalogue.save_location(session, ADMIN, "B2", warehouse="WH1")
        catalogue.save_location(session, ADMIN, "C1", warehouse="WH2")
        for sku, category in (("FIFO-1", "Tools"), ("LIFO-1", "Tools"), ("AVG-1", "Parts")):
            catalogue.save_product(session, ADMIN, sku, {"name": f"Textbook {sku}", "category": category,
                                                         "unit_price": Decimal(20)}, create=True)
        catalogue.save_product(session, ADMIN, "OUT-1", {"name": "Often out", "category": "Parts",
                                                        "unit_price": Decimal(4)}, create=True)
        catalogue.save_product(session, ADMIN, "LOT-1", {"name": "Recalled soup", "category": "Food", "tracking": "lot",
                                                        "unit_price": Decimal(8)}, create=True)
        supplier = Supplier(code="SOUP", name="Soup Supplier Ltd", lead_time_days=5)
        session.add(supplier)
        customers = [Customer(code=f"C{n}", name=name) for n, name in enumerate(("Alpha Cafe", "Beta Bistro", "Gamma Deli"), 1)]
        session.add_all(customers)
        session.flush()
        for n, customer in enumerate(customers, 1):
            session.add(SalesOrder(number=f"SO-00000{n}", customer_id=customer.id, status="shipped", created_by="t"))
        product_id = catalogue.find_product(session, "LOT-1").product.id
        order = PurchaseOrder(number="PO-000001", supplier_id=supplier.id, status="received", created_by="t",
                              ordered_at=dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.timezone.utc),
                              expected_date=dt.date(2026, 1, 5))
        order.lines.append(PurchaseOrderLine(line_no=1, product_id=product_id, qty_ordered=Decimal(40),
                                             qty_received=Decimal(30), unit_cost=Decimal(5)))
        session.add(order)
    for sku, method in (("FIFO-1", "fifo"), ("LIFO-1", "lifo"), ("AVG-1", "average")):
        settings.set_valuation_method(store, ADMIN, method)
        textbook(store, sku)
    settings.set_valuation_method(store, ADMIN, "fifo")
    # the recall case: lot L-A received on PO-000001 line 1 two days late, split across bins, shipped to three customers
    _post(store, "receive", StockMove("LOT-1", Decimal(30), "SUPPLIER", "B1", "L-A", LOT_EXPIRY, unit_cost=Decimal(5),
                                      reference="PO-000001/1"), 2, reference="PO-000001")
    _post(store, "move", StockMove("LOT-1", Decimal(10), "B1", "C1", "L-A"), 3)
    _post(store, "issue", StockMove("LOT-1", Decimal(5), "B1", "CUSTOMER", "L-A", reference="SO-000001/1"), 4)
    _post(store, "issue", StockMove("LOT-1", Decimal(4), "C1", "CUSTOMER", "L-A"), 5, reference="SO-000002")
    _post(store, "issue", StockMove("LOT-1", Decimal(15), "B1", "CUSTOMER", "L-A", reference="SO-000003"), 6)
    _post(store, "issue", StockMove("LOT-1", Decimal(4), "C1", "CUSTOMER", "L-A", reference="walk-in"), 7)
    # a product out of stock from the end of day 3 to day 5: two stock-out days
    _post(store, "receive", StockMove("OUT-1", Decimal(5), "SUPPLIER", "B2", unit_cost=Decimal(3)), 1)
    _post(store, "issue", StockMove("OUT-1", Decimal(5), "B2", "CUSTOMER"), 3)
    _post(store, "receive", StockMove("OUT-1", Decimal(5), "SUPPLIER", "B2", unit_cost=Decimal(3)), 5)
    # after the period: a receipt that as-of valuations of the period must not see
    _post(store, "receive", StockMove("FIFO-1", Decimal(5), "SUPPLIER", "B2", unit_cost=Decimal(20)), 11)
