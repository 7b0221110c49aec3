"""A purchase order's number prints as Code 128, and what prints scans back to the PO."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ims_tui.services import catalogue
from ims_tui.services.errors import NotFound
from ims_tui.services.labels import label_for_po, render
from ims_tui.services.purchasing import LineInput, create_po
from ims_tui.services.scans import resolve_scan
from tests.conftest import make_product


def test_po_label_carries_the_number_that_receiving_scans(store, admin):
    make_product(store, "BOLT")
    with store.write() as session:
        catalogue.save_supplier(session, admin, "Nordic Fasteners", {"code": "NORD"})
    po = create_po(store, admin, "Nordic Fasteners", [LineInput("BOLT", Decimal(5))])
    zpl = render([label_for_po(store, admin, po.number.lower())])
    assert f"^BCN,100,Y,N,N^FD{po.number}^FS" in zpl
    assert f"^FD{po.number} Nordic Fasteners^FS" in zpl
    assert resolve_scan(store, po.number).po_number == po.number


def test_unknown_po_is_named(store, admin):
    with pytest.raises(NotFound, match="unknown purchase order 'PO-404'"):
        label_for_po(store, admin, "PO-404")
