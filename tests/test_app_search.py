"""Paged product search on both backends: stages, keyset paging, no duplicates, permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ims_tui.services.errors import BadInput
from ims_tui.services.search import search_products
from tests.app_helpers import EAN, actor, stock_the_store
from tests.conftest import make_product


def all_pages(store, text, limit):
    page = search_products(store, actor("picker"), text, limit=limit)
    hits, pages = list(page.hits), 1
    while page.has_more:
        page = search_products(store, actor("picker"), text, page.next_cursor, limit)
        hits += page.hits
        pages += 1
    return hits, pages


def test_exact_codes_come_first_then_prefixes_then_contains(store):
    stock_the_store(store)
    make_product(store, "M6-KIT", name="Assorted kit")
    hits, _ = all_pages(store, "m6", 50)
    assert [(h.sku, h.matched_by) for h in hits] == [("M6-KIT", "sku"), ("HEX-M6", "contains"), ("NUT-M6", "contains")]
    hits, _ = all_pages(store, EAN, 50)
    assert [(h.sku, h.matched_by) for h in hits] == [("HEX-M6", "code")]
    hits, _ = all_pages(store, "0" + EAN, 50)
    assert [h.sku for h in hits] == ["HEX-M6"], "a GTIN-14 spelling of the EAN finds it"
    hits, _ = all_pages(store, "nf-990", 50)
    assert [(h.sku, h.matched_by, h.matched_code) for h in hits] == [("HEX-M6", "supplier_sku", "NF-99017")]
    hits, _ = all_pages(store, "spring", 50)
    assert [(h.sku, h.matched_by, h.on_hand) for h in hits] == [("WATER-05", "name", Decimal(24))]


def test_paging_walks_every_match_once_in_order(store):
    for number in range(23):
        make_product(store, f"BOX-{number:03d}", name=f"Box {number}")
    make_product(store, "ZED", name="Shoe box")  # contains 'box', not a prefix
    hits, pages = all_pages(store, "box", 5)
    skus = [h.sku for h in hits]
    assert skus == [f"BOX-{n:03d}" for n in range(23)] + ["ZED"]
    assert pages >= 5
    everything, _ = all_pages(store, "", 7)
    assert [h.sku for h in everything] == sorted(h.sku for h in everything)
    assert len(everything) == 24


def test_like_wildcards_are_searched_literally(store):
    make_product(store, "P1", name="Tape 100% cotton")
    make_product(store, "P2", name="Tape 100 cotton")
    hits, _ = all_pages(store, "100%", 50)
    assert [h.sku for h in hits] == ["P1"]


def test_a_cursor_belongs_to_its_search_and_the_page_size_is_bounded(store):
    stock_the_store(store)
    page = search_products(store, actor("picker"), "", limit=1)
    with pytest.raises(BadInput):
        search_products(store, actor("picker"), "hex", page.next_cursor, 1)
    with pytest.raises(BadInput):
        search_products(store, actor("picker"), "hex", limit=100_000)
