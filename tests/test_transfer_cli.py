"""``ims import`` and ``ims export`` through the real CLI: output, exit codes, files."""

from __future__ import annotations

import json

import openpyxl

from ims_tui.cli.main import main
from tests.conftest import make_locations, make_product, open_store


def ims(url: str, *args: str) -> int:
    return main(["--db", url, *args])


def test_import_dry_run_json_then_real_run(sqlite_url, tmp_path, capsys):
    open_store(sqlite_url).dispose()
    path = tmp_path / "p.csv"
    path.write_text("Item Code;Title;Price\nA-1;Bolt;0,5\nA-2;Nut;1\n", encoding="utf-8")
    assert ims(sqlite_url, "import", "products", str(path), "--dry-run", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["row"], r["key"], r["action"]) for r in data["row_outcomes"]] == [(2, "A-1", "create"), (3, "A-2", "create")]
    assert data["committed"] is False and data["format"]["delimiter"] == ";"
    assert ims(sqlite_url, "import", "products", str(path)) == 0
    out = capsys.readouterr().out
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 refused" in out
    assert "Item Code -> sku (synonym)" in out


def test_bad_content_exits_2_with_an_error_file_and_a_conflict_exits_1(sqlite_url, tmp_path, capsys):
    store = open_store(sqlite_url)
    make_product(store, "OWNER", barcodes=(("4006381333931", 1),))
    store.dispose()
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,unit_price\nA-1,Bolt,cheap\n", encoding="utf-8")
    errors = tmp_path / "errors.csv"
    assert ims(sqlite_url, "import", "products", str(bad), "--errors", str(errors)) == 2
    out = capsys.readouterr().out
    assert "row 2, column unit_price, value 'cheap': not a money amount" in out
    assert f"nothing was written; rows with their errors written to {errors}" in out
    assert "import_errors" in errors.read_text(encoding="utf-8-sig")
    clash = tmp_path / "clash.csv"
    clash.write_text("sku,name,barcodes\nNEW,New,4006381333931\n", encoding="utf-8")
    assert ims(sqlite_url, "import", "products", str(clash)) == 1
    assert "already belongs to product OWNER" in capsys.readouterr().out


def test_map_option_and_usage_errors(sqlite_url, tmp_path, capsys):
    open_store(sqlite_url).dispose()
    path = tmp_path / "l.csv"
    path.write_text("Bin;Zone\nB-1;\n", encoding="utf-8")
    assert ims(sqlite_url, "import", "locations", str(path), "--map", "Zone=") == 0
    assert "Zone: ignored" in capsys.readouterr().out
    assert ims(sqlite_url, "import", "locations", str(path), "--map", "Nope=parent") == 2
    assert capsys.readouterr().err.startswith("error: --map nope=...: the file has no column 'nope'")
    assert ims(sqlite_url, "import", "locations", str(tmp_path / "missing.csv")) == 2
    assert "error: no such file" in capsys.readouterr().err


def test_export_to_stdout_and_to_xlsx_file(sqlite_url, tmp_path, capsys):
    store = open_store(sqlite_url)
    make_locations(store, "BIN-1")
    make_product(store, "A-1", name="=evil()")
    store.dispose()
    assert ims(sqlite_url, "export", "products") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("A-1,'=evil()")
    target = tmp_path / "p.xlsx"
    assert ims(sqlite_url, "export", "products", "-o", str(target)) == 0
    assert f"exported 1 products as XLSX to {target}" in capsys.readouterr().out
    assert openpyxl.load_workbook(target)["products"]["B2"].value == "=evil()"
    assert ims(sqlite_url, "export", "audit", "--format", "csv", "-o", str(tmp_path / "audit.csv")) == 0
    assert ims(sqlite_url, "export", "products", "-o", str(tmp_path / "no" / "dir.csv")) == 2
    assert "no such directory" in capsys.readouterr().err
