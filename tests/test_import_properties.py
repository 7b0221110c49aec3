"""Hypothesis-generated files: the importer never raises, and commits all rows or none."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ims_tui.db.models import AuditEntry, Barcode, Product
from ims_tui.services.transfer import run_import

GTINS = ["4006381333931", "14006381333938", "96385074", "036000291452", "4006381333932", "123"]
skus = st.sampled_from(["A-1", "A-2", "B-7", "ÄÖ-9", "x" * 61, "", "=cmd", "C 3"])
names = st.one_of(st.text(max_size=20), st.sampled_from(["Bolt", "", "=1+1", "-x", "a\nb", "\"q\""]))
numbers = st.one_of(st.sampled_from(["1", "0.5", "1,5", "1.234,5", "-2", "abc", "", "1e3", "0.00001", " 7 "]),
                    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False).map(str))
barcodes = st.lists(st.sampled_from(GTINS + ["x*2", "4006381333931*0", "96385074*12"]), max_size=3).map("|".join)
choices = st.sampled_from(["", "none", "lot", "serial", "LOT", "bogus"])
row = st.tuples(skus, names, numbers, numbers, barcodes, choices)
HEADERS = ["sku", "name", "unit_price", "reorder_point", "barcodes", "tracking"]


@st.composite
def product_files(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    headers = draw(st.permutations(HEADERS))
    keep = draw(st.integers(1, len(headers)))
    headers = list(headers[:keep]) + draw(st.lists(st.sampled_from(["Colour", "SKU", "EAN"]), max_size=1))
    if draw(st.booleans()):  # a file that should import: unique keys, values that parse
        good_skus = draw(st.lists(st.sampled_from(["A-1", "A-2", "B-7", "ÄÖ-9", "C 3", "D-4"]), unique=True, max_size=5))
        codes = draw(st.permutations(["4006381333931", "14006381333938", "96385074", "036000291452", "", "", "", "", ""]))
        rows = [(sku, draw(st.sampled_from(["Bolt", "Nut", "=1+1", "Größe"])), draw(st.sampled_from(["1", "0.5", "12", ""])),
                 draw(st.sampled_from(["0", "3", ""])), codes[i], draw(st.sampled_from(["", "none", "lot"])))
                for i, sku in enumerate(good_skus)]
        headers = ["sku", "name", *draw(st.lists(st.sampled_from(HEADERS[2:]), unique=True))]
    else:
        rows = draw(st.lists(row, max_size=8))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(headers)
    for values in rows:
        cells = dict(zip(HEADERS, values, strict=True))
        writer.writerow([cells.get(h, "x") for h in headers])
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=product_files(), dry_run=st.booleans())
def test_importer_never_raises_and_commits_all_or_nothing(store, admin, tmp_path, content, dry_run):
    path = tmp_path / "gen.csv"
    path.write_bytes(content)
    with store.read() as session:
        before = session.scalar(select(func.count()).select_from(Product))
        barcodes_before = session.scalar(select(func.count()).select_from(Barcode))
        imports_before = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import.products"))
    report = run_import(store, admin, "products", path, dry_run=dry_run, errors_path=tmp_path / "errors.csv")
    with store.read() as session:
        after = session.scalar(select(func.count()).select_from(Product))
        barcodes_after = session.scalar(select(func.count()).select_from(Barcode))
        imports_after = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import.products"))
    event("committed" if report.committed else ("refused" if not report.ok else "clean dry run"))
    if report.committed:
        assert report.ok and not dry_run
        assert after == before + report.created
        assert imports_after == imports_before + 1
        assert report.created + report.updated + report.unchanged == report.total
    else:
        assert (after, barcodes_after, imports_after) == (before, barcodes_before, imports_before)
        assert dry_run or not report.ok
        if not report.ok:
            assert report.exit_code in (1, 2) and (tmp_path / "errors.csv").exists()
            assert all(p.message for p in report.problems)
