"""Import (CSV) and export (CSV, XLSX) of the catalogue, locations and stock.

Public API:

- :func:`preview_file` - detected encoding/delimiter/mapping and the first rows of a file.
- :func:`run_import` - check every row, then (unless a dry run) write all rows or none.
- :func:`export` - stream a kind to CSV or XLSX; what it writes imports back unchanged.
"""

from ims_tui.services.transfer.columns import EXPORT_KINDS, KINDS, SPECS, HeaderMapping, parse_map_options
from ims_tui.services.transfer.exporters import FORMATS, ExportResult, export
from ims_tui.services.transfer.reading import FileFormat
from ims_tui.services.transfer.report import ImportReport, Problem, RowOutcome
from ims_tui.services.transfer.runner import FilePreview, ImportOptions, preview_file, run_import

__all__ = [
    "EXPORT_KINDS", "FORMATS", "KINDS", "SPECS", "ExportResult", "FileFormat", "FilePreview", "HeaderMapping", "ImportOptions",
    "ImportReport", "Problem", "RowOutcome", "export", "parse_map_options", "preview_file", "run_import",
]
