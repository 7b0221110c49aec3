"""The import wizard and the export screen driven through the real app at 80x24, keys only."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from textual.widgets import DataTable, Input, OptionList

from ims_tui.screens.export_dialog import ExportScreen
from ims_tui.screens.home import HomeScreen
from ims_tui.screens.import_wizard import ColumnTargetScreen, ImportScreen
from ims_tui.widgets.files import complete_path
from ims_tui.services.errors import NotFound
from ims_tui.services.inventory import product_detail
from ims_tui.services.transfer import Problem
from tests.app_helpers import actor, make_app, settle, sign_in
from tests.conftest import make_product, open_store

SIZE = (80, 24)
READER = actor("admin", "checker")
PRODUCTS_CSV = (
    "Item Code,Title,Price,Colour\n"
    "A-1,Bolt M6,0.50,red\n"
    "A-2,Nut M6,cheap,blue\n"
    "OLD-1,Old washer renamed,1.25,grey\n"
)


@pytest.fixture
def shop(sqlite_url):
    store = open_store(sqlite_url)
    make_product(store, "OLD-1", name="Old washer")
    yield store
    store.dispose()


def product(store, sku: str):
    try:
        return product_detail(store, READER, sku)
    except NotFound:
        return None


def labels(screen: ImportScreen) -> list[str]:
    """Each file column as shown over the preview: header, then where it goes."""
    table = screen.query_one("#import-columns", DataTable)
    return [column.label.plain for column in table.columns.values()]


async def open_import(pilot, path) -> ImportScreen:
    await sign_in(pilot, "manager")
    await pilot.press("i")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ImportScreen)
    screen.query_one("#import-file", Input).value = str(path)
    await pilot.press("enter")
    await settle(pilot)
    return screen


async def send_column(pilot, screen: ImportScreen, index: int, option_id: str) -> None:
    """Pick file column ``index`` with the arrows, Enter, choose ``option_id`` in the list, Enter."""
    screen.query_one("#import-columns", DataTable).focus()
    await pilot.press("home")
    await pilot.press(*["right"] * index, "enter")
    await settle(pilot)
    picker = pilot.app.screen
    assert isinstance(picker, ColumnTargetScreen)
    options = picker.query_one(OptionList)
    target = options.get_option_index(option_id)
    await pilot.press("home", *["down"] * target, "enter")
    await settle(pilot)
    assert pilot.app.screen is screen


def findings(screen: ImportScreen) -> list:
    return list(screen.findings.rows)


def summary(screen: ImportScreen) -> str:
    return str(screen.query_one("#import-summary").render())


def message(screen: ImportScreen) -> str:
    return str(screen.query_one("#import-message").render())


async def test_a_manager_previews_remaps_dry_runs_and_imports_a_products_csv(shop, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(PRODUCTS_CSV, encoding="utf-8")
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot, path)
        assert "comma-separated" in str(screen.query_one("#import-format").render())
        assert labels(screen) == ["Item Code\n-> sku (synonym)", "Title\n-> name (synonym)",
                                  "Price\n-> unit_price (synonym)", "Colour\nunknown: ignored"]
        assert "unknown columns (ignored): Colour" in str(screen.query_one("#import-notes").render())
        assert app.focused is screen.query_one("#import-columns")

        await pilot.press("ctrl+r")
        await settle(pilot)
        assert summary(screen) == "dry run: 3 rows: 1 to create, 1 to update, 0 unchanged, 1 refused"
        [problem] = findings(screen)
        assert (problem.row, problem.column, problem.value) == (3, "Price", "cheap")
        assert "row 3, column Price, value 'cheap'" in str(screen.query_one("#import-detail").render())
        await pilot.press("enter")  # on the problem: its column, ready to be sent elsewhere
        table = screen.query_one("#import-columns", DataTable)
        assert app.focused is table and table.cursor_column == 2
        assert product(shop, "A-1") is None and product(shop, "OLD-1").name == "Old washer"

        await pilot.press("f10")
        await settle(pilot)
        assert message(screen).startswith("run the dry run first")
        assert product(shop, "A-1") is None

        await send_column(pilot, screen, 2, "-ignore-")
        await send_column(pilot, screen, 3, "category")
        assert labels(screen)[2:] == ["Price\nignored", "Colour\n-> category (mapped)"]
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert summary(screen) == "dry run: 3 rows: 2 to create, 1 to update, 0 unchanged, 0 refused"
        assert [(o.row, o.key, o.action) for o in findings(screen)] == [(2, "A-1", "create"), (3, "A-2", "create"),
                                                                       (4, "OLD-1", "update")]
        assert product(shop, "A-1") is None

        await pilot.press("f10")
        await settle(pilot)
        assert summary(screen) == "3 rows: 2 created, 1 updated, 0 unchanged, 0 refused"
        assert message(screen).startswith("imported products from products.csv")
    bolt = product(shop, "A-1")
    assert (bolt.name, bolt.category, bolt.unit_price) == ("Bolt M6", "red", Decimal(0))
    assert product(shop, "A-2").category == "blue"
    assert product(shop, "OLD-1").name == "Old washer renamed"


async def test_a_bad_row_refuses_the_file_and_its_error_csv_fixes_and_imports(shop, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(PRODUCTS_CSV, encoding="utf-8")
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot, path)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "1 refused" in summary(screen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        errors = tmp_path / "products.errors.csv"
        assert message(screen) == f"nothing written; the rows with their errors are in {errors}"
        with errors.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [(r["import_row"], r["Item Code"]) for r in rows] == [("2", "A-1"), ("3", "A-2"), ("4", "OLD-1")]
        assert rows[1]["import_errors"].startswith("Price: not a money amount")
        assert rows[0]["import_errors"] == ""
        assert product(shop, "A-1") is None and product(shop, "OLD-1").name == "Old washer"

        errors.write_text(errors.read_text(encoding="utf-8-sig").replace("cheap", "0.75"), encoding="utf-8")
        await pilot.press("ctrl+f")
        screen.query_one("#import-file", Input).value = str(errors)
        await pilot.press("enter")
        await settle(pilot)
        assert labels(screen)[:2] == ["import_row\nignored", "import_errors\nignored"]
        await pilot.press("f10")
        await settle(pilot)
        assert message(screen).startswith("run the dry run first"), "F10 must not import a file it has not checked"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert summary(screen) == "dry run: 3 rows: 2 to create, 1 to update, 0 unchanged, 0 refused"
        await pilot.press("f10")
        await settle(pilot)
        assert summary(screen) == "3 rows: 2 created, 1 updated, 0 unchanged, 0 refused"
    assert product(shop, "A-2").unit_price == Decimal("0.75")


async def test_a_clash_between_dry_run_and_import_writes_nothing(shop, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("sku,name,barcodes\nNEW-1,First,\nNEW-2,Second,4006381333931\n", encoding="utf-8")
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_import(pilot, path)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert summary(screen) == "dry run: 2 rows: 2 to create, 0 to update, 0 unchanged, 0 refused"
        make_product(shop, "OWNER", barcodes=(("4006381333931", 1),))  # another station, meanwhile
        await pilot.press("f10")
        await settle(pilot)
        assert message(screen).startswith("nothing was written: row 3")
        [problem] = findings(screen)
        assert isinstance(problem, Problem) and "OWNER" in problem.message
        assert app.bells >= 1
    assert product(shop, "NEW-1") is None and product(shop, "NEW-2") is None


async def test_the_path_field_completes_file_names(shop, tmp_path):
    (tmp_path / "stock-2026.csv").write_text("sku,location,qty\n", encoding="utf-8")
    (tmp_path / "stock-notes.pdf").write_text("", encoding="utf-8")
    assert complete_path(str(tmp_path / "sto"), (".csv",)) == str(tmp_path / "stock-2026.csv")
    assert complete_path(str(tmp_path / "nothing"), (".csv",)) is None
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("i")
        await settle(pilot)
        field = app.screen.query_one("#import-file", Input)
        field.value = str(tmp_path / "sto")
        await settle(pilot)
        await pilot.press("right")
        assert field.value == str(tmp_path / "stock-2026.csv")


async def test_export_writes_an_xlsx_in_the_home_folder_that_reads_back(shop, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "manager")
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.path == f"~/ims-products-{dt.date.today().isoformat()}.csv"
        await pilot.press("tab", "enter", "down", "enter")  # the format: CSV -> XLSX
        await settle(pilot)
        assert screen.path == f"~/ims-products-{dt.date.today().isoformat()}.xlsx"
        await pilot.press("f10")
        await settle(pilot)
        target = tmp_path / f"ims-products-{dt.date.today().isoformat()}.xlsx"
        assert str(screen.query_one("#export-result").render()) == f"exported 1 products as XLSX to {target}"
        await pilot.press("f10")
        await settle(pilot)
        assert str(screen.query_one("#export-message").render()).endswith("exists: press F10 again to replace it")
    sheet = openpyxl.load_workbook(target, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("sku", "name") and rows[1][:2] == ("OLD-1", "Old washer")


@pytest.mark.parametrize("role", ["receiver", "picker"])
async def test_floor_roles_see_neither_import_nor_export(shop, role):
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, role)
        tasks = app.screen.query_one("#tasks", OptionList)
        shown = {tasks.get_option_at_index(i).id for i in range(tasks.option_count)}
        assert "import" not in shown and "export" not in shown and "lookup" in shown
        await pilot.press("i")
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_an_auditor_exports_but_does_not_import(shop):
    app = make_app(shop, idle_lock_minutes=0)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "auditor")
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
