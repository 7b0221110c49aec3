"""Labels: ZPL field by field (GS1 DataMatrix read back through the scan decoder), SVG, and
sending to a raw-TCP printer on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import threading
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from ims_tui.devices.decode import decode_scan
from ims_tui.devices.labels import (
    LabelData,
    LabelError,
    LabelSize,
    location_label,
    lot_label,
    product_label,
    send_zpl,
    to_svg,
    to_zpl,
)

SVG = "{http://www.w3.org/2000/svg}"


def zpl_fields(zpl: str) -> list[str]:
    """The ZPL commands one per line, as the label writes them."""
    return zpl.splitlines()


def datamatrix_as_scanned(zpl: str) -> str:
    """What a scanner sends for the ^BX field: ]d2, then the data with FNC1 as GS."""
    (field,) = [line for line in zpl_fields(zpl) if "^BX" in line]
    match = re.fullmatch(r"\^FO\d+,\d+\^BXN,5,200,,,,_\^FD(.*)\^FS", field)
    assert match, field
    data = match.group(1)
    assert data.startswith("_1"), "a leading FNC1 makes it GS1 DataMatrix"
    return "]d2" + re.sub(r"_(1|_)", lambda m: "\x1d" if m.group(1) == "1" else "_", data[2:])


def test_lot_label_zpl_field_by_field() -> None:
    label = lot_label(
        "PARA-500", "Paracetamol 500 mg", gtin="9501101530003", lot="B_2024/7", expiry=date(2026, 12, 31),
        serial="SN-0042",
    )
    fields = zpl_fields(to_zpl(label))
    assert fields[:4] == ["^XA", "^CI28", "^PW800", "^LL400"]
    assert fields[-1] == "^XZ"
    assert "^FO24,20^A0N,40,40^FB752,1,0,L,0^FH^FDParacetamol 500 mg^FS" in fields
    assert "^FO24,68^A0N,30,30^FB752,1,0,L,0^FH^FDPARA-500^FS" in fields
    assert "^FO24,110^BY2^BCN,100,Y,N,N^FDPARA-500^FS" in fields
    fnc1 = "_1"
    gs1_data = fnc1 + "01" "09501101530003" "17" "261231" "10" "B__2024/7" + fnc1 + "21" "SN-0042"
    assert f"^FO626,110^BXN,5,200,,,,_^FD{gs1_data}^FS" in fields
    assert "^FO24,344^A0N,22,22^FB752,1,0,L,0^FH^FD(01)09501101530003(17)261231(10)B_5F2024/7(21)SN-0042^FS" in fields


def test_gs1_datamatrix_reads_back_with_every_field() -> None:
    label = lot_label("P1", "x", gtin="09506000134352", lot="L_1", expiry=date(2027, 2, 28), serial="S_9")
    decoded = decode_scan(datamatrix_as_scanned(to_zpl(label)))
    assert (decoded.symbology, decoded.gtin, decoded.gtin_valid) == ("GS1 DataMatrix", "09506000134352", True)
    assert (decoded.lot, decoded.expiry, decoded.serial, decoded.problems) == ("L_1", date(2027, 2, 28), "S_9", ())


def test_last_variable_field_has_no_trailing_fnc1() -> None:
    zpl = to_zpl(lot_label("P1", "x", gtin="09506000134352", lot="LOT9"))
    assert "^FD_1" "01" "09506000134352" "10" "LOT9" "^FS" in zpl


def test_text_cannot_break_the_zpl_format() -> None:
    label = product_label("A^B~C>D", "50% ^off^ ~all~ under_score\nsecond line", gtin="4006381333931")
    zpl = to_zpl(label)
    assert "^FH^FD50% _5Eoff_5E _7Eall_7E under_5Fscore second line^FS" in zpl
    assert "^BCN,100,Y,N,N^FDA><B>=C>0D^FS" in zpl
    commands = re.findall(r"[\^~][A-Z0-9]{2}", zpl)
    assert all(cmd[1:3] in {"XA", "CI", "PW", "LL", "FO", "A0", "FB", "FH", "FD", "FS", "BY", "BC", "BX", "XZ"}
               for cmd in commands), commands


def test_location_label_has_code128_and_no_gs1() -> None:
    zpl = to_zpl(location_label("A-03-04", "Aisle 3, bay 4", barcode="LOC:A-03-04"))
    assert "^FDAisle 3, bay 4^FS" in zpl
    assert "^FDA-03-04^FS" in zpl
    assert "^BCN,100,Y,N,N^FDLOC:A-03-04^FS" in zpl
    assert "^BX" not in zpl


def test_lot_without_gtin_is_text_only() -> None:
    zpl = to_zpl(lot_label("P1", "Bolts", lot="L7", expiry=date(2026, 1, 31)))
    assert "^BX" not in zpl
    assert "^FDLot L7   Exp 2026-01-31^FS" in zpl


def test_label_size_in_dots() -> None:
    zpl = to_zpl(location_label("A-1"), LabelSize(width_mm=76, height_mm=25, dots_per_mm=12))
    assert zpl_fields(zpl)[2:4] == ["^PW912", "^LL300"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(gtin="9501101530004"), "not a valid GTIN: Invalid GTIN check digit"),
        (dict(gtin="9501101530003", lot="L" * 21), "(10) 'LLLLLLLLLLLLLLLLLLLLL' cannot be encoded in GS1: 1 to 20"),
        (dict(gtin="9501101530003", lot=""), "(10) '' cannot be encoded in GS1"),
        (dict(gtin="9501101530003", serial="S 1"), "(21) 'S 1' cannot be encoded in GS1"),
        (dict(gtin="9501101530003", expiry=date(2099, 1, 1)), "expiry 2099-01-01 is too far from today"),
        (dict(code="SKU-ü"), "'SKU-ü' cannot be printed as Code 128: use printable ASCII characters only"),
    ],
)
def test_bad_label_data_is_refused_before_printing(kwargs: dict, message: str) -> None:
    with pytest.raises(LabelError) as caught:
        LabelData(**{"title": "t", "code": "c", **kwargs})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_svg_has_the_text_and_both_symbols() -> None:
    label = lot_label("PARA-500", "Paracetamol <500 mg>", gtin="9501101530003", lot="B1", serial="S1")
    root = ET.fromstring(to_svg(label))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("100mm", "50mm", "0 0 800 400")
    texts = [element.text for element in root.iter(f"{SVG}text") if element.text]
    assert "Paracetamol <500 mg>" in texts
    assert "PARA-500" in texts
    assert "(01)09501101530003(10)B1(21)S1" in texts
    symbols = root.findall(f"{SVG}svg")
    assert len(symbols) == 2
    code128, datamatrix = symbols
    assert float(code128.get("width")) > float(code128.get("height"))
    assert datamatrix.get("width") == datamatrix.get("height")  # square GS1 DataMatrix
    assert float(datamatrix.get("x")) + float(datamatrix.get("width")) <= 800


def test_svg_location_label_has_only_code128() -> None:
    root = ET.fromstring(to_svg(location_label("A-03-04")))
    assert len(root.findall(f"{SVG}svg")) == 1


class RawPrinter:
    """A listener on 127.0.0.1 that stores what one connection sends, like a printer's port 9100."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._accept_one)
        self.thread.start()

    def _accept_one(self) -> None:
        self.server.settimeout(5)
        connection, _ = self.server.accept()
        with connection:
            while chunk := connection.recv(65536):
                self.received += chunk

    def close(self) -> None:
        self.thread.join(5)
        self.server.close()


def test_sent_labels_arrive_whole() -> None:
    label = lot_label("PARA-500", "Paracétamol", gtin="9501101530003", lot="B1", expiry=date(2026, 12, 31))
    batch = to_zpl(label) * 500  # a few hundred KB: more than one send() worth
    printer = RawPrinter()
    try:
        send_zpl("127.0.0.1", batch, port=printer.port, timeout=5)
    finally:
        printer.close()
    assert printer.received == batch.encode("utf-8")


def test_unreachable_printer_is_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_port = probe.getsockname()[1]
    with pytest.raises(LabelError) as caught:
        send_zpl("127.0.0.1", "^XA^XZ", port=free_port, timeout=2)
    assert str(caught.value) == (
        f"printer 127.0.0.1:{free_port}: connection refused - is raw printing on port {free_port} enabled?"
    )
