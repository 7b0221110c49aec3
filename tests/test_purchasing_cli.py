"""``ims po ...``: the CLI receives the same way the receiving screen does (same service path)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ims_tui.cli.main import main
from ims_tui.db.models import Movement, Posting
from ims_tui.services import purchasing
from ims_tui.services.integrity import run_check
from ims_tui.services.inventory import product_detail
from tests.conftest import open_store
from tests.test_purchasing_service import MANAGER, setup_catalogue

D = Decimal


def run(capsys, url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", url, *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def url(store_url):
    store = open_store(store_url)
    setup_catalogue(store)
    store.dispose()
    return store_url


def test_create_order_receive_show_list_on_the_command_line(capsys, url):
    code, out, _ = run(capsys, url, "po", "create", "--supplier", "Acme Supplies", "--line", "PLAIN:24",
                       "--line", "MILK:10:0.70", "--line", "DRILL:2")
    assert code == 0
    number = out.strip()
    assert number.startswith("PO-")
    assert run(capsys, url, "po", "receive", number, "PLAIN", "1", "--to", "A-01")[2] == (
        f"error: {number} is still a draft: a manager must order it before it is received\n")
    assert run(capsys, url, "po", "order", number)[0] == 0

    # a case barcode is a product code like any other; the PO cost is what the receipt costs
    code, out, _ = run(capsys, url, "po", "receive", number, "14006381333938", "12", "--to", "A-01", "--key", "k-1")
    assert code == 0 and out.startswith("received 12 in 1 line(s)") and f"{number} is partial, backorder 24" in out
    assert run(capsys, url, "po", "receive", number, "PLAIN", "12", "--to", "A-01", "--key", "k-1")[1].startswith("already posted")
    code, _, _ = run(capsys, url, "po", "receive", number, "MILK", "10", "--to", "A-02", "--lot", "L7", "--expiry", "2027-01-31")
    assert code == 0
    code, _, _ = run(capsys, url, "po", "receive", number, "DRILL", "2", "--to", "A-02", "--serial", "S1", "S2")
    assert code == 0

    code, out, _ = run(capsys, url, "po", "show", number, "--json")
    shown = json.loads(out)
    assert shown["status"] == "partial" and shown["backorder"] == "12"
    assert [(line["sku"], line["qty_received"], line["remaining"]) for line in shown["lines"]] == [
        ("PLAIN", "12", "12"), ("MILK", "10", "0"), ("DRILL", "2", "0")]
    code, out, _ = run(capsys, url, "--json", "po", "list")
    assert [(row["number"], row["status"]) for row in json.loads(out)] == [(number, "partial")]

    store = open_store(url)
    try:
        assert run_check(store).clean
        with store.read() as session:
            assert session.scalar(select(func.count()).select_from(Posting).where(Posting.kind == "receive")) == 3
            assert session.scalar(select(Movement.unit_cost).where(Movement.reference == f"{number}/2")) == D("0.70")
        assert product_detail(store, MANAGER, "MILK").stock[0].lot == "L7"
    finally:
        store.dispose()


def test_over_receipt_is_exit_1_unless_overridden_and_errors_are_one_line(capsys, url):
    store = open_store(url)
    number = purchasing.create_po(store, MANAGER, "Acme Supplies", [purchasing.LineInput("PLAIN", D(5))]).number
    purchasing.order_po(store, MANAGER, number)
    store.dispose()
    code, _, err = run(capsys, url, "po", "receive", number, "PLAIN", "6", "--to", "A-01")
    assert code == 1 and err == f"error: over-receipt: PLAIN has 5 left to receive on {number}, not 6; a manager must approve it\n"
    code, _, err = run(capsys, url, "po", "receive", number, "MILK", "1", "--to", "A-01", "--lot", "L1")
    assert code == 1 and "not on" in err
    assert run(capsys, url, "po", "receive", number, "PLAIN", "x", "--to", "A-01")[0] == 2
    assert run(capsys, url, "po", "receive", number, "NOPE", "1", "--to", "A-01")[2] == "error: unknown product 'NOPE'\n"
    assert run(capsys, url, "po", "receive", "PO-404", "PLAIN", "1", "--to", "A-01")[0] == 2
    code, out, _ = run(capsys, url, "po", "receive", number, "PLAIN", "6", "--to", "A-01", "--override")
    assert code == 0 and f"{number} is received" in out
    code, out, _ = run(capsys, url, "po", "return", "PLAIN", "2", "--from", "A-01", "--reason", "damaged", "--po", number)
    assert code == 0 and "at 1.1000 each" in out and f"{number} is partial" in out
    assert run(capsys, url, "po", "cancel", number)[0] == 1  # goods were received on it


def test_drafts_listed_and_discarded_from_the_cli(capsys, url):
    from ims_tui.services import receiving
    from tests.test_purchasing_service import RECEIVER

    store = open_store(url)
    number = purchasing.create_po(store, MANAGER, "Acme Supplies", [purchasing.LineInput("PLAIN", D(5))]).number
    purchasing.order_po(store, MANAGER, number)
    draft = receiving.start_receipt(store, RECEIVER, po=number)
    store.dispose()
    code, out, _ = run(capsys, url, "--json", "po", "drafts", "--all")
    assert code == 0 and [(row["draft_id"], row["username"]) for row in json.loads(out)] == [(draft.draft_id, "rita")]
    assert run(capsys, url, "po", "discard", str(draft.draft_id))[1] == f"discarded receipt {draft.draft_id}\n"
    assert run(capsys, url, "po", "drafts", "--all")[1] == "no receipts in progress\n"
