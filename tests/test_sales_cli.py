"""``ims customer``, ``ims so``, ``ims pick`` and ``ims ship`` end to end, with the exit codes of
the contract; customers and pick sequences through import and export; the walking order."""

from __future__ import annotations

import json
import socket
import threading
from decimal import Decimal

import pytest

from ims_tui.cli.main import main
from ims_tui.services import stock
from ims_tui.services.integrity import run_check
from ims_tui.services.pick_sequence import walking_keys
from tests.conftest import make_product, open_store
from tests.sales_support import ADMIN, warehouse


@pytest.fixture
def cli_store(sqlite_url):
    store = open_store(sqlite_url)
    warehouse(store)
    make_product(store, "PLAIN")
    make_product(store, "LOTTY", tracking="lot")
    stock.receive(store, ADMIN, "PLAIN", Decimal(6), to="A-01-1")
    stock.receive(store, ADMIN, "PLAIN", Decimal(6), to="B-02-1")
    yield store, sqlite_url
    store.dispose()


def ims(url: str, *args: str, capsys) -> tuple[int, str, str]:
    code = main(["--db", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_order_to_shipment_from_the_command_line(cli_store, capsys, tmp_path):
    store, url = cli_store
    assert ims(url, "customer", "add", "Corner Shop", "--min-shelf-days", "14", capsys=capsys)[0] == 0
    code, out, _ = ims(url, "so", "create", "--customer", "Corner Shop", "--line", "PLAIN:8:3.50", capsys=capsys)
    assert code == 0 and out.strip() == "SO-000001"
    code, out, _ = ims(url, "so", "confirm", "SO-000001", capsys=capsys)
    assert code == 0 and "8 reserved, 0 waiting" in out and "6 at A-01-1" in out
    code, out, _ = ims(url, "--json", "pick", "create", "--so", "SO-000001", capsys=capsys)
    pick = json.loads(out)
    assert [line["location"] for line in pick["lines"]] == ["A-01-1", "B-02-1"]
    code, _, err = ims(url, "pick", "confirm", pick["number"], "1", "6", "--from", "A-02-1", capsys=capsys)
    assert code == 1 and err.startswith("error: wrong bin")
    assert ims(url, "pick", "confirm", pick["number"], "1", "6", "--from", "A-01-1", capsys=capsys)[0] == 0
    code, out, _ = ims(url, "pick", "short", pick["number"], "2", capsys=capsys)
    assert code == 0 and "2 backordered" in out
    zpl = tmp_path / "ship.zpl"
    code, out, _ = ims(url, "ship", "SO-000001", "-o", str(zpl), capsys=capsys)
    assert code == 0 and "SO-000001 is partial, 2 on backorder" in out and "Packing slip SH-000001" in out
    assert "^BCN" in zpl.read_text() and ">;>800" in zpl.read_text()
    code, out, _ = ims(url, "so", "return", "SO-000001", "PLAIN", "1", "--to", "QUAR", "--reason", "damaged", capsys=capsys)
    assert code == 0 and "into QUAR" in out
    code, out, _ = ims(url, "--json", "so", "show", "SO-000001", capsys=capsys)
    line = json.loads(out)["lines"][0]
    assert (line["qty_shipped"], line["qty_waiting"], line["qty_returned"]) == ("6", "2", "1")
    assert ims(url, "check", capsys=capsys)[0] == 0
    assert run_check(store).clean


def test_refusals_follow_the_exit_codes(cli_store, capsys):
    _, url = cli_store
    assert ims(url, "so", "create", "--customer", "Nobody", capsys=capsys)[0] == 2
    ims(url, "customer", "add", "Buyer", capsys=capsys)
    code, _, err = ims(url, "so", "create", "--customer", "Buyer", "--line", "PLAIN:x", capsys=capsys)
    assert code == 2 and err.startswith("error: quantity is not a number")
    assert ims(url, "so", "create", "--customer", "Buyer", "--line", "NOPE:1", capsys=capsys)[0] == 2
    number = ims(url, "so", "create", "--customer", "Buyer", "--line", "PLAIN:20", capsys=capsys)[1].strip()
    assert number == "SO-000001"  # refused creations used no number
    assert ims(url, "so", "confirm", number, capsys=capsys)[0] == 0
    code, out, _ = ims(url, "so", "show", number, capsys=capsys)
    assert "[confirmed]" in out
    code, _, err = ims(url, "so", "confirm", number, capsys=capsys)
    assert code == 1 and "not a draft" in err
    code, _, err = ims(url, "stock", "issue", "PLAIN", "1", "--from", "A-01-1", capsys=capsys)
    assert code == 1 and "0 available (6 reserved)" in err
    assert ims(url, "ship", number, capsys=capsys)[0] == 1
    assert ims(url, "so", "cancel", number, capsys=capsys)[0] == 0
    assert ims(url, "stock", "issue", "PLAIN", "1", "--from", "A-01-1", capsys=capsys)[0] == 0


def test_pick_list_prints_whole_to_a_printer(cli_store, capsys):
    _, url = cli_store
    ims(url, "customer", "add", "Buyer", capsys=capsys)
    ims(url, "so", "create", "--customer", "Buyer", "--line", "PLAIN:3", capsys=capsys)
    ims(url, "so", "confirm", "SO-000001", capsys=capsys)
    ims(url, "pick", "create", "--so", "SO-000001", capsys=capsys)
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def accept() -> None:
        connection, _ = listener.accept()
        with connection:
            while chunk := connection.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    code, out, err = ims(url, "pick", "show", "PK-000001", "--printer", f"127.0.0.1:{listener.getsockname()[1]}", capsys=capsys)
    thread.join(5)
    listener.close()
    assert code == 0 and "PK-000001 sent to printer 127.0.0.1" in err
    document = received.decode()
    assert document.startswith("^XA") and document.rstrip().endswith("^XZ") and "A-01-1" in document


def test_customers_and_pick_sequences_import_and_export(cli_store, capsys, tmp_path):
    store, url = cli_store
    customers = tmp_path / "customers.csv"
    customers.write_text("Customer Name,Code,Min Shelf Life\nHarbour Deli,HDELI,21\n")
    code, out, _ = ims(url, "import", "customers", str(customers), capsys=capsys)
    assert code == 0 and "1 created" in out
    exported = tmp_path / "out.csv"
    assert ims(url, "export", "customers", "-o", str(exported), capsys=capsys)[0] == 0
    assert "Harbour Deli,HDELI,,,21,yes" in exported.read_text(encoding="utf-8-sig")
    locations = tmp_path / "locations.csv"
    locations.write_text("code,pick_seq\nB-02-1,1\nA-01-1,2\n")
    assert ims(url, "import", "locations", str(locations), capsys=capsys)[0] == 0
    ims(url, "so", "create", "--customer", "Harbour Deli", "--line", "PLAIN:8", capsys=capsys)
    ims(url, "so", "confirm", "SO-000001", capsys=capsys)
    code, out, _ = ims(url, "--json", "pick", "create", "--so", "SO-000001", capsys=capsys)
    assert [line["location"] for line in json.loads(out)["lines"]] == ["B-02-1", "A-01-1"]  # imported order wins


def test_walking_order_is_serpentine_through_aisles():
    codes = ["WH1-A-01-1", "WH1-A-01-2", "WH1-A-02-1", "WH1-B-01-1", "WH1-B-02-1", "WH1-C-01-1", "WH1-C-02-1", "DOCK"]
    keys = walking_keys([(i, code, None) for i, code in enumerate(codes)])
    walk = [codes[i] for i in sorted(keys, key=keys.get)]
    assert walk == ["WH1-A-01-1", "WH1-A-01-2", "WH1-A-02-1", "WH1-B-02-1", "WH1-B-01-1", "WH1-C-01-1", "WH1-C-02-1", "DOCK"]
    explicit = walking_keys([(1, "WH1-A-01-1", None), (2, "WH1-Z-09-9", 5)])
    assert explicit[2] < explicit[1]
