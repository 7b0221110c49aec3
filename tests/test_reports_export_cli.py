"""Report exports read back with openpyxl, and the CLI's report and settings commands."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest

from ims_tui.cli.main import main
from ims_tui.db.engine import Store
from ims_tui.db.models import Product
from ims_tui.services.reports import ReportParams
from ims_tui.services.reports.export import export_report
from tests import reports_store
from tests.conftest import open_store
from tests.reports_store import ADMIN, PERIOD


@pytest.fixture
def fixed_sqlite(sqlite_url):
    store = open_store(sqlite_url)
    reports_store.build(store)
    with store.write() as session:  # a name that looks like a formula must stay text
        session.query(Product).filter(Product.sku == "OUT-1").update({"name": "=HYPERLINK(\"http://x\")"})
    yield store, sqlite_url
    store.dispose()


def test_xlsx_has_typed_cells_a_native_chart_and_no_formulas(fixed_sqlite, tmp_path):
    store, _ = fixed_sqlite
    path = tmp_path / "perf.xlsx"
    result = export_report(store, ADMIN, "performance", ReportParams(date_from=PERIOD[0], date_to=PERIOD[1]),
                           path, fmt="xlsx")
    assert result.rows == 5
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["performance"]
    header = [cell.value for cell in sheet[1]]
    assert header[:5] == ["sku", "name", "category", "shipped_qty", "cogs"]
    data = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert data["FIFO-1"][3] == 22 and data["FIFO-1"][4] == 256 and isinstance(data["FIFO-1"][7], float)
    assert data["OUT-1"][1] == "=HYPERLINK(\"http://x\")"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    chart_sheet = workbook["chart"]
    assert len(chart_sheet._charts) == 1
    assert [row for row in chart_sheet.iter_rows(min_row=2, max_col=2, values_only=True)][0] == ("FIFO-1", 184)


def test_csv_export_of_the_moves_report(fixed_sqlite, tmp_path):
    store, _ = fixed_sqlite
    path = tmp_path / "moves.csv"
    export_report(store, ADMIN, "moves", ReportParams(date_from=PERIOD[0], date_to=PERIOD[1]), path, fmt="csv")
    with path.open(encoding="utf-8-sig") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 30
    assert lines[0]["sku"] == "FIFO-1" and lines[0]["unit_cost"] == "10"


def test_cli_report_json_text_and_refusals(fixed_sqlite, capsys, tmp_path):
    _, url = fixed_sqlite
    assert main(["--db", url, "--json", "report", "valuation", "--as-of", "2026-01-11", "--by", "warehouse"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {row["warehouse"]: row["book_value"] for row in payload["rows"]} == {"WH1": "362", "WH2": "10"}
    assert main(["--db", url, "report", "trace", "--so", "SO-000001"]) == 0
    out = capsys.readouterr().out
    assert "Alpha Cafe" in out and "Soup Supplier Ltd" in out
    assert main(["--db", url, "report", "turnover", "--warehouse", "WH1"]) == 2
    assert "does not take --warehouse" in capsys.readouterr().err
    assert main(["--db", url, "report", "nope"]) == 2
    assert main(["--db", url, "report", "aging", "--format", "xlsx"]) == 2
    target = tmp_path / "aging.xlsx"
    assert main(["--db", url, "report", "aging", "-o", str(target)]) == 0
    assert openpyxl.load_workbook(target)["chart"]._charts


def test_cli_settings_show_and_valuation(fixed_sqlite, capsys, monkeypatch):
    _, url = fixed_sqlite
    assert main(["--db", url, "settings", "valuation", "average"]) == 0
    assert "valuation_method: fifo -> average" in capsys.readouterr().out
    assert main(["--db", url, "--json", "settings", "show"]) == 0
    assert json.loads(capsys.readouterr().out)["valuation_method"] == "average"
    assert main(["--db", url, "settings", "valuation", "hifo"]) == 2
    assert main(["--db", url, "settings", "abc", "--a", "96"]) == 2  # A's boundary above B's
    assert "must be below" in capsys.readouterr().err
    store = Store(url)
    from ims_tui.services import users

    users.add_user(store, ADMIN, "morgan", "manager", "pw-morgan-1234")
    store.dispose()
    monkeypatch.setenv("IMS_PASSWORD", "pw-morgan-1234")
    assert main(["--db", url, "--user", "morgan", "settings", "valuation", "lifo"]) == 3  # reports yes, settings no
    assert main(["--db", url, "--user", "morgan", "report", "stock"]) == 0
