r"""Product, location and lot labels: ZPL for Zebra printers, SVG for office printers.

A label is plain data (:class:`LabelData`); nothing here reads the store.  The SKU or
location code is printed as Code 128; with a GTIN, the GS1 data - (01) GTIN, (17) expiry,
(10) lot, (21) serial - goes into a GS1 DataMatrix, so one scan gives the receiver all of it.
Without a GTIN, lot, expiry and serial are printed as text only: GS1 does not allow them
without the item's GTIN.

ZPL details that are easy to get wrong:

- GS1 DataMatrix is ``^BX`` with quality 200 (ECC 200).  FNC1 is written as the ``^BX``
  escape character followed by ``1``.  Which escape character a printer uses by default
  differs by firmware (``_`` on older, ``~`` on newer), so the command sets it explicitly as
  the 7th parameter: ``^BXN,5,200,,,,_``.  The field data then starts with ``_1`` - a
  leading FNC1 is what makes the symbol GS1 DataMatrix (scanners report ``]d2``) - and has
  ``_1`` after each variable-length element (lot, serial) that another element follows;
  fixed-length elements (GTIN, expiry) come first and need none.  A literal ``_`` in a lot
  is written ``__``.  That field must not use ``^FH``: with ``_`` as hex indicator it would
  read ``_1...`` as a hex escape before the DataMatrix escapes are seen.
- Code 128 (``^BC``, subset B): ``^``, ``>`` and ``~`` must be written as the invocation
  codes ``><``, ``>0`` and ``>=``.
- Text fields use ``^FH`` (``_`` + two hex digits) so ``^``, ``~`` and ``_`` in a product
  name print as themselves, and ``^CI28`` so the text is UTF-8.

SVG barcodes are drawn by Zint (the ``zint-bindings`` package bundles it; no system
binaries), which inserts FNC1 itself from bracketed GS1 data such as ``[01]...[10]...``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

import zint
from biip import ParseError
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)


class LabelError(Exception):
    """A label cannot be made or sent; the message says why in one line."""


@dataclass(frozen=True)
class LabelSize:
    width_mm: float = 100
    height_mm: float = 50
    dots_per_mm: int = 8
    """8 for 203 dpi printers, 12 for 300 dpi."""

    @property
    def width(self) -> int:
        return round(self.width_mm * self.dots_per_mm)

    @property
    def height(self) -> int:
        return round(self.height_mm * self.dots_per_mm)


@dataclass(frozen=True)
class LabelData:
    """What a label shows.  Invalid GS1 content raises :class:`LabelError` at construction."""

    title: str
    """Product name or location name: the big line."""
    code: str
    """SKU or location code, printed under the title."""
    barcode: str | None = None
    """What the Code 128 encodes when it is not ``code`` (e.g. a location's own barcode)."""
    gtin: str | None = None
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None

    def __post_init__(self) -> None:
        _code128_data(self.code128_value)  # fail now, not at the printer
        if self.gtin is not None:
            try:
                object.__setattr__(self, "gtin", Gtin.parse(self.gtin).as_gtin_14())
            except ParseError as exc:
                raise LabelError(f"not a valid GTIN: {exc}") from None
        for ai, value in self.gs1_elements():
            try:
                element = GS1ElementString.parse(ai + value)
            except ParseError:
                element = None
            if element is None or not value:
                raise LabelError(f"({ai}) {value!r} cannot be encoded in GS1: {_GS1_TEXT_RULE}")
            if ai == "17" and element.date != self.expiry:
                raise LabelError(f"expiry {self.expiry} is too far from today for GS1's two-digit year")

    @property
    def code128_value(self) -> str:
        return self.barcode or self.code

    def gs1_elements(self) -> list[tuple[str, str]]:
        """(AI, value) in print order: fixed-length first, so only lot/serial need FNC1 after them."""
        if self.gtin is None:
            return []
        elements = [("01", self.gtin)]
        if self.expiry is not None:
            elements.append(("17", self.expiry.strftime("%y%m%d")))
        if self.lot is not None:
            elements.append(("10", self.lot))
        if self.serial is not None:
            elements.append(("21", self.serial))
        return elements

    def hri(self) -> str:
        """The GS1 data as people read it, e.g. ``(01)09501101530003(10)ABC``."""
        return "".join(f"({ai}){value}" for ai, value in self.gs1_elements())

    def detail_line(self) -> str:
        parts = [
            f"Lot {self.lot}" if self.lot is not None else "",
            f"Exp {self.expiry.isoformat()}" if self.expiry is not None else "",
            f"S/N {self.serial}" if self.serial is not None else "",
        ]
        return "   ".join(part for part in parts if part)


# Lot and serial are the only elements whose value can fail: GTIN and date are checked before.
_GS1_TEXT_RULE = "1 to 20 of the GS1 characters (letters, digits and !\"%&'()*+,-./:;<=>?_)"


def product_label(sku: str, name: str, *, gtin: str | None = None, barcode: str | None = None) -> LabelData:
    return LabelData(title=name, code=sku, barcode=barcode, gtin=gtin)


def location_label(code: str, name: str | None = None, *, barcode: str | None = None) -> LabelData:
    return LabelData(title=name or code, code=code, barcode=barcode)


def lot_label(
    sku: str,
    name: str,
    *,
    gtin: str | None = None,
    lot: str | None = None,
    expiry: date | None = None,
    serial: str | None = None,
) -> LabelData:
    return LabelData(title=name, code=sku, gtin=gtin, lot=lot, expiry=expiry, serial=serial)


# --- ZPL -----------------------------------------------------------------------------------

MARGIN = 24
DATAMATRIX_MODULE = 5  # dots: 0.625 mm at 203 dpi, inside GS1's 0.396-0.990 mm for general use


def to_zpl(label: LabelData, size: LabelSize = LabelSize()) -> str:
    """One label as a ZPL II format (``^XA`` ... ``^XZ``)."""
    text_width = size.width - 2 * MARGIN
    fields = [
        "^XA",
        "^CI28",
        f"^PW{size.width}",
        f"^LL{size.height}",
        _zpl_text(MARGIN, 20, 40, text_width, label.title),
    ]
    if label.code != label.title:
        fields.append(_zpl_text(MARGIN, 68, 30, text_width, label.code))
    fields.append(f"^FO{MARGIN},110^BY2^BCN,100,Y,N,N^FD{_code128_data(label.code128_value)}^FS")
    if label.detail_line():
        fields.append(_zpl_text(MARGIN, size.height - 96, 26, text_width, label.detail_line()))
    if label.gtin is not None:
        fields.append(f"^FO{size.width - MARGIN - 150},110^BXN,{DATAMATRIX_MODULE},200,,,,_^FD{_datamatrix_data(label)}^FS")
        fields.append(_zpl_text(MARGIN, size.height - 56, 22, text_width, label.hri()))
    fields.append("^XZ")
    return "\n".join(fields) + "\n"


def _zpl_text(x: int, y: int, height: int, width: int, text: str) -> str:
    """A one-line text field clipped to ``width`` dots; ``^FH`` escapes keep ^ ~ _ literal."""
    escaped = "".join(f"_{ord(c):02X}" if c in "^~_" else " " if c.isspace() else c for c in text)
    return f"^FO{x},{y}^A0N,{height},{height}^FB{width},1,0,L,0^FH^FD{escaped}^FS"


def _code128_data(value: str) -> str:
    if not value or not all(" " <= c <= "~" for c in value):
        raise LabelError(f"{value!r} cannot be printed as Code 128: use printable ASCII characters only")
    return value.replace(">", ">0").replace("^", "><").replace("~", ">=")


def _datamatrix_data(label: LabelData) -> str:
    """``_1`` (FNC1) first and after each variable-length element that is not last."""
    data = "_1"
    elements = label.gs1_elements()
    for index, (ai, value) in enumerate(elements):
        data += ai + value.replace("_", "__")
        if ai in ("10", "21") and index < len(elements) - 1:
            data += "_1"
    return data


def send_zpl(host: str, data: str | bytes, *, port: int = 9100, timeout: float = 5.0) -> None:
    """Send ZPL to a network printer's raw port; :class:`LabelError` with one line if it fails."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    where = f"printer {host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
    except socket.gaierror:
        raise LabelError(f"{where}: unknown host name") from None
    except TimeoutError:
        raise LabelError(f"{where}: no answer within {timeout:g} s - is it on and on this network?") from None
    except ConnectionRefusedError:
        raise LabelError(f"{where}: connection refused - is raw printing on port {port} enabled?") from None
    except OSError as exc:
        raise LabelError(f"{where}: {exc.strerror or exc}") from None


# --- SVG -----------------------------------------------------------------------------------


def to_svg(label: LabelData, size: LabelSize = LabelSize()) -> str:
    """The same label as SVG, sized in mm for office printers; coordinates in printer dots."""
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        width=f"{size.width_mm:g}mm",
        height=f"{size.height_mm:g}mm",
        viewBox=f"0 0 {size.width} {size.height}",
    )
    ET.SubElement(root, f"{{{SVG_NS}}}rect", width="100%", height="100%", fill="#FFFFFF")
    _svg_text(root, MARGIN, 20 + 34, 40, label.title, bold=True)
    if label.code != label.title:
        _svg_text(root, MARGIN, 68 + 26, 30, label.code)
    root.append(_zint_svg(zint.Symbology.CODE128, label.code128_value, MARGIN, 110, module=2))
    if label.detail_line():
        _svg_text(root, MARGIN, size.height - 96 + 22, 26, label.detail_line())
    if label.gtin is not None:
        bracketed = "".join(f"[{ai}]{value}" for ai, value in label.gs1_elements())
        root.append(
            _zint_svg(
                zint.Symbology.DATAMATRIX, bracketed, size.width - MARGIN - 150, 110, module=DATAMATRIX_MODULE, gs1=True
            )
        )
        _svg_text(root, MARGIN, size.height - 56 + 19, 22, label.hri())
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _svg_text(parent: ET.Element, x: int, baseline: int, height: int, text: str, *, bold: bool = False) -> None:
    element = ET.SubElement(
        parent,
        f"{{{SVG_NS}}}text",
        x=str(x),
        y=str(baseline),
        attrib={"font-family": "Arial, Helvetica, sans-serif", "font-size": str(height)},
    )
    if bold:
        element.set("font-weight", "bold")
    element.text = "".join(" " if c.isspace() else c for c in text)


def _zint_svg(symbology: zint.Symbology, data: str, x: int, y: int, *, module: float, gs1: bool = False) -> ET.Element:
    """Zint's SVG of one barcode as a nested ``<svg>`` placed at (x, y); ``module`` in dots."""
    symbol = zint.Symbol()
    symbol.symbology = symbology
    symbol.scale = module / 2  # Zint draws a module as 2 units per unit of scale
    symbol.warn_level = zint.WarningLevel.FAIL_ALL
    symbol.output_options = zint.OutputOptions.BARCODE_MEMORY_FILE | zint.OutputOptions.BARCODE_QUIET_ZONES
    symbol.outfile = "label.svg"  # only names the format: with MEMORY_FILE nothing is written
    if gs1:
        symbol.input_mode = zint.InputMode.GS1
        symbol.option_3 = zint.DataMatrixOptions.SQUARE
    try:
        symbol.encode(data)
        symbol.print()
    except RuntimeError as exc:
        raise LabelError(f"barcode could not be drawn: {exc}") from None
    drawing = ET.fromstring(bytes(symbol.memfile))
    width, height = drawing.get("width"), drawing.get("height")
    drawing.set("x", str(x))
    drawing.set("y", str(y))
    drawing.set("viewBox", f"0 0 {width} {height}")
    return drawing
