"""A store with reorder settings and open alerts, for the replenishment screens' tests."""

from __future__ import annotations

from decimal import Decimal

from ims_tui.db.engine import Store
from ims_tui.services import catalogue, purchasing, replenishment
from ims_tui.services.actor import Actor
from tests.app_helpers import stock_the_store
from tests.conftest import make_product

SETUP = Actor("setup", "admin", "test")


def alert_store(store: Store) -> None:
    """``stock_the_store`` plus two suppliers and three products in alert in WH1:

    - HEX-M6 (40 on hand, Nordic Fasteners, MOQ 50, packs of 25): reorder point 60, order 30
      -> suggested max(30, 60 - 40) = 30, at least 50 = 50 (two packs);
    - NUT-M6 (100 on hand, Nordic Fasteners, packs of 10): reorder point 150, order 80 -> 80;
    - TAPE-48 (none on hand, Acme Tapes, packs of 6): reorder point 12, maximum 40 -> 40 - 0 = 40,
      in packs of 6 = 42.
    """
    stock_the_store(store)
    make_product(store, "TAPE-48", name="Packing tape 48 mm", cost="1.10", uom="roll")
    with store.write() as session:
        nordic = purchasing.find_supplier(session, "NORD")
        acme = catalogue.save_supplier(session, SETUP, "Acme Tapes", {"code": "ACME", "lead_time_days": 3})
        for sku, supplier, cost, moq, pack in (("HEX-M6", nordic, "0.21", 50, 25), ("NUT-M6", nordic, "0.06", 1, 10),
                                               ("TAPE-48", acme, "0.95", 1, 6)):
            product = catalogue.resolve_product(session, sku)
            catalogue.set_supplier_item(session, SETUP, product, supplier, f"S-{sku}", cost=Decimal(cost),
                                        lead_time_days=5, min_order_qty=Decimal(moq), pack_qty=Decimal(pack))
    replenishment.set_reorder_settings(store, SETUP, "HEX-M6", reorder_point="60", reorder_qty="30", supplier="NORD")
    replenishment.set_reorder_settings(store, SETUP, "NUT-M6", reorder_point="150", reorder_qty="80", supplier="NORD")
    replenishment.set_reorder_settings(store, SETUP, "TAPE-48", reorder_point="12", max_qty="40", supplier="ACME")
