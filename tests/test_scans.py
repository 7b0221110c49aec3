"""Resolving scans against the store: the one path every screen and the CLI use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ims_tui.services import catalogue
from ims_tui.services.scans import resolve_scan
from tests.conftest import make_locations, make_product

GS = "\x1d"


@pytest.fixture
def shop(store):
    make_product(store, "WATER", tracking="lot", barcodes=(("5012345678900", 1), ("15012345678907", 12)))
    make_locations(store, "WH1-A-01-1")
    return store


@pytest.mark.parametrize(
    ("scan", "sku", "pack"),
    [
        ("WATER", "WATER", 1),
        ("5012345678900", "WATER", 1),
        ("15012345678907", "WATER", 12),
        ("]E05012345678900", "WATER", 1),
        ("https://id.gs1.org/01/05012345678900", "WATER", 1),
    ],
)
def test_product_codes_resolve_with_their_pack_quantity(shop, scan, sku, pack):
    result = resolve_scan(shop, scan)
    assert (result.kind, result.sku, result.pack_qty) == ("product", sku, Decimal(pack))


def test_a_gs1_label_fills_in_lot_expiry_and_count(shop):
    result = resolve_scan(shop, f"]C10115012345678907" f"10LOT-7{GS}" "17271231" "3024")
    assert (result.sku, result.pack_qty, result.lot, result.expiry, result.quantity) == (
        "WATER", Decimal(12), "LOT-7", dt.date(2027, 12, 31), Decimal(24),
    )


def test_location_and_unknown_codes(shop):
    assert resolve_scan(shop, "WH1-A-01-1\r").location_code == "WH1-A-01-1"
    unknown = resolve_scan(shop, "ZZZ-404")
    assert (unknown.kind, unknown.message) == ("unknown", "unknown code: ZZZ-404")


def test_a_gtin_with_a_bad_check_digit_is_unknown_and_says_why(shop):
    result = resolve_scan(shop, "5012345678901")
    assert result.kind == "unknown"
    assert result.message.startswith("unknown code: 5012345678901 (") and "check digit" in result.message


def test_a_valid_gtin_nobody_has_is_named(shop):
    result = resolve_scan(shop, "4006381333931")
    assert result.message == "unknown code: 4006381333931 (no product has GTIN 04006381333931)"


def test_barcodes_with_bad_check_digits_are_refused_by_the_catalogue(shop, admin):
    with shop.write() as session:
        product = catalogue.save_product(session, admin, "NEW", {"name": "New thing"}, create=True)
        session.flush()
        with pytest.raises(catalogue.BadInput, match="barcode 5012345678901: Invalid GTIN check digit"):
            catalogue.set_barcode(session, admin, product, "5012345678901")
