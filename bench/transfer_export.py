"""A 100,000-row XLSX export of products against raw xlsxwriter writing the same rows, in one run.

``export`` streams keyset-paged batches from the store (barcodes and supplier items per batch)
and writes typed, formatted, neutralised cells in ``constant_memory`` mode; the baseline holds
the same rows already fetched in a list and writes them with ``write_row`` (also
``constant_memory``, no formats, no checks).  Memory: the Python heap's peak (tracemalloc, in
separate runs) at 10,000 and 100,000 rows.

    python -m bench.transfer_export [--rows N] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import xlsxwriter

from bench._results import record
from bench.transfer_import import ACTOR, Backend, make_file, peak_heap, timed
from ims_tui.services.transfer import export, run_import
from ims_tui.services.transfer.exporters import COLUMNS, _product_rows


def raw_xlsx(path: Path, rows: list[tuple]) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("products")
    sheet.write_row(0, 0, [name for name, _ in COLUMNS["products"]])
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, [float(v) if hasattr(v, "as_tuple") else v for v in row])
    workbook.close()


def run(backend_name: str, rows: int, workdir: Path) -> None:
    backend = Backend(backend_name, workdir)
    try:
        stores = {}
        for count in (rows // 10, rows):
            source = workdir / f"p{count}.csv"
            make_file(source, count)
            stores[count] = backend.new_store()
            report = run_import(stores[count], ACTOR, "products", source)
            if not report.committed:
                raise SystemExit(report.render(problem_limit=5))
        store = stores[rows]
        exported = timed(lambda: export(store, ACTOR, "products", workdir / "export.xlsx", fmt="xlsx"))
        fetched: list[tuple] = []
        fetch = timed(lambda: fetched.extend(_product_rows(store)))
        baseline = timed(lambda: raw_xlsx(workdir / "raw.xlsx", fetched))
        fetched.clear()
        csv_time = timed(lambda: export(store, ACTOR, "products", workdir / "export.csv"))
        heaps = [peak_heap(lambda s=stores[count]: export(s, ACTOR, "products", workdir / "heap.xlsx", fmt="xlsx"))
                 for count in (rows // 10, rows)]
        for each in stores.values():
            each.dispose()
        print(f"{backend_name}: {rows:,} products to XLSX ({(workdir / 'export.xlsx').stat().st_size / 1e6:.1f} MB)")
        print(f"  ims export xlsx       {exported:6.2f} s  {rows / exported:9,.0f} rows/s")
        print(f"  raw xlsxwriter        {baseline:6.2f} s  {rows / baseline:9,.0f} rows/s   export/raw = {exported / baseline:.1f}x "
              f"(rows fetched beforehand in {fetch:.2f} s)")
        print(f"  ims export csv        {csv_time:6.2f} s  {rows / csv_time:9,.0f} rows/s")
        print(f"  peak Python heap      {heaps[0] / 1e6:6.1f} MB at {rows // 10:,} rows, {heaps[1] / 1e6:.1f} MB at {rows:,} rows")
        record("transfer_export", f"XLSX export vs raw xlsxwriter, {backend_name}", exported / baseline,
               detail=f"{rows:,} rows: {exported:.2f} vs {baseline:.2f} s")
        record("transfer_export", f"peak heap at {rows:,} rows vs {rows // 10:,}", heaps[1] / heaps[0], at_most=1.5,
               detail=f"{heaps[1] / 1e6:.1f} vs {heaps[0] / 1e6:.1f} MB (memory stays flat)")
    finally:
        backend.drop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for name in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            run(name, args.rows, Path(workdir))


if __name__ == "__main__":
    main()
