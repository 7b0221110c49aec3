"""Shipping documents as ZPL: text pages (pick lists, packing slips) and the SSCC shipping label.

No database here: the services hand over plain values.  The SSCC is GS1's Serial Shipping
Container Code - extension digit, company prefix, serial reference, check digit (18 digits) -
printed as a GS1-128 barcode with Application Identifier (00).
"""

from __future__ import annotations

from collections.abc import Sequence

from biip.checksums import gs1_standard_check_digit

from ims_tui.devices.labels import LabelSize

LINES_PER_PAGE = 40
_LINE_DOTS = 24


def make_sscc(company_prefix: str, serial_reference: int, extension: int = 0) -> str:
    """The 18-digit SSCC for ``serial_reference`` under ``company_prefix`` (7 to 10 digits)."""
    if not company_prefix.isdigit() or not 7 <= len(company_prefix) <= 10:
        raise ValueError(f"a GS1 company prefix is 7 to 10 digits, not {company_prefix!r}")
    width = 16 - len(company_prefix)
    if not 0 <= serial_reference < 10**width:
        raise ValueError(f"serial reference {serial_reference} does not fit {width} digits")
    body = f"{extension % 10}{company_prefix}{serial_reference:0{width}d}"
    return body + str(gs1_standard_check_digit(body))


def _field(text: str) -> str:
    """ZPL field data: ``^`` and ``~`` would start commands; keep printable ASCII only."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return cleaned.replace("^", " ").replace("~", " ")


def text_pages_zpl(title: str, lines: Sequence[str], size: LabelSize = LabelSize(100, 150)) -> str:
    """A text document on continuous labels: one ``^XA...^XZ`` per page of ``LINES_PER_PAGE``."""
    pages = [list(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    out = []
    for number, page in enumerate(pages, start=1):
        parts = [f"^XA^CI28^PW{size.width}^LL{size.height}",
                 f"^FO20,20^A0N,32,32^FD{_field(title)}  ({number}/{len(pages)})^FS"]
        for index, line in enumerate(page):
            parts.append(f"^FO20,{70 + index * _LINE_DOTS}^A0N,20,18^FD{_field(line)}^FS")
        parts.append("^XZ")
        out.append("\n".join(parts) + "\n")
    return "".join(out)


def sscc_label_zpl(sscc: str, *, ship_to: Sequence[str], ship_from: str, order: str, size: LabelSize = LabelSize(100, 150)) -> str:
    """The shipping label: addresses, order, and the SSCC as GS1-128 ``(00)``."""
    if len(sscc) != 18 or not sscc.isdigit():
        raise ValueError(f"an SSCC is 18 digits, not {sscc!r}")
    parts = [f"^XA^CI28^PW{size.width}^LL{size.height}",
             f"^FO20,20^A0N,24,24^FDFrom: {_field(ship_from)}^FS",
             "^FO20,60^A0N,28,28^FDTo:^FS"]
    for index, line in enumerate(ship_to[:4]):
        parts.append(f"^FO80,{60 + index * 34}^A0N,30,30^FD{_field(line)}^FS")
    parts += [
        f"^FO20,220^A0N,30,30^FDOrder {_field(order)}^FS",
        "^FO20,280^A0N,24,24^FDSSCC^FS",
        # ^BC with >; (subset C) and >8 (FNC1) makes GS1-128; (00) + 18 digits
        f"^FO40,320^BY3^BCN,200,N,N,N^FD>;>800{sscc}^FS",
        f"^FO40,540^A0N,30,30^FD(00) {sscc}^FS",
        "^XZ",
    ]
    return "\n".join(parts) + "\n"
