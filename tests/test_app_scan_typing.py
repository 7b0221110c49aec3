"""Scan detection that a person typing fast, or before the app is up, is not punished for.

- a burst that resolves to no known code, on a screen with a field in focus, is typing: the
  field gets the text and the Enter (the lookup searches for ``gloves``);
- the timing window is a station setting (``scan_max_gap_ms``).
"""

from __future__ import annotations

from ims_tui.screens.lookup import LookupScreen
from tests.app_helpers import make_app, scan_burst, settle, sign_in, stock_the_store, wait_until

SIZE = (80, 24)


async def test_a_word_typed_as_fast_as_a_scan_becomes_a_search(store):
    stock_the_store(store)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("f2")
        await settle(pilot)
        lookup = app.screen
        assert isinstance(lookup, LookupScreen)
        scan_burst(app, "nyloc")  # no product, bin, PO or badge has this code
        await wait_until(pilot, lambda: lookup.search_text == "nyloc", timeout=3)
        await settle(pilot)
        assert [hit.sku for hit in lookup.results.rows] == ["NUT-M6"]
        assert not any("unknown code" in line for line in app.messages) and app.bells == 0
        scan_burst(app, "4006381333931")  # a real scan still opens what it names
        await wait_until(pilot, lambda: getattr(app.screen, "key", None) == "HEX-M6", timeout=3)
        await settle(pilot)


async def test_the_scan_timing_window_is_a_station_setting(store):
    app = make_app(store, scan_max_gap_ms=80, scan_min_length=6)
    assert app.scan_detector.max_gap == 0.08 and app.scan_detector.min_length == 6
