"""The CLI contract: exit codes and one-line errors for bad input, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from ims_tui.cli.main import main
from ims_tui.db import schema
from ims_tui.db.engine import Store
from tests.conftest import make_locations, make_product, open_store


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def url(sqlite_url):
    store = open_store(sqlite_url)
    make_product(store, "WIDGET", barcodes=(("5012345678900", 1), ("15012345678907", 12)))
    make_locations(store, "BIN-1", "BIN-2")
    store.dispose()
    return sqlite_url


def test_a_store_without_schema_is_exit_4_naming_the_fix(capsys, sqlite_url):
    Store(sqlite_url).dispose()  # an empty store file (a missing one is "no store at ...")
    code, _, err = run(capsys, "--db", sqlite_url, "stock", "show", "X")
    assert code == 4
    assert err == f"error: store {sqlite_url} has no schema yet; run 'ims db upgrade'\n"


def test_db_upgrade_is_idempotent(capsys, sqlite_url):
    head = schema.head_revision()
    assert run(capsys, "--db", sqlite_url, "db", "upgrade")[1] == f"schema upgraded empty -> {head}\n"
    assert run(capsys, "--db", sqlite_url, "db", "upgrade")[1] == f"schema already at {head}\n"


def test_a_store_from_a_newer_program_is_refused(capsys, url):
    store = Store(url)
    with store.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    store.dispose()
    code, _, err = run(capsys, "--db", url, "stock", "show", "WIDGET")
    assert code == 4 and "newer than this program knows; upgrade ims-tui" in err
    assert run(capsys, "--db", url, "db", "upgrade")[0] == 4


def test_unreachable_store_is_exit_4_with_password_hidden(capsys):
    code, _, err = run(capsys, "--db", "postgresql+psycopg://ims:secret@127.0.0.1:1/nowhere", "stock", "show", "X")
    assert code == 4
    assert err.startswith("error: cannot use store postgresql+psycopg://ims:***@127.0.0.1:1/nowhere: ")
    assert "secret" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["stock", "receive", "NOPE", "1", "--to", "BIN-1"], 2, "error: unknown product 'NOPE'\n"),
        (["stock", "receive", "WIDGET", "1", "--to", "NOWHERE"], 2, "error: unknown location 'NOWHERE'\n"),
        (["stock", "receive", "WIDGET", "lots", "--to", "BIN-1"], 2, "error: argument qty: not a number: 'lots'"),
        (["stock", "receive", "WIDGET", "1", "--to", "BIN-1", "--expiry", "31/12/2027"], 2, "not a date (YYYY-MM-DD)"),
        (["stock", "receive", "WIDGET", "0", "--to", "BIN-1"], 2, "error: quantity must be more than zero, not 0\n"),
        (["stock", "issue", "WIDGET", "5", "--from", "BIN-1"], 1, "error: not enough stock: WIDGET at BIN-1 has 0 available, need 5\n"),
        (["stock", "adjust", "WIDGET", "--at", "BIN-1", "--set", "3"], 2, "the following arguments are required: --reason"),
        (["stock", "frobnicate"], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_code(capsys, url, argv, code, message):
    got, out, err = run(capsys, "--db", url, *argv)
    assert got == code
    assert message in err
    assert err.count("\n") == 1 and out == ""


def test_receive_by_case_barcode_then_show_and_repeat_with_key(capsys, url):
    assert run(capsys, "--db", url, "stock", "receive", "15012345678907", "24", "--to", "BIN-1", "--key", "k1")[0] == 0
    code, out, _ = run(capsys, "--db", url, "stock", "receive", "WIDGET", "24", "--to", "BIN-1", "--key", "k1")
    assert code == 0 and out == "already posted (key k1): nothing changed\n"
    code, out, _ = run(capsys, "--db", url, "--json", "stock", "show", "5012345678900")
    data = json.loads(out)
    assert (data["sku"], data["on_hand"], data["locations"][0]["location"]) == ("WIDGET", "24", "BIN-1")
    code, out, _ = run(capsys, "--db", url, "stock", "show", "00005012345678900", "--json")
    assert code == 2  # a 17-digit code is no GTIN spelling


def test_check_lists_violations_with_exit_1(capsys, url):
    assert run(capsys, "--db", url, "stock", "receive", "WIDGET", "5", "--to", "BIN-1")[0] == 0
    assert run(capsys, "--db", url, "check")[0] == 0
    store = Store(url)
    with store.write() as session:
        session.execute(text("UPDATE balances SET on_hand = 0"))
    store.dispose()
    code, out, _ = run(capsys, "--db", url, "check", "--json")
    data = json.loads(out)
    assert code == 1 and not data["clean"]
    assert data["violations"] == [
        "balance mismatch: WIDGET at BIN-1: balance 0, movements sum to 5",
        "valuation out of step: WIDGET has 0 on hand, cost layers hold 5",
    ]


def test_demo_loads_a_checkable_store_and_refuses_to_overwrite(capsys, sqlite_url):
    code, out, _ = run(capsys, "--db", sqlite_url, "demo")
    assert code == 0 and "products" in out and "receiver" in out
    assert run(capsys, "--db", sqlite_url, "check")[0] == 0
    code, _, err = run(capsys, "--db", sqlite_url, "demo")
    assert code == 1 and "use 'ims demo --reset'" in err
    assert run(capsys, "--db", sqlite_url, "demo", "--if-empty")[0] == 0


def test_the_console_entry_point_runs(sqlite_url):
    result = subprocess.run(
        [sys.executable, "-m", "ims_tui", "--db", sqlite_url, "info"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "schema:  - (no store at this path; 'ims db upgrade' creates one)" in result.stdout
