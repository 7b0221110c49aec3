"""Any report to CSV or XLSX through the export machinery (streamed rows, typed cells, formula-looking
text neutralised); an XLSX of a report with a chart carries it as a native Excel chart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from ims_tui.db.engine import Store
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check
from ims_tui.services.reports.core import ReportParams, chart_series, count, get_report, iterate
from ims_tui.services.transfer.exporters import FORMATS, ExportResult, write_csv, write_to, write_xlsx


def export_report(
    store: Store,
    actor: Actor,
    name: str,
    params: ReportParams,
    destination: str | Path | IO[bytes],
    *,
    fmt: str = "csv",
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Write report ``name`` to ``destination`` (needs REPORTS and EXPORT); audited."""
    if fmt not in FORMATS:
        raise BadInput(f"export format must be csv or xlsx, not {fmt!r}")
    report = get_report(name)
    check(store, actor, Permission.EXPORT, f"report {name}")
    total = count(store, actor, name, params)
    columns, rows = iterate(store, actor, name, params)

    def tick(done: int) -> None:
        if progress is not None:
            progress("exporting", done, max(total, done))

    def chart(workbook: Any) -> None:
        points = chart_series(store, actor, name, params)
        if report.chart is None or not points:
            return
        sheet = workbook.add_worksheet("chart")
        bold = workbook.add_format({"bold": True, "bottom": 1})
        sheet.write_string(0, 0, report.chart.label if report.chart.label != "by" else params.by, bold)
        sheet.write_string(0, 1, report.chart.value, bold)
        for row, (label, value) in enumerate(points, start=1):
            sheet.write_string(row, 0, str(label))
            sheet.write_number(row, 1, float(value if isinstance(value, Decimal) else Decimal(value)))
        native = workbook.add_chart({"type": "column" if report.chart.kind == "bar" else "line"})
        native.add_series({"name": report.chart.value, "categories": ["chart", 1, 0, len(points), 0],
                           "values": ["chart", 1, 1, len(points), 1]})
        native.set_title({"name": report.chart.title})
        native.set_legend({"none": True})
        sheet.insert_chart("D2", native, {"x_scale": 1.5, "y_scale": 1.5})

    if fmt == "csv":
        written, cut, target = write_to(destination, fmt, lambda out: (write_csv(out, columns, rows, tick), 0))
    else:
        written, cut, target = write_to(destination, fmt,
                                        lambda path: write_xlsx(path, name, columns, rows, tick, extra=chart))
    tick(written)
    with store.write() as session:
        audit.record(session, actor, f"export.report.{name}", str(target.name if target else "stdout"),
                     f"{written} rows as {fmt}")
    return ExportResult(f"{name} report rows", fmt, written, str(target) if target else None, cut)
