"""Running an import: check every row (streaming, a read transaction), then write all or nothing.

The checking pass never writes: it reads the file once, checks each batch of rows against
earlier rows and the store (a few set-based queries per batch), and keeps the checked batches
in a private temporary file.  When it finds no problem and this is not a dry run, the writing
pass opens one write transaction, makes sure the suppliers and locations the rows were checked
against are unchanged (else the file is checked again), checks each kept batch against the
store as it is at that moment (set-based again) and writes it with bulk statements; any
problem then rolls the whole import back.  So a file is imported completely or not at all, the
write lock is held only for the store's part of the checks and the writes, and a dry run
reports exactly what a real run would do.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import pickle
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check
from ims_tui.services.transfer.columns import HeaderMapping, KindSpec, match_headers, spec
from ims_tui.services.transfer.importers import IMPORTERS, ContextChanged, Importer, WriteAborted
from ims_tui.services.transfer.reading import FileFormat, FileProblem, ProgressCallback, RowReader, detect_format
from ims_tui.services.transfer.report import ImportReport, Problem, write_error_file
from ims_tui.services.transfer.rows import ParsedRow, RowParser

BATCH_ROWS = 1000
CHECK_ATTEMPTS = 3
"""Checks of the whole file, when the store's suppliers or locations changed under the import."""
PREVIEW_ROWS = 5
STORE_CHANGED = ("the store changed while importing (another station saved a clashing record); "
                 "nothing was written: run the import again")


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file where detection is not wanted; ``mapping`` is normalised header -> column."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    date_order: str | None = None


@dataclass(frozen=True)
class FilePreview:
    """What the import wizard shows before anything is checked against the store."""

    kind: str
    file: str
    format: FileFormat | None
    headers: tuple[str, ...]
    mapping: HeaderMapping | None
    rows: tuple[tuple[str, ...], ...]
    columns: tuple[str, ...]
    required: tuple[str, ...]
    problems: tuple[Problem, ...] = ()


def _detect(path: Path, options: ImportOptions) -> FileFormat:
    return detect_format(path, encoding=options.encoding, delimiter=options.delimiter,
                         decimal=options.decimal, date_order=options.date_order)


def _existing_file(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    return path


def preview_file(kind: str, path: str | Path, options: ImportOptions | None = None, *, rows: int = PREVIEW_ROWS) -> FilePreview:
    """Detected format, headers, mapping and the first ``rows`` data rows; touches no store."""
    options = options or ImportOptions()
    kind_spec = spec(kind)
    path = _existing_file(path)
    columns, required = kind_spec.names, kind_spec.required
    try:
        file_format = _detect(path, options)
        records = iter(RowReader(path, file_format))
        _, header = next(records, (0, []))
        sample = []
        for _, cells in records:
            if any(cell.strip() for cell in cells):
                sample.append(tuple(cells))
            if len(sample) >= rows:
                break
    except FileProblem as exc:
        return FilePreview(kind, str(path), None, (), None, (), columns, required, (Problem.make(exc.row, "", "", exc.message),))
    mapping = match_headers(kind, header, dict(options.mapping))
    return FilePreview(kind, str(path), file_format, tuple(header), mapping, tuple(sample), columns, required,
                       _header_problems(mapping, header))


def _header_problems(mapping: HeaderMapping, header: list[str]) -> tuple[Problem, ...]:
    problems = []
    if not header or not any(h.strip() for h in header):
        return (Problem.make(1, "", "", "the file is empty: the first row must name the columns"),)
    if mapping.missing:
        problems.append(Problem.make(1, "", "", f"missing required column{'s' if len(mapping.missing) > 1 else ''} "
                                                f"{', '.join(mapping.missing)} (the file has: {', '.join(h for h in header if h)}); "
                                                "use --map SRC=DEST to name them"))
    for duplicate in mapping.duplicates:
        problems.append(Problem.make(1, duplicate, "", "this column appears twice"))
    return tuple(problems)


def run_import(
    store: Store,
    actor: Actor,
    kind: str,
    path: str | Path,
    *,
    dry_run: bool = False,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
    errors_path: str | Path | None = None,
    keep_rows: bool | None = None,
) -> ImportReport:
    """Import ``path`` as ``kind``; returns the report, committed only if every row was fine.

    Problems in the file's content come back in the report (never raised); usage errors
    (unknown kind, missing file, a bad ``--map``) raise :class:`BadInput`, and a role without
    ``IMPORT`` raises PermissionDenied before anything is read.  ``keep_rows`` (default: for dry
    runs) keeps each row's outcome for a row-by-row listing.
    """
    options = options or ImportOptions()
    kind_spec = spec(kind)
    path = _existing_file(path)
    check(store, actor, Permission.IMPORT, f"{kind} from {path.name}")
    report = ImportReport(kind, str(path), dry_run, keep_rows=dry_run if keep_rows is None else keep_rows)
    try:
        report.format = _detect(path, options)
        _, header = next(iter(RowReader(path, report.format)), (0, []))
    except FileProblem as exc:
        report.refuse(Problem.make(exc.row, "", "", exc.message))
        return _finish(report, None, errors_path)
    report.mapping = match_headers(kind, header, dict(options.mapping))
    for problem in _header_problems(report.mapping, header):
        report.refuse(problem)
    with _collector_skips_the_app():
        for _attempt in range(CHECK_ATTEMPTS):
            if not report.ok:
                break
            with CheckedBatches(keep=not dry_run) as checked:
                try:
                    importer = _check_file(store, actor, kind_spec, path, report, checked, progress)
                except FileProblem as exc:
                    report.refuse(Problem.make(exc.row, "", "", exc.message))
                    break
                if not report.ok or dry_run:
                    break
                try:
                    _write(store, actor, kind_spec, path, report, importer, checked, progress)
                    break
                except ContextChanged:
                    continue
        else:
            report.refuse(Problem.make(0, "", "", STORE_CHANGED, conflict=True))
    return _finish(report, RowReader(path, report.format), errors_path)


_frozen_lock = threading.Lock()
_frozen_imports = 0


@contextlib.contextmanager
def _collector_skips_the_app() -> Iterator[None]:
    """While an import runs, the cyclic garbage collector leaves alone the objects that existed
    before it (``gc.freeze``): the import makes and drops millions of small containers, and each
    of the collector's full passes otherwise walked the whole application again (a third of a
    100k-row dry run's time).  Nothing is lost: they are collected as usual afterwards.  Imports
    running at once in one process (``ims serve``) unfreeze when the last of them ends."""
    global _frozen_imports
    with _frozen_lock:
        if _frozen_imports == 0:
            gc.freeze()
        _frozen_imports += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_imports -= 1
            if _frozen_imports == 0:
                gc.unfreeze()


_paused_lock = threading.Lock()
_paused_writes = 0
_collector_was_on = True


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection during an import's write transaction (the write lock is
    held): the writing pass makes hundreds of thousands of rows, hashes and parameters that
    live until their batch or the commit, and the collector's full passes over them took about
    7% of a 100k-row SQLite write even with the app frozen (58 full passes).  What it makes is
    freed by reference counting as usual; the collector resumes (and catches up) when the last
    write of the process ends, committed or not (unless it was off before)."""
    global _paused_writes, _collector_was_on
    with _paused_lock:
        if _paused_writes == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _paused_writes += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused_writes -= 1
            if _paused_writes == 0 and _collector_was_on:
                gc.enable()


def _finish(report: ImportReport, reader: RowReader | None, errors_path: str | Path | None) -> ImportReport:
    if errors_path is not None and not report.ok:
        try:
            write_error_file(report, reader, Path(errors_path).expanduser())
        except FileProblem:
            write_error_file(report, None, Path(errors_path).expanduser())
        except OSError as exc:
            raise BadInput(f"cannot write the error report {errors_path}: {exc.strerror or exc}") from None
    return report


_SPOOL_REDUCERS = copyreg.dispatch_table | {Decimal: lambda number: (Decimal, (str(number),))}
"""Decimal's own reduction is several times slower (this one serves the few Decimals outside a
column of them, a pack quantity in a row's wishes)."""


def _pack(column: tuple[Any, ...]) -> tuple[bool, Any]:
    """A value column of a batch as kept: (True, text) for a column of Decimals only (money,
    quantities), their exact texts joined by NUL (which no number's text holds), made and read
    back by C loops; else (False, the column)."""
    if set(map(type, column)) == {Decimal}:
        return True, "\x00".join(map(str, column))
    return False, column


def _unpack(numbers: bool, column: Any) -> Any:
    return list(map(Decimal, column.split("\x00"))) if numbers else column


class CheckedBatches:
    """The checking pass's batches of rows, kept in a private temporary file for the writing pass
    (so the write neither reads nor checks the file again, and memory stays flat).

    A batch is kept column by column, its values and cells in the parser's column order (every
    row has the same columns), and the rest of each row as a tuple: no per-row object or column
    name to pickle, and a column of numbers as one string (a Decimal pickled on its own is a
    Python call each way; a batch holds thousands)."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self._file: IO[bytes] | None = None
        self._layout: tuple[dict[str, str], tuple[str, ...], tuple[str, ...]] = ({}, (), ())  # headers, value and cell columns

    def __enter__(self) -> CheckedBatches:
        if self.keep:
            self._file = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, batch: list[ParsedRow], position: int) -> None:
        if self._file is None or not batch:
            return
        if not self._layout[0]:
            self._layout = (batch[0].headers, tuple(batch[0].values), tuple(batch[0].raw))
        values = [_pack(column) for column in zip(*(row.values.values() for row in batch), strict=True)]
        cells = list(zip(*(row.raw.values() for row in batch), strict=True))
        rest = [(row.number, row.problems, row.key, row.action, row.wishes) for row in batch]
        pickler = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _SPOOL_REDUCERS
        pickler.dump((position, values, cells, rest))

    def __iter__(self) -> Iterator[tuple[int, list[ParsedRow]]]:
        assert self._file is not None
        self._file.seek(0)
        headers, value_names, cell_names = self._layout
        while True:
            try:
                position, values, cells, rest = pickle.load(self._file)  # noqa: S301 - our own file, written by add() above
            except EOFError:
                return
            columns = [_unpack(numbers, column) for numbers, column in values]
            yield position, [ParsedRow(number, dict(zip(value_names, row_values, strict=True)),
                                       dict(zip(cell_names, row_cells, strict=True)), headers, problems, key, action, wishes)
                             for (number, problems, key, action, wishes), row_values, row_cells
                             in zip(rest, zip(*columns, strict=True), zip(*cells, strict=True), strict=True)]


def _check_file(store: Store, actor: Actor, kind_spec: KindSpec, path: Path, report: ImportReport,
                checked: CheckedBatches, progress: ProgressCallback | None) -> Importer:
    """The checking pass: every row against earlier rows and the store, in a read transaction;
    the checked batches are kept for the writing pass.  Returns the importer (its state spans
    the file: the writing pass goes on with it)."""
    reader = RowReader(path, report.format)
    records = iter(reader)
    next(records, None)  # the header
    parser = RowParser(kind_spec, report.mapping, report.format)
    report.reset_rows()
    batch: list[ParsedRow] = []
    with store.read() as session:
        importer = IMPORTERS[kind_spec.kind](session, actor, parser, path.name, report.format.sha256)

        def flush() -> None:
            importer.screen(batch)
            importer.check(batch)
            for row in batch:
                report.record(row.number, row.key, "refused" if row.problems else row.action)
                report.problems.extend(row.problems)
            checked.add(batch, reader.position())
            batch.clear()
            if progress is not None:
                progress("checking", reader.position(), report.format.size)

        for number, cells in records:
            if parser.is_blank(cells):
                continue
            batch.append(parser.parse(number, cells))
            if len(batch) >= BATCH_ROWS:
                flush()
        if batch:
            flush()
        for problem in importer.finish():
            report.refuse(problem)
    if progress is not None:
        progress("checking", report.format.size, report.format.size)
    return importer


def _write(store: Store, actor: Actor, kind_spec: KindSpec, path: Path, report: ImportReport, importer: Importer,
           checked: CheckedBatches, progress: ProgressCallback | None) -> None:
    """The writing pass, one transaction: the context must be as checked, each batch is checked
    against the store again (set-based) and written with bulk statements."""
    outcome = (report._actions, report._keys)

    def work(session: Session) -> None:
        importer.rebind(session)
        report.reset_rows()
        for position, batch in checked:
            importer.check(batch)
            failed = [problem for row in batch for problem in row.problems]
            if failed:
                raise WriteAborted(failed)
            for row in batch:
                report.record(row.number, row.key, row.action)
            importer.apply(batch)
            if progress is not None:
                progress("writing", position, report.format.size)
        importer.complete()
        session.flush()
        audit.record(session, actor, f"import.{kind_spec.kind}", path.name[:200],
                     f"{report.total} rows: {report.summary(done=True)} (file sha256 {report.format.sha256[:16]}, "
                     f"{report.format.size} bytes; rows are not audited one by one)")
        if progress is not None:
            progress("writing", report.format.size, report.format.size)

    try:
        with store.long_write(f"an import of {report.total} {kind_spec.kind} rows by {actor.username} on {actor.station}"), \
                _collector_paused():
            store.transact(work)
        report.committed = True
    except ContextChanged:
        report._actions, report._keys = outcome
        raise
    except WriteAborted as exc:
        report._actions, report._keys = outcome
        for problem in exc.problems:
            report.refuse(problem)
    except IntegrityError:
        report._actions, report._keys = outcome
        report.refuse(Problem.make(0, "", "", STORE_CHANGED, conflict=True))
