"""Valuation and reports: aggregated in SQL over the ledger, paged, streamed to CSV and XLSX.

Importing the package registers every report (see :data:`core.REPORTS`).
"""

from ims_tui.services.reports import analysis, listings, trace, valuation  # noqa: F401 - registers the reports
from ims_tui.services.reports.core import (
    REPORTS,
    Report,
    ReportPage,
    ReportParams,
    count,
    get_report,
    iterate,
    page,
    totals,
)

__all__ = ["REPORTS", "Report", "ReportPage", "ReportParams", "count", "get_report", "iterate", "page", "totals"]
