"""XLSX exports read back with openpyxl: typed cells, formats, frozen header, filter, no formulas."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from ims_tui.db.models import AuditEntry
from ims_tui.services import stock
from ims_tui.services.actor import Actor
from ims_tui.services.errors import PermissionDenied
from ims_tui.services.transfer import export
from tests.conftest import make_locations, make_product


@pytest.fixture
def stocked(store, admin):
    make_locations(store, "BIN-1")
    make_product(store, "A-1", name="=1+2", category="+SUM(A1)", unit_price=Decimal("1234.5"),
                 reorder_point=Decimal("2.5"), barcodes=(("4006381333931", 1),))
    make_product(store, "L-1", name="@lot item", tracking="lot")
    stock.receive(store, admin, "A-1", Decimal(7), to="BIN-1", cost=Decimal("1.25"))
    stock.receive(store, admin, "L-1", Decimal(3), to="BIN-1", lot="-L9", expiry=dt.date(2027, 5, 1))
    return store


def load(store, admin, kind, tmp_path):
    path = tmp_path / f"{kind}.xlsx"
    result = export(store, admin, kind, path, fmt="xlsx")
    return result, openpyxl.load_workbook(path)[kind]


def test_products_sheet_has_typed_cells_and_no_formulas(stocked, admin, tmp_path):
    result, sheet = load(stocked, admin, "products", tmp_path)
    assert result.rows == 2
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["sku", "name", "description"] and all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:R3"
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["name"].value == "=1+2" and row["name"].data_type == "s" and row["name"].quotePrefix
    assert row["category"].value == "+SUM(A1)" and row["category"].quotePrefix
    assert row["unit_price"].value == 1234.5 and row["unit_price"].number_format == "#,##0.00##"
    assert row["reorder_point"].value == 2.5 and row["reorder_point"].number_format == "#,##0.###"
    assert row["barcodes"].value == "4006381333931" and row["barcodes"].data_type == "s"
    assert row["active"].value is True
    assert row["sku"].quotePrefix is False
    formulas = [cell.coordinate for line in sheet.iter_rows() for cell in line if cell.data_type == "f"]
    assert formulas == []


def test_stock_and_moves_have_numbers_and_dates(stocked, admin, tmp_path):
    _, sheet = load(stocked, admin, "stock", tmp_path)
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["A-1"][2] == 7 and isinstance(rows["A-1"][2], int | float)
    assert rows["L-1"][3] == "-L9"
    assert rows["L-1"][4] == dt.datetime(2027, 5, 1)
    assert sheet.cell(3, 5).number_format == "yyyy-mm-dd"
    _, sheet = load(stocked, admin, "moves", tmp_path)
    first = [cell for cell in sheet[2]]
    assert isinstance(first[1].value, dt.datetime) and first[1].number_format == "yyyy-mm-dd hh:mm:ss"
    assert first[4].value == 7


def test_audit_export_needs_view_audit_and_is_itself_audited(stocked, admin, tmp_path):
    with pytest.raises(PermissionDenied):
        export(stocked, Actor("rita", "receiver", "st"), "audit", tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()
    auditor = Actor("avery", "auditor", "st")
    result, sheet = load(stocked, auditor, "audit", tmp_path)
    assert result.rows > 0
    actions = [row[5] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "stock.receive" in actions and "export" in actions  # the receiver's refusal is in the trail
    with stocked.read() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.username == "avery")).all() == ["export.audit"]


def test_export_to_a_stream_and_very_long_text(stocked, admin, tmp_path):
    make_product(stocked, "LONG", name="Long", description="y" * 40000)
    buffer = io.BytesIO()
    result = export(stocked, admin, "products", buffer, fmt="xlsx")
    assert result.truncated_cells == 1 and "cut" in result.describe()
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["products"]
    long_row = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "LONG")
    assert len(long_row[2]) == 32767
    text = io.BytesIO()
    export(stocked, admin, "products", text, fmt="csv")
    assert ("y" * 40000).encode() in text.getvalue()
