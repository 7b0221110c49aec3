"""Imports of awkward real-world files: each gives its documented result, and a refused file
changes nothing (on SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from ims_tui.db.models import AuditEntry, Balance, Barcode, Location, Posting, Product, Supplier, SupplierItem
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput, PermissionDenied
from ims_tui.services.transfer import ImportOptions, parse_map_options, preview_file, run_import
from tests.conftest import make_locations, make_product


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def snapshot(store) -> dict:
    """Everything an import may touch, to prove a refused import touched nothing."""
    with store.read() as session:
        return {
            "products": sorted(session.execute(select(Product.sku, Product.name, Product.unit_price, Product.tracking)).all()),
            "barcodes": sorted(session.execute(select(Barcode.code, Barcode.pack_qty)).all()),
            "suppliers": sorted(session.execute(select(Supplier.name, Supplier.code)).all()),
            "items": session.scalar(select(func.count()).select_from(SupplierItem)),
            "locations": sorted(session.scalars(select(Location.code))),
            "balances": sorted(session.execute(select(Balance.product_id, Balance.location_id, Balance.on_hand)).all()),
            "postings": session.scalar(select(func.count()).select_from(Posting)),
        }


def product(store, sku: str) -> SimpleNamespace | None:
    """The product's columns as plain attributes (the session is gone when the read ends)."""
    with store.read() as session:
        row = session.execute(select(Product.__table__).where(Product.sku == sku)).mappings().one_or_none()
        return None if row is None else SimpleNamespace(**row)


def test_utf8_with_bom_reads_the_first_header(store, admin, tmp_path):
    path = write(tmp_path, "bom.csv", "\ufeffsku,name\nA-1,Crème brûlée torch\n")
    report = run_import(store, admin, "products", path)
    assert report.ok and report.committed, report.render()
    assert report.format.encoding == "utf-8-sig"
    assert product(store, "A-1").name == "Crème brûlée torch"


def test_cp1252_file_is_detected_and_decoded(store, admin, tmp_path):
    path = write(tmp_path, "win.csv", "sku;name;unit_price\nA-1;Größe € 5 – café;1.234,50\n", encoding="cp1252")
    report = run_import(store, admin, "products", path)
    assert report.committed, report.render()
    assert (report.format.encoding, report.format.delimiter, report.format.decimal) == ("cp1252", ";", ",")
    saved = product(store, "A-1")
    assert saved.name == "Größe € 5 – café"
    assert saved.unit_price == Decimal("1234.50")


def test_semicolons_with_decimal_comma(store, admin, tmp_path):
    path = write(tmp_path, "semi.csv", "SKU;Name;Price;Cost\nA-1;Bolt;0,25;0,1\nA-2;Nut;1.000,5;2\n")
    report = run_import(store, admin, "products", path)
    assert report.committed, report.render()
    assert report.mapping.synonyms == {"Price": "unit_price", "Cost": "unit_cost"}
    assert product(store, "A-1").standard_cost == Decimal("0.1")
    assert product(store, "A-2").unit_price == Decimal("1000.5")


def test_tabs(store, admin, tmp_path):
    path = write(tmp_path, "tabs.tsv", "sku\tname\tcategory\nA-1\tBolt, zinc\tFasteners\n")
    report = run_import(store, admin, "products", path)
    assert report.committed and report.format.delimiter == "\t"
    assert product(store, "A-1").name == "Bolt, zinc"


def test_single_column_file(store, admin, tmp_path):
    path = write(tmp_path, "one.csv", "code\nBIN-1\nBIN-2\n\nBIN-3\n")
    report = run_import(store, admin, "locations", path)
    assert report.committed and report.created == 3, report.render()
    with store.read() as session:
        assert {"BIN-1", "BIN-2", "BIN-3"} <= set(session.scalars(select(Location.code)))


def test_quoted_fields_with_embedded_newlines_and_row_numbers(store, admin, tmp_path):
    path = write(tmp_path, "nl.csv", 'sku,name,description\nA-1,Bolt,"line one\nline two, with ""quotes"""\nA-2,,x\n')
    report = run_import(store, admin, "products", path, dry_run=True)
    assert [p.describe() for p in report.problems] == ["row 3, column name: name is required"]
    path = write(tmp_path, "nl2.csv", 'sku,name,description\nA-1,Bolt,"line one\nline two, with ""quotes"""\n')
    assert run_import(store, admin, "products", path).committed
    assert product(store, "A-1").description == 'line one\nline two, with "quotes"'


def test_a_one_megabyte_field_imports_where_the_column_allows_it(store, admin, tmp_path):
    huge = "x" * (1024 * 1024)
    path = write(tmp_path, "big.csv", f"sku,name,description\nA-1,Bolt,{huge}\n")
    report = run_import(store, admin, "products", path)
    assert report.committed, report.render()
    assert len(product(store, "A-1").description) == 1024 * 1024
    path = write(tmp_path, "bigname.csv", f"sku,name\nA-2,{huge}\n")
    report = run_import(store, admin, "products", path)
    assert not report.committed
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "name")
    assert problem.message == "longer than 300 characters (1048576)"
    assert len(problem.value) < 200  # the report never carries the megabyte around
    assert product(store, "A-2") is None


def test_duplicates_in_the_file_are_refused_and_nothing_is_written(store, admin, tmp_path):
    before = snapshot(store)
    path = write(tmp_path, "dup.csv", "sku,name,barcodes\nA-1,Bolt,4006381333931\nA-2,Nut,04006381333931\nA-1,Bolt again,\n")
    report = run_import(store, admin, "products", path)
    assert not report.committed
    assert [p.describe() for p in report.sorted_problems()] == [
        "row 3, column barcodes, value '04006381333931': barcode 04006381333931 is also on row 2 (A-1)",
        "row 4, column sku, value 'A-1': SKU A-1 is also on row 2",
    ]
    assert (report.created, report.refused, report.exit_code) == (1, 2, 2)
    assert snapshot(store) == before


def test_bad_numbers_name_row_column_value(store, admin, tmp_path):
    before = snapshot(store)
    path = write(tmp_path, "num.csv", "sku,name,unit_price,reorder_point,unit_cost\nA-1,Bolt,12abc,-3,0.12345\nA-2,Nut,1,2,3\n")
    report = run_import(store, admin, "products", path)
    assert [p.describe() for p in report.sorted_problems()] == [
        "row 2, column unit_price, value '12abc': not a money amount (this file uses a decimal point)",
        "row 2, column reorder_point, value '-3': quantity cannot be negative",
        "row 2, column unit_cost, value '0.12345': more than 4 decimal places",
    ]
    assert snapshot(store) == before


def test_bad_dates_and_day_first_dates(store, admin, tmp_path):
    make_product(store, "L-1", tracking="lot")
    make_locations(store, "BIN-1")
    before = snapshot(store)
    path = write(tmp_path, "dates.csv", "sku,location,qty,lot,expiry\nL-1,BIN-1,5,A,31/02/2027\nL-1,BIN-1,5,B,2027-13-01\nL-1,BIN-1,5,C,next year\n")
    report = run_import(store, admin, "stock", path)
    messages = [(p.row, p.column, p.message) for p in report.sorted_problems()]
    assert messages == [
        (2, "expiry", "not a date: day is out of range for month"),
        (3, "expiry", "not a date: month must be in 1..12"),
        (4, "expiry", "not a date (use YYYY-MM-DD or DD/MM/YYYY)"),
    ]
    assert snapshot(store) == before
    path = write(tmp_path, "good.csv", "sku,location,qty,lot,expiry\nL-1,BIN-1,5,A,28/02/2027\n")
    assert run_import(store, admin, "stock", path).committed
    with store.read() as session:
        from ims_tui.db.models import Lot
        assert session.scalars(select(Lot.expiry).where(Lot.code == "A")).one().isoformat() == "2027-02-28"


def test_bad_check_digits_are_refused(store, admin, tmp_path):
    before = snapshot(store)
    path = write(tmp_path, "gtin.csv", "sku,name,barcodes\nA-1,Bolt,4006381333932\nA-2,Nut,ABC-123|96385074\n")
    report = run_import(store, admin, "products", path)
    [problem] = report.problems
    assert (problem.row, problem.column, problem.value) == (2, "barcodes", "4006381333932")
    assert "check digit" in problem.message
    assert snapshot(store) == before


def test_unknown_references_are_refused_but_references_within_the_file_work(store, admin, tmp_path):
    before = snapshot(store)
    path = write(tmp_path, "refs.csv", "sku,name,supplier,default_location\nA-1,Bolt,Nobody Ltd,NOWHERE\n")
    report = run_import(store, admin, "products", path)
    assert [p.message for p in report.sorted_problems()] == [
        "unknown location NOWHERE (import locations first)",
        "unknown supplier Nobody Ltd (import suppliers first)",
    ]
    path = write(tmp_path, "stock.csv", "sku,location,qty\nGHOST,NOWHERE,1\n")
    report = run_import(store, admin, "stock", path)
    assert {p.column for p in report.problems} == {"sku", "location"}
    path = write(tmp_path, "locs.csv", "code,parent\nA-01,A\nA,MISSING\n")
    report = run_import(store, admin, "locations", path)
    assert [p.describe() for p in report.problems] == ["row 3, column parent, value 'MISSING': unknown location MISSING (not in the store or this file)"]
    assert snapshot(store) == before
    path = write(tmp_path, "locs2.csv", "code,parent,kind\nA-01,A,internal\nA,,view\n")  # parent further down
    assert run_import(store, admin, "locations", path).committed
    with store.read() as session:
        child = session.scalars(select(Location).where(Location.code == "A-01")).one()
        assert child.parent.code == "A" and child.parent.kind == "view"


def test_parent_cycles_are_refused(store, admin, tmp_path):
    path = write(tmp_path, "cycle.csv", "code,parent\nA,B\nB,A\n")
    report = run_import(store, admin, "locations", path)
    assert not report.committed
    assert all("circle" in p.message for p in report.problems) and len(report.problems) == 2


def test_formula_payloads_are_stored_as_text_and_exported_neutralised(store, admin, tmp_path):
    from ims_tui.services.transfer import export

    path = write(tmp_path, "evil.csv", 'sku,name,category\nA-1,"=HYPERLINK(""http://x"",""y"")",@SUM(1)\nA-2,-2+3,+cmd\n')
    assert run_import(store, admin, "products", path).committed
    assert product(store, "A-1").name == '=HYPERLINK("http://x","y")'
    out = tmp_path / "out.csv"
    export(store, admin, "products", out)
    text = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text and "'-2+3" in text and "'+cmd" in text
    # and the neutralised export imports back unchanged
    assert run_import(store, admin, "products", out, dry_run=True).unchanged == 2


def test_conflicts_with_the_store_exit_1(store, admin, tmp_path):
    make_product(store, "OWNER", barcodes=(("4006381333931", 1),))
    make_product(store, "STOCKED")
    make_locations(store, "BIN-1")
    from ims_tui.services import stock
    stock.receive(store, admin, "STOCKED", Decimal(2), to="BIN-1")
    before = snapshot(store)
    path = write(tmp_path, "clash.csv", "sku,name,barcodes,tracking\nNEW,New,4006381333931,\nSTOCKED,Stocked,,lot\n")
    report = run_import(store, admin, "products", path)
    assert [p.message for p in report.sorted_problems()] == [
        "barcode 4006381333931 already belongs to product OWNER",
        "cannot change tracking of STOCKED from none to lot while it has stock",
    ]
    assert report.exit_code == 1
    assert snapshot(store) == before


def test_updates_by_sku_change_only_given_cells(store, admin, tmp_path):
    make_product(store, "A-1", name="Bolt", category="Fasteners", unit_price=Decimal("2"))
    path = write(tmp_path, "upd.csv", "sku,name,unit_price,category\nA-1,Bolt M6,,\nA-2,New,,\n")
    report = run_import(store, admin, "products", path, dry_run=True)
    assert [(o.row, o.key, o.action) for o in report.outcomes()] == [(2, "A-1", "update"), (3, "A-2", "create")]
    assert product(store, "A-1").name == "Bolt"  # dry run wrote nothing
    report = run_import(store, admin, "products", path)
    assert (report.created, report.updated) == (1, 1)
    saved = product(store, "A-1")
    assert (saved.name, saved.unit_price, saved.category) == ("Bolt M6", Decimal("2"), "Fasteners")
    assert run_import(store, admin, "products", path, dry_run=True).unchanged == 2
    with store.read() as session:
        entries = session.scalars(select(AuditEntry.summary).where(AuditEntry.action == "import.products")).all()
    assert len(entries) == 1 and entries[0].startswith("2 rows: 1 created, 1 updated")


def test_barcodes_packs_and_supplier_items(store, admin, tmp_path):
    write(tmp_path, "s.csv", "name,code\nAcme Ltd,ACME\nGlobex,GLBX\n")
    assert run_import(store, admin, "suppliers", tmp_path / "s.csv").committed
    path = write(tmp_path, "p.csv", "sku,name,barcodes,supplier,supplier_sku,supplier_cost\n"
                                    "A-1,Bolt,4006381333931|14006381333938*12,Acme Ltd|glbx,AC-1|GX-1,1.5|1.6\n")
    assert run_import(store, admin, "products", path).committed
    with store.read() as session:
        assert sorted(session.execute(select(Barcode.code, Barcode.pack_qty)).all()) == [
            ("14006381333938", Decimal(12)), ("4006381333931", Decimal(1))]
        assert sorted(session.execute(select(SupplierItem.supplier_sku, SupplierItem.cost)).all()) == [
            ("AC-1", Decimal("1.5")), ("GX-1", Decimal("1.6"))]
    path = write(tmp_path, "p2.csv", "sku,name,barcodes,supplier\nA-1,Bolt,4006381333931*6,Acme Ltd\n")
    assert run_import(store, admin, "products", path).updated == 1
    with store.read() as session:
        assert session.execute(select(Barcode.code, Barcode.pack_qty)).all() == [("4006381333931", Decimal(6))]
        assert session.execute(select(SupplierItem.supplier_sku, SupplierItem.cost)).all() == [("AC-1", Decimal("1.5"))]


def test_opening_stock_posts_through_the_ledger_once(store, admin, tmp_path):
    from ims_tui.services.integrity import run_check

    make_product(store, "A-1")
    make_product(store, "S-1", tracking="serial")
    make_locations(store, "BIN-1")
    path = write(tmp_path, "stock.csv", "sku,location,qty,unit_cost,serial\nA-1,BIN-1,10,2.5,\nA-1,BIN-1,10,2.5,\nS-1,BIN-1,2,9,X1|X2\n")
    report = run_import(store, admin, "stock", path)
    assert report.committed and report.created == 3, report.render()
    again = run_import(store, admin, "stock", path)
    assert (again.created, again.unchanged) == (0, 3)
    path = write(tmp_path, "more.csv", "sku,location,qty,unit_cost,serial\nA-1,BIN-1,10,2.5,\nA-1,BIN-1,10,2.5,\nA-1,BIN-1,10,2.5,\nS-1,BIN-1,2,9,X1|X2\n")
    assert run_import(store, admin, "stock", path).created == 1  # only the added third pallet
    with store.read() as session:
        on_hand = session.execute(select(Product.sku, func.sum(Balance.on_hand)).join(Product, Product.id == Balance.product_id)
                                  .group_by(Product.sku).order_by(Product.sku)).all()
        assert on_hand == [("A-1", Decimal(30)), ("S-1", Decimal(2))]
        assert set(session.scalars(select(Posting.reason))) == {"opening stock import"}
        assert product(store, "A-1").average_cost == Decimal("2.5")
    assert run_check(store).clean


def test_stock_rules_serials_lots_and_whole_units(store, admin, tmp_path):
    make_product(store, "S-1", tracking="serial")
    make_product(store, "L-1", tracking="lot")
    make_product(store, "E-1")
    make_locations(store, "BIN-1")
    before = snapshot(store)
    path = write(tmp_path, "stock.csv", "sku,location,qty,lot,expiry,serial\nS-1,BIN-1,2,,,X1\nL-1,BIN-1,1,,,\nE-1,BIN-1,1.5,,,\n"
                                        "E-1,ADJUSTMENT,1,,,\nL-1,BIN-1,1,A,2027-01-01,\nL-1,BIN-1,1,A,2027-02-01,\nE-1,BIN-1,0,,,\n")
    report = run_import(store, admin, "stock", path)
    assert [(p.row, p.column) for p in report.sorted_problems()] == [
        (2, "serial"), (3, "lot"), (4, "qty"), (5, "location"), (7, "expiry"), (8, "qty")]
    assert snapshot(store) == before


def test_header_matching_synonyms_map_and_unknown_columns(store, admin, tmp_path):
    path = write(tmp_path, "m.csv", "Item Code,Title,EAN,Colour\nA-1,Bolt,4006381333931,red\n")
    preview = preview_file("products", path)
    assert preview.mapping.used == {"sku": 0, "name": 1, "barcodes": 2}
    assert preview.mapping.unknown == ("Colour",)
    assert preview.rows == (("A-1", "Bolt", "4006381333931", "red"),)
    options = ImportOptions(mapping=parse_map_options(["colour=category", "Title=name"]))
    report = run_import(store, admin, "products", path, options=options)
    assert report.committed
    assert product(store, "A-1").category == "red"
    with pytest.raises(BadInput, match="no column 'size'"):
        run_import(store, admin, "products", path, options=ImportOptions(mapping=parse_map_options(["size=category"])))
    with pytest.raises(BadInput, match="no column 'colour_code'"):
        run_import(store, admin, "products", path, options=ImportOptions(mapping=parse_map_options(["colour=colour_code"])))


def test_missing_required_column_and_empty_file(store, admin, tmp_path):
    report = run_import(store, admin, "products", write(tmp_path, "nosku.csv", "name\nBolt\n"))
    assert report.problems[0].message.startswith("missing required column sku")
    assert report.exit_code == 2
    report = run_import(store, admin, "products", write(tmp_path, "empty.csv", ""))
    assert report.problems[0].message.startswith("the file is empty")


def test_undecodable_and_utf16_files_are_refused_with_a_reason(store, admin, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"sku,name\nA-1,\x81\x8d\n")
    report = run_import(store, admin, "products", path)
    assert "neither UTF-8 nor Windows-1252" in report.problems[0].message
    path.write_bytes("sku,name\n".encode("utf-16"))
    assert "UTF-16" in run_import(store, admin, "products", path).problems[0].message


def test_error_report_can_be_fixed_and_imported(store, admin, tmp_path):
    path = write(tmp_path, "in.csv", "sku;name;unit_price\nA-1;Bolt;1,5\nA-2;;2\nA-3;=1+1;x\n")
    errors = tmp_path / "errors.csv"
    report = run_import(store, admin, "products", path, errors_path=errors)
    assert report.errors_file == str(errors) and not report.committed
    lines = errors.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "import_row;import_errors;sku;name;unit_price"
    assert lines[1] == "2;;A-1;Bolt;1,5"
    assert lines[2] == "3;name: name is required;A-2;;2"
    assert lines[3] == "4;unit_price: not a money amount (this file uses a decimal comma);A-3;'=1+1;x"
    fixed = errors.read_text(encoding="utf-8-sig").replace("A-2;;2", "A-2;Nut;2").replace("'=1+1;x", "'=1+1;3")
    errors.write_text(fixed, encoding="utf-8-sig")
    report = run_import(store, admin, "products", errors)
    assert report.committed and report.created == 3, report.render()
    assert [m.how for m in report.mapping.matches][:2] == ["error_report", "error_report"]
    assert product(store, "A-3").name == "=1+1"


def test_imports_need_the_import_permission(store, tmp_path):
    path = write(tmp_path, "p.csv", "sku,name\nA-1,Bolt\n")
    picker = Actor("pat", "picker", "st")
    with pytest.raises(PermissionDenied):
        run_import(store, picker, "products", path, dry_run=True)
    assert product(store, "A-1") is None
    with store.read() as session:
        assert session.scalars(select(AuditEntry.outcome).where(AuditEntry.username == "pat")).all() == ["denied"]


def test_progress_is_reported_for_both_passes(store, admin, tmp_path):
    rows = "".join(f"SKU-{i},Product {i}\n" for i in range(2500))
    path = write(tmp_path, "many.csv", "sku,name\n" + rows)
    seen: list[tuple[str, int, int]] = []
    report = run_import(store, admin, "products", path, progress=lambda *a: seen.append(a))
    assert report.created == 2500
    phases = [phase for phase, _, _ in seen]
    assert phases.count("checking") >= 3 and phases.count("writing") >= 3
    assert seen[-1][1] == seen[-1][2] == path.stat().st_size
