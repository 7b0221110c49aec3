"""``ims label product|location|lot``: to a 127.0.0.1 printer, to files and stdout; exit codes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from ims_tui.cli.main import main
from ims_tui.services import ledger
from ims_tui.services.actor import Actor
from tests.auth_support import PASSWORD, add_user, fast_hashing  # noqa: F401 - fixture
from tests.conftest import make_locations, make_product, open_store
from tests.label_printer import PrinterListener, closed_port

UNIT_GTIN = "5012345678900"


@pytest.fixture
def url(sqlite_url):
    store = open_store(sqlite_url)
    make_product(store, "HEX-M6", name="Hex bolt M6 x 30 mm", barcodes=((UNIT_GTIN, 1),))
    make_product(store, "WATER-05", name="Spring water 500 ml", tracking="lot")
    make_locations(store, "A-01-1")
    with store.write() as session:
        ledger.post(session, Actor("setup", "admin", "test"), "receive", [
            ledger.StockMove("WATER-05", Decimal(24), "SUPPLIER", "A-01-1", lot="L2503", expiry=dt.date(2027, 3, 31)),
        ], key="setup-lot")
    store.dispose()
    return sqlite_url


def ims(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--db", url, *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def formats(zpl: str | bytes) -> list[str]:
    """The ^XA...^XZ label formats in a ZPL stream."""
    text = zpl.decode() if isinstance(zpl, bytes) else zpl
    return [f"^XA{part}" for part in text.split("^XA")[1:]]


def test_product_label_to_a_printer_arrives_whole_with_all_copies(capsys, url):
    with PrinterListener() as printer:
        code, out, err = ims(capsys, url, "label", "product", UNIT_GTIN, "--printer", printer.address, "--copies", "3", "--json")
    assert (code, err) == (0, "")
    [job] = printer.jobs
    labels = formats(job)
    assert len(labels) == 3 and len(set(labels)) == 1
    fields = labels[0].splitlines()
    assert fields[0] == "^XA" and fields[-1] == "^XZ"
    assert "^FO24,20^A0N,40,40^FB752,1,0,L,0^FH^FDHex bolt M6 x 30 mm^FS" in fields
    assert "^FO24,110^BY2^BCN,100,Y,N,N^FDHEX-M6^FS" in fields
    assert "^FO626,110^BXN,5,200,,,,_^FD_10105012345678900^FS" in fields
    report = json.loads(out)
    assert report == {
        "labels": [{"title": "Hex bolt M6 x 30 mm", "code": "HEX-M6", "barcode": None, "gtin": "05012345678900",
                    "lot": None, "expiry": None, "serial": None}],
        "copies": 3, "format": "zpl", "destination": f"printer {printer.address}", "bytes": len(job),
    }


def test_text_report_and_default_port_syntax(capsys, url):
    with PrinterListener() as printer:
        code, out, _ = ims(capsys, url, "label", "location", "A-01-1", "--printer", printer.address)
    assert code == 0
    assert out == f"printed 1 copy of A-01-1 as ZPL to printer {printer.address}\n"
    assert "^FO24,110^BY2^BCN,100,Y,N,N^FDA-01-1^FS" in printer.jobs[0].decode().splitlines()


def test_unreachable_printer_is_one_line_and_exit_1(capsys, url):
    port = closed_port()
    code, out, err = ims(capsys, url, "label", "product", "HEX-M6", "--printer", f"127.0.0.1:{port}")
    assert code == 1 and out == ""
    assert err == f"error: printer 127.0.0.1:{port}: connection refused - is raw printing on port {port} enabled?\n"


def test_lot_label_to_stdout_and_files_by_extension(capsys, url, tmp_path):
    code, out, _ = ims(capsys, url, "label", "lot", "WATER-05", "L2503", "-o", "-")
    assert code == 0
    [label] = formats(out)
    assert "^FO24,304^A0N,26,26^FB752,1,0,L,0^FH^FDLot L2503   Exp 2027-03-31^FS" in label.splitlines()
    zpl_file, svg_file, other = tmp_path / "lot.ZPL", tmp_path / "lot.svg", tmp_path / "lot.lbl"
    assert ims(capsys, url, "label", "lot", "WATER-05", "L2503", "-o", str(zpl_file), "--copies", "2")[0] == 0
    assert formats(zpl_file.read_text()) == [label, label]
    assert ims(capsys, url, "label", "lot", "WATER-05", "L2503", "-o", str(svg_file))[1] == (
        f"printed 1 copy of WATER-05 lot L2503 as SVG to file {svg_file}\n")
    assert "Lot L2503   Exp 2027-03-31" in svg_file.read_text()
    code, _, err = ims(capsys, url, "label", "lot", "WATER-05", "L2503", "-o", str(other))
    assert (code, err) == (2, f"error: cannot tell the label format from '{other}': name it .zpl or .svg, or add --format\n")
    assert ims(capsys, url, "label", "lot", "WATER-05", "L2503", "-o", str(other), "--format", "zpl")[0] == 0
    assert formats(other.read_text()) == [label]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["product", "HEX-M6"], "error: one of the arguments --printer -o/--output is required"),
        (["product", "HEX-M6", "-o", "-", "--printer", "h"], "error: argument --printer: not allowed with argument -o/--output"),
        (["product", "HEX-M6", "-o", "-", "--copies", "0"], "error: argument --copies: copies must be a whole number from 1 to 999, not '0'"),
        (["product", "HEX-M6", "--printer", "zebra:http"], "error: printer 'zebra:http': port must be a number from 1 to 65535"),
        (["product", "HEX-M6", "--printer", "zebra", "--format", "svg"], "error: a label printer's raw port takes ZPL"),
        (["product", "HEX-M6", "-o", "-", "--json"], "error: -o - writes the label to stdout: --json cannot share it"),
        (["product", "NOPE", "-o", "-"], "error: unknown product 'NOPE'"),
        (["lot", "WATER-05", "L0000", "-o", "-"], "error: product WATER-05 has no lot 'L0000'"),
        (["location", "Z-9", "-o", "-"], "error: unknown location 'Z-9'"),
        ([], "error: 'ims label' needs an action"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(capsys, url, args, message):
    code, out, err = ims(capsys, url, "label", *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_auditor_is_refused_with_exit_3_and_audited(capsys, monkeypatch, url, fast_hashing, tmp_path):
    from ims_tui.db.engine import Store
    from ims_tui.services.audit_log import AuditFilter, browse

    store = Store(url)
    add_user(store, "audrey", "auditor")
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    target = tmp_path / "x.zpl"
    code, out, err = ims(capsys, url, "--user", "audrey", "label", "product", "HEX-M6", "-o", str(target))
    assert (code, out, err) == (3, "", "error: permission denied: role auditor may not print labels\n")
    assert not target.exists()
    rows = browse(store, Actor("admin", "admin", "t"), AuditFilter(action="print_labels")).rows
    assert [(r.username, r.target, r.outcome) for r in rows] == [("audrey", "HEX-M6", "denied")]
    store.dispose()
