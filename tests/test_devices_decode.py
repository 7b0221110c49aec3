"""Scan decoding: real-world GS1, EAN/UPC and plain codes, and the ways scans go wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ims_tui.devices.decode import decode_scan

GS = "\x1d"

# (scan, expected fields). Every field not listed must be at its empty value, and a case
# without "problems" must decode without any.
CASES = [
    pytest.param(
        f"]C101095011010209171719050810ABCD1234{GS}2110",
        dict(symbology="GS1-128", gtin="09501101020917", gtin_valid=True, expiry=date(2019, 5, 8),
             lot="ABCD1234", serial="10"),
        id="gs1-128 with identifier and GS after the lot",
    ),
    pytest.param(
        f"]d201095060001343521725013110LOT-7{GS}21SN0042",
        dict(symbology="GS1 DataMatrix", gtin="09506000134352", gtin_valid=True, expiry=date(2025, 1, 31),
             lot="LOT-7", serial="SN0042"),
        id="pharma datamatrix",
    ),
    pytest.param(
        "0109501101530003172512311021X",
        dict(gtin="09501101530003", gtin_valid=True, expiry=date(2025, 12, 31), lot="21X"),
        id="no identifier, lot last needs no separator",
    ),
    pytest.param(
        "]d20109501101530003<GS>10AB/12<GS>3102001250",
        dict(symbology="GS1 DataMatrix", gtin="09501101530003", gtin_valid=True, lot="AB/12",
             net_weight_kg=Decimal("12.50")),
        id="GS typed as <GS>, net weight 310x",
    ),
    pytest.param(
        r"]Q30109501101530003\x1d10L1\x1d3005",
        dict(symbology="GS1 QR Code", gtin="09501101530003", gtin_valid=True, lot="L1", quantity=Decimal(5)),
        id="GS pasted as backslash-x1d, count 30",
    ),
    pytest.param(
        "]C10009501101530000018937120",
        dict(symbology="GS1-128", quantity=Decimal(120),
             elements=(("00", "Serial Shipping Container Code (SSCC)", "095011015300000189"),)),
        id="pallet SSCC with count 37 in other elements",
    ),
    pytest.param(
        "]e00109501101530003",
        dict(symbology="GS1 DataBar", gtin="09501101530003", gtin_valid=True),
        id="databar",
    ),
    pytest.param(
        "(01)09501101530003(17)250100(10)ABC",
        dict(gtin="09501101530003", gtin_valid=True, expiry=date(2025, 1, 31), lot="ABC"),
        id="typed in brackets, day 00 is the month's last day",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352/10/ABC/21/123?17=250101",
        dict(gtin="09506000134352", gtin_valid=True, lot="ABC", serial="123", expiry=date(2025, 1, 1),
             digital_link=True),
        id="digital link",
    ),
    pytest.param(
        "]Q1https://id.gs1.org/01/09506000134352?3103=000500",
        dict(symbology="QR Code", gtin="09506000134352", gtin_valid=True, net_weight_kg=Decimal("0.500"),
             digital_link=True),
        id="digital link in a plain QR code",
    ),
    pytest.param(
        "]E05901234123457",
        dict(symbology="EAN-13/UPC", gtin="05901234123457", gtin_valid=True, plain_code="5901234123457"),
        id="ean-13 with identifier",
    ),
    pytest.param(
        "4006381333931",
        dict(gtin="04006381333931", gtin_valid=True, plain_code="4006381333931"),
        id="ean-13 bare",
    ),
    pytest.param(
        "036000291452",
        dict(gtin="00036000291452", gtin_valid=True, plain_code="036000291452"),
        id="upc-a bare",
    ),
    pytest.param(
        "]E496385074",
        dict(symbology="EAN-8", gtin="00000096385074", gtin_valid=True, plain_code="96385074"),
        id="ean-8",
    ),
    pytest.param(
        "]E001234565",
        dict(symbology="EAN-13/UPC", gtin="00012345000065", gtin_valid=True, plain_code="012345000065"),
        id="upc-e is expanded",
    ),
    pytest.param("A-03-04", dict(plain_code="A-03-04"), id="bin label"),
    pytest.param("]C0SKU-1001", dict(symbology="Code 128", plain_code="SKU-1001"), id="plain code 128"),
    pytest.param("https://example.com/menu", dict(plain_code="https://example.com/menu"), id="ordinary url"),
    pytest.param("1234567", dict(plain_code="1234567"), id="7-digit internal number"),
    pytest.param("]]odd", dict(plain_code="]]odd"), id="bracket that is no identifier"),
    # --- problems ---
    pytest.param(
        "]E05901234123458",
        dict(symbology="EAN-13/UPC", gtin="05901234123458", gtin_valid=False, plain_code="5901234123458",
             problems=["wrong check digit (expected 7, got 8)"]),
        id="ean-13 bad check digit",
    ),
    pytest.param(
        "01095011015300041725123100123",
        dict(gtin="09501101530004", gtin_valid=False, expiry=date(2025, 12, 31),
             problems=["wrong check digit (expected 3, got 4)", "cannot read (00) Serial Shipping Container Code"]),
        id="gs1 bad check digit and a truncated element",
    ),
    pytest.param(
        "]C1010950110153000317250229",
        dict(symbology="GS1-128", gtin="09501101530003", gtin_valid=True,
             problems=["expiry (17) '250229' is not a date"]),
        id="29 February of a common year",
    ),
    pytest.param(
        "]C101095011015300031725131310ABC",
        dict(symbology="GS1-128", gtin="09501101530003", gtin_valid=True,
             problems=["expiry (17) '251313' is not a date"]),
        id="month 13 stops reading but keeps the GTIN",
    ),
    pytest.param(
        "010950110153000310ABC12317251231",
        dict(gtin="09501101530003", gtin_valid=True, lot="ABC12317251231",
             problems=["lot 'ABC12317251231' seems to contain (17) 251231", "probably 'ABC123'"]),
        id="missing GS after lot swallows the expiry",
    ),
    pytest.param(
        "010950110153000310ABC1231725123121SER0001",
        dict(gtin="09501101530003", gtin_valid=True, lot="ABC1231725123121SER0",
             problems=["seems to contain (17) 251231 (21) SER0001", "probably 'ABC123'"]),
        id="missing GS after lot runs past 20 characters",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134353",
        dict(gtin="09506000134353", gtin_valid=False, digital_link=True,
             problems=["wrong check digit (expected 2, got 3)"]),
        id="digital link with bad check digit",
    ),
    pytest.param(
        "https://id.gs1.org/01/09506000134352?17=251313",
        dict(digital_link=True, problems=["not a valid GS1 Digital Link"]),
        id="digital link with bad date",
    ),
    pytest.param(
        "]C1ABC", dict(symbology="GS1-128", problems=["no GS1 application identifier at 'ABC'"]),
        id="gs1 symbology without gs1 data",
    ),
    pytest.param("", dict(plain_code="", problems=["empty scan"]), id="empty"),
]

EMPTY = dict(
    symbology=None, gtin=None, gtin_valid=False, lot=None, expiry=None, serial=None, quantity=None,
    net_weight_kg=None, elements=(), digital_link=False, plain_code=None,
)


@pytest.mark.parametrize(("scan", "expected"), CASES)
def test_decodes_real_world_scans(scan: str, expected: dict) -> None:
    decoded = decode_scan(scan)
    expected_problems = expected.pop("problems", [])
    for name, empty in EMPTY.items():
        assert getattr(decoded, name) == expected.get(name, empty), name
    if expected_problems:
        text = " | ".join(decoded.problems)
        for fragment in expected_problems:
            assert fragment in text
    else:
        assert decoded.problems == ()


def test_gtin_and_problems_survive_json() -> None:
    data = decode_scan("]C1010950110153000317250229" + "3102001250").to_dict()
    assert data["gtin"] == "09501101530003"
    assert data["expiry"] is None
    assert data["net_weight_kg"] == "12.50"
    assert data["problems"] == ["expiry (17) '250229' is not a date (YYMMDD)"]


def test_a_lot_with_digits_is_not_flagged_when_the_scanner_sends_gs() -> None:
    decoded = decode_scan(f"0109501101530003{GS}10ABC12317251231{GS}21S1")
    assert decoded.lot == "ABC12317251231"
    assert decoded.serial == "S1"
    assert decoded.problems == ()


def test_summary_names_what_a_receiver_checks() -> None:
    line = decode_scan(f"]C101095011010209171719050810ABCD1234{GS}2110").summary()
    assert line == "GS1-128  GTIN 09501101020917  lot ABCD1234  expiry 2019-05-08  serial 10"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            str.__add__,
            st.sampled_from(["]C1", "]d2", "]Q3", "]e0", "]E0", "]E4", "]Y", "01", "(01)", "https://id.gs1.org/01/"]),
            st.text(alphabet="0123456789()/?=<>GS\x1dABCxz-_. "),
        ),
    )
)
def test_never_raises(text: str) -> None:
    decoded = decode_scan(text)
    assert decoded.raw == text
    assert isinstance(decoded.to_dict(), dict)
