"""Labels from a real store (SQLite and PostgreSQL): ZPL field by field, jobs that reach a
127.0.0.1 printer whole, files, refusals, and the audit row of every job."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from ims_tui.db.models import AuditEntry
from ims_tui.devices.decode import decode_scan
from ims_tui.devices.labels import to_zpl
from ims_tui.services import catalogue, ledger
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, NotFound, PermissionDenied, RuleViolation
from ims_tui.services.labels import (
    PrinterAddress,
    PrinterError,
    label_for_location,
    label_for_lot,
    label_for_product,
    parse_printer,
    print_labels,
)
from tests.conftest import make_locations, make_product
from tests.label_printer import PrinterListener, closed_port

UNIT_GTIN = "5012345678900"
CASE_GTIN = "15012345678907"
EXPIRY = dt.date(2027, 3, 31)
HEADER = ["^XA", "^CI28", "^PW800", "^LL400"]


def text_field(y: int, height: int, text: str) -> str:
    return f"^FO24,{y}^A0N,{height},{height}^FB752,1,0,L,0^FH^FD{text}^FS"


def code128_field(data: str) -> str:
    return f"^FO24,110^BY2^BCN,100,Y,N,N^FD{data}^FS"


@pytest.fixture
def catalogue_store(store):
    """Hex bolts (a case GTIN first, then the unit GTIN), a product without a GTIN, lots, bins."""
    make_product(store, "HEX-M6", name="Hex bolt M6 x 30 mm", barcodes=((CASE_GTIN, 12), (UNIT_GTIN, 1)))
    make_product(store, "NUT-M6", name="Nyloc nut M6", barcodes=(("INT-77", 1),))
    make_product(store, "WATER-05", name="Spring water 500 ml", tracking="lot", barcodes=(("4006381333931", 1),))
    make_locations(store, "A-01-1")
    setup = Actor("setup", "admin", "test")
    with store.write() as session:
        catalogue.save_location(session, setup, "RCV-DOCK", name="Receiving dock 1", barcode="LOC-RCV-01", warehouse="WH1")
    with store.write() as session:
        ledger.post(session, setup, "receive", [
            ledger.StockMove("WATER-05", Decimal(24), "SUPPLIER", "A-01-1", lot="L2503", expiry=EXPIRY),
            ledger.StockMove("WATER-05", Decimal(6), "SUPPLIER", "A-01-1", lot="L 25#04", expiry=EXPIRY),
        ], key="setup-lots")
    return store


def audit_rows(store, action: str) -> list[tuple[str, str, str, str]]:
    with store.read() as session:
        rows = session.execute(
            select(AuditEntry.username, AuditEntry.target, AuditEntry.summary, AuditEntry.outcome)
            .where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]


# --- what labels show --------------------------------------------------------------------------


def test_product_label_zpl_field_by_field_uses_the_unit_gtin_not_the_case(catalogue_store, admin):
    label = label_for_product(catalogue_store, admin, "HEX-M6")
    assert (label.title, label.code, label.gtin) == ("Hex bolt M6 x 30 mm", "HEX-M6", "0" + UNIT_GTIN)
    assert to_zpl(label).splitlines() == [
        *HEADER,
        text_field(20, 40, "Hex bolt M6 x 30 mm"),
        text_field(68, 30, "HEX-M6"),
        code128_field("HEX-M6"),
        "^FO626,110^BXN,5,200,,,,_^FD_1" "01" "05012345678900^FS",
        text_field(344, 22, "(01)05012345678900"),
        "^XZ",
    ]


def test_product_found_by_any_of_its_codes_is_labelled_with_its_sku(catalogue_store, admin):
    for code in (UNIT_GTIN, CASE_GTIN, "0" + UNIT_GTIN):
        assert label_for_product(catalogue_store, admin, code).code == "HEX-M6"


def test_product_without_a_gtin_has_code128_only(catalogue_store, admin):
    label = label_for_product(catalogue_store, admin, "NUT-M6")
    assert label.gtin is None
    assert to_zpl(label).splitlines() == [
        *HEADER, text_field(20, 40, "Nyloc nut M6"), text_field(68, 30, "NUT-M6"), code128_field("NUT-M6"), "^XZ",
    ]


def test_location_label_carries_the_location_barcode(catalogue_store, admin):
    label = label_for_location(catalogue_store, admin, "LOC-RCV-01")
    assert (label.title, label.code, label.barcode) == ("Receiving dock 1", "RCV-DOCK", "LOC-RCV-01")
    assert to_zpl(label).splitlines() == [
        *HEADER, text_field(20, 40, "Receiving dock 1"), text_field(68, 30, "RCV-DOCK"), code128_field("LOC-RCV-01"), "^XZ",
    ]
    unnamed = label_for_location(catalogue_store, admin, "A-01-1")
    assert to_zpl(unnamed).splitlines() == [*HEADER, text_field(20, 40, "A-01-1"), code128_field("A-01-1"), "^XZ"]


def test_lot_label_zpl_field_by_field_and_the_datamatrix_scans_back(catalogue_store, admin):
    label = label_for_lot(catalogue_store, admin, "WATER-05", "L2503")
    fields = to_zpl(label).splitlines()
    gs1 = "_1" "01" "04006381333931" "17" "270331" "10" "L2503"
    assert fields == [
        *HEADER,
        text_field(20, 40, "Spring water 500 ml"),
        text_field(68, 30, "WATER-05"),
        code128_field("WATER-05"),
        text_field(304, 26, "Lot L2503   Exp 2027-03-31"),
        f"^FO626,110^BXN,5,200,,,,_^FD{gs1}^FS",
        text_field(344, 22, "(01)04006381333931(17)270331(10)L2503"),
        "^XZ",
    ]
    scanned = decode_scan("]d2" + gs1[2:])
    assert (scanned.gtin, scanned.lot, scanned.expiry) == ("04006381333931", "L2503", EXPIRY)


def test_unknown_codes_and_lots_are_bad_input(catalogue_store, admin):
    with pytest.raises(NotFound, match="unknown product 'NOPE'"):
        label_for_product(catalogue_store, admin, "NOPE")
    with pytest.raises(NotFound, match="unknown location 'Z-99'"):
        label_for_location(catalogue_store, admin, "Z-99")
    with pytest.raises(NotFound, match="product WATER-05 has no lot 'L9999'"):
        label_for_lot(catalogue_store, admin, "WATER-05", "L9999")
    with pytest.raises(NotFound, match="product HEX-M6 has no lot 'L2503'"):
        label_for_lot(catalogue_store, admin, "HEX-M6", "L2503")


def test_a_lot_gs1_cannot_carry_is_refused_in_one_line(catalogue_store, admin):
    with pytest.raises(RuleViolation) as refused:
        label_for_lot(catalogue_store, admin, "WATER-05", "L 25#04")
    assert str(refused.value).startswith("lot L 25#04 of WATER-05 cannot be labelled: (10) 'L 25#04' cannot be encoded")
    assert "\n" not in str(refused.value)


# --- printing ----------------------------------------------------------------------------------


def test_a_job_reaches_the_printer_whole_with_every_copy_and_is_audited(catalogue_store, admin):
    labels = [label_for_product(catalogue_store, admin, "HEX-M6"), label_for_lot(catalogue_store, admin, "WATER-05", "L2503")]
    with PrinterListener() as printer:
        job = print_labels(catalogue_store, admin, labels, printer=printer.address, copies=3)
    expected = (to_zpl(labels[0]) * 3 + to_zpl(labels[1]) * 3).encode()
    assert printer.jobs == [expected]
    assert printer.jobs[0].decode().count("^XA") == 6
    assert job.size == len(expected)
    assert job.summary() == f"printed 3 copies of HEX-M6, WATER-05 lot L2503 as ZPL to printer {printer.address}"
    assert audit_rows(catalogue_store, "label.print") == [("tester", "HEX-M6, WATER-05 lot L2503", job.summary(), "ok")]


def test_unreachable_printer_is_one_line_printer_error_and_audited_as_failed(catalogue_store, admin):
    label = label_for_product(catalogue_store, admin, "HEX-M6")
    port = closed_port()
    with pytest.raises(PrinterError) as failed:
        print_labels(catalogue_store, admin, [label], printer=f"127.0.0.1:{port}")
    message = str(failed.value)
    assert message == f"printer 127.0.0.1:{port}: connection refused - is raw printing on port {port} enabled?"
    assert failed.value.exit_code == 1
    [(_, target, summary, outcome)] = audit_rows(catalogue_store, "label.print")
    assert (target, outcome) == ("HEX-M6", "failed")
    assert summary == f"1 copy of HEX-M6 as ZPL not printed: {message}"


def test_role_without_print_labels_is_refused_audited_and_nothing_is_sent(catalogue_store):
    auditor = Actor("audrey", "auditor", "office")
    label = label_for_product(catalogue_store, auditor, "HEX-M6")  # looking is allowed
    with PrinterListener() as printer:
        with pytest.raises(PermissionDenied, match="^permission denied: role auditor may not print labels$"):
            print_labels(catalogue_store, auditor, [label], printer=printer.address)
    assert printer.jobs == []
    assert audit_rows(catalogue_store, "print_labels") == [
        ("audrey", "HEX-M6", "permission denied: role auditor may not print labels", "denied")
    ]
    assert audit_rows(catalogue_store, "label.print") == []


def test_files_and_streams(catalogue_store, admin, tmp_path):
    label = label_for_lot(catalogue_store, admin, "WATER-05", "L2503")
    zpl_file = tmp_path / "lot.zpl"
    job = print_labels(catalogue_store, admin, [label], output=zpl_file, copies=2)
    assert zpl_file.read_text(encoding="utf-8") == to_zpl(label) * 2
    assert job.destination == f"file {zpl_file}"
    svg_file = tmp_path / "lot.svg"
    print_labels(catalogue_store, admin, [label], output=svg_file, fmt="svg")
    svg = svg_file.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "Spring water 500 ml" in svg and "(01)04006381333931(17)270331(10)L2503" in svg
    stream = io.StringIO()
    assert print_labels(catalogue_store, admin, [label], output=stream).destination == "stdout"
    assert stream.getvalue() == to_zpl(label)
    assert [row[3] for row in audit_rows(catalogue_store, "label.print")] == ["ok", "ok", "ok"]


BAD_OPTIONS = [
    ({"fmt": "svg", "copies": 2}, "an SVG file holds one label"),
    ({"copies": 0}, "copies must be from 1 to 999, not 0"),
    ({"fmt": "pdf"}, "label format must be one of zpl, svg, not 'pdf'"),
]


def test_bad_print_options_write_nothing(catalogue_store, admin, tmp_path):
    label = label_for_product(catalogue_store, admin, "HEX-M6")
    target = tmp_path / "out.lbl"
    for options, message in BAD_OPTIONS:
        with pytest.raises(BadInput, match=message):
            print_labels(catalogue_store, admin, [label], output=target, **options)
    assert not target.exists()


def test_printer_and_file_are_exclusive_and_a_printer_takes_zpl_only(catalogue_store, admin, tmp_path):
    label = label_for_product(catalogue_store, admin, "HEX-M6")
    with pytest.raises(BadInput, match="exactly one"):
        print_labels(catalogue_store, admin, [label], printer="127.0.0.1", output=tmp_path / "x.zpl")
    with pytest.raises(BadInput, match="exactly one"):
        print_labels(catalogue_store, admin, [label])
    with pytest.raises(BadInput, match="raw port takes ZPL"):
        print_labels(catalogue_store, admin, [label], printer="127.0.0.1", fmt="svg")
    with pytest.raises(BadInput, match="no such directory"):
        print_labels(catalogue_store, admin, [label], output=tmp_path / "missing" / "x.zpl")
    assert [row[3] for row in audit_rows(catalogue_store, "label.print")] == ["failed"]  # only the file attempt


# --- HOST[:PORT] -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("zebra-dock1", "zebra-dock1", 9100),
        ("10.0.4.20:6101", "10.0.4.20", 6101),
        ("[::1]", "::1", 9100),
        ("[fe80::2a1]:9101", "fe80::2a1", 9101),
        ("::1", "::1", 9100),
        (" printer.local ", "printer.local", 9100),
    ],
)
def test_printer_addresses(text, host, port):
    assert parse_printer(text) == PrinterAddress(host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected HOST or HOST:PORT"),
        ("zebra:", "the port after ':' is missing"),
        ("zebra:http", "port must be a number from 1 to 65535"),
        ("zebra:70000", "port must be a number from 1 to 65535"),
        ("[::1", "write an IPv6 address as"),
        ("[::1]9100", "write an IPv6 address as"),
        ("a:b:c", "'a:b:c' is not an IPv6 address"),
    ],
)
def test_bad_printer_addresses(text, message):
    with pytest.raises(BadInput, match=message):
        parse_printer(text)


def test_ipv6_printer_in_brackets_receives_the_job(catalogue_store, admin):
    import socket

    label = label_for_product(catalogue_store, admin, "NUT-M6")
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with server:
        port = server.getsockname()[1]
        print_labels(catalogue_store, admin, [label], printer=f"[::1]:{port}")
        connection, _ = server.accept()
        with connection:
            data = b"".join(iter(lambda: connection.recv(65536), b""))
    assert data == to_zpl(label).encode()
