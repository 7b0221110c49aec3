"""Issue 16 item 6 and the text parts of item 11: plain text only, the same length limits on
both backends, and text already stored shown escaped on the CLI and on screen."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select, text

from ims_tui.db.engine import Store
from ims_tui.db.models import AuditEntry, Movement, Product
from tests.conftest import make_locations, make_product, open_store
from tests.conftest import run_cli as ims

TITLE = "\x1b]0;PWNED\x07"  # sets the terminal's title
CSI = "\x9b31m"  # a C1 control sequence introducer


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    make_product(store, "WIDGET")
    make_product(store, "BATCHED", tracking="lot")
    make_product(store, "SERIAL", tracking="serial")
    make_locations(store, "BIN-1")
    store.dispose()
    return store_url


def _movements(url: str) -> int:
    store = Store(url)
    try:
        with store.read() as session:
            return len(session.scalars(select(Movement.id)).all())
    finally:
        store.dispose()


@pytest.mark.parametrize(("argv", "field"), [
    (["stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--ref", TITLE], "reference"),
    (["stock", "receive", "BATCHED", "1", "--to", "BIN-1", "--lot", "L1" + CSI], "lot"),
    (["stock", "receive", "SERIAL", "1", "--to", "BIN-1", "--serial", "S\x001"], "serial"),
    (["stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--key", "k\x07"], "key"),
    (["stock", "adjust", "WIDGET", "--at", "BIN-1", "--by", "1", "--reason", "count\x1b[2J"], "reason"),
])
def test_control_characters_are_refused_at_entry(capsys, url, argv, field):
    code, out, err = ims(capsys, url, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {field} contains a control character (U+")
    assert err.endswith("): type plain text\n") and err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err and "\x9b" not in err
    assert _movements(url) == 0


def test_control_characters_in_a_station_name_are_refused(capsys, url):
    code, _, err = ims(capsys, url, "--station", "dock" + TITLE, "stock", "receive", "WIDGET", "1", "--to", "BIN-1")
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--key", "k" * 201], "key is too long: 201 characters, at most 200"),
    (["stock", "receive", "BATCHED", "1", "--to", "BIN-1", "--lot", "L" * 81], "lot is too long: 81 characters, at most 80"),
    (["stock", "receive", "SERIAL", "1", "--to", "BIN-1", "--serial", "S" * 121], "serial is too long: 121 characters, at most 120"),
    (["stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--ref", "r" * 201], "reference is too long: 201 characters, at most 200"),
    (["--station", "s" * 121, "stock", "receive", "WIDGET", "1", "--to", "BIN-1"], "a station name is plain text of at most 120 characters"),
])
def test_over_long_text_is_refused_the_same_on_both_backends(capsys, url, argv, message):
    code, out, err = ims(capsys, url, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert _movements(url) == 0


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_import_with_a_nul_byte_or_escape_is_refused_row_by_row(capsys, url, tmp_path, dry_run):
    path = tmp_path / "p.csv"
    path.write_bytes(b"sku,name\nGOOD,Fine\nNUL\x00SKU,Nul\nESC,Bad \x1b]0;X\x07 name\n")
    code, out, err = ims(capsys, url, "import", "products", str(path), *(["--dry-run"] if dry_run else []))
    assert code == 2
    assert "row 3, column sku, value 'NUL\\x00SKU': contains a control character (U+0000): type plain text" in out
    assert "row 4, column name" in out and "contains a control character (U+001B)" in out
    assert "\x00" not in out and "\x1b" not in out
    store = Store(url)
    try:
        with store.read() as session:
            assert session.scalars(select(Product.sku).where(Product.sku.in_(["GOOD", "ESC"]))).all() == []
    finally:
        store.dispose()


def _store_raw(url: str) -> None:
    """Text that got in before the checks (or through another program)."""
    store = Store(url)
    try:
        with store.write() as session:
            session.execute(text("UPDATE products SET name = :name, description = :d WHERE sku = 'WIDGET'"),
                            {"name": "Widget" + TITLE, "d": "two\nlines" + CSI})
            session.execute(insert(AuditEntry).values(
                at=dt.datetime.now(dt.timezone.utc), username="rita", role="receiver", station="dock-1",
                action="stock.receive", target="REF" + TITLE, summary="1 WIDGET" + TITLE, outcome="ok"))
    finally:
        store.dispose()


def test_stored_control_characters_are_shown_escaped_on_the_cli(capsys, url):
    _store_raw(url)
    code, out, _ = ims(capsys, url, "product", "show", "WIDGET")
    assert code == 0
    assert "Widget\\x1b]0;PWNED\\x07" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    code, out, _ = ims(capsys, url, "--json", "product", "show", "WIDGET")
    assert "\\u001b]0;PWNED\\u0007" in out and "\x1b" not in out


async def test_stored_control_characters_are_shown_escaped_on_screen(sqlite_url):
    from tests.app_helpers import make_app, settle, sign_in

    store = open_store(sqlite_url)
    make_product(store, "WIDGET")
    _store_raw(sqlite_url)
    app = make_app(store)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, "auditor")
            await pilot.press("f12")
            await settle(pilot)
            update = app.screen._compositor.render_update(full=True)
            sent = update.render_segments(app.console)
    finally:
        store.dispose()
    assert "REF\\x1b]0;PWNED\\x07" in sent
    assert "\x1b]0;" not in sent and "\x07" not in sent
