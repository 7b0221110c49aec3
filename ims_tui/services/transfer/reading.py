"""Reading a spreadsheet export as rows: encoding, delimiter, number and date conventions.

Files are streamed (``csv`` over a text stream), so memory stays flat whatever their size.  The
encoding is UTF-8 (with or without BOM) when every byte decodes as UTF-8, else Windows-1252;
the delimiter is sniffed from the first 64 KB (comma, semicolon or tab; one column is fine);
the decimal mark and the order of day and month are read from that sample too and can be
overridden.  A field may be up to :data:`FIELD_LIMIT` characters.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ims_tui.services.errors import BadInput
from ims_tui.values import LARGEST

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
FIELD_LIMIT = 16 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
DATE_ORDERS = ("dmy", "mdy")
# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


class FileProblem(Exception):
    """The file as a whole cannot be read (not a row's fault); carries the record number."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.message = message


@dataclass(frozen=True)
class FileFormat:
    """What was detected about a file (each part can be overridden)."""

    encoding: str  # utf-8-sig | utf-8 | cp1252
    delimiter: str
    decimal: str  # "." or ","
    date_order: str  # dmy | mdy (ISO dates are always read)
    size: int
    sha256: str

    def describe(self) -> str:
        encoding = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252"}[self.encoding]
        dates = "DD/MM/YYYY" if self.date_order == "dmy" else "MM/DD/YYYY"
        return (f"{encoding}, {DELIMITER_NAMES[self.delimiter]}-separated, decimal "
                f"{'comma' if self.decimal == ',' else 'point'}, dates YYYY-MM-DD or {dates}")


def detect_format(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
                  decimal: str | None = None, date_order: str | None = None) -> FileFormat:
    """Look at the file once (hashing it on the way) and decide how to read it.

    Raises :class:`FileProblem` when the file is not text in a supported encoding.
    """
    size, digest, detected = _scan_encoding(path)
    encoding = encoding or detected
    with path.open("rb") as raw:
        head = raw.read(SAMPLE_BYTES)
    sample = head.decode(encoding, errors="ignore")
    if len(head) == SAMPLE_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # the last line may be cut
    if encoding == "utf-8-sig":
        sample = sample.removeprefix("\ufeff")
    delimiter = delimiter or sniff_delimiter(sample)
    if decimal is None:
        decimal = _sniff_decimal(sample, delimiter)
    if date_order is None:
        date_order = _sniff_date_order(sample, decimal)
    if decimal not in (".", ","):
        raise BadInput(f"decimal mark must be '.' or ',', not {decimal!r}")
    if date_order not in DATE_ORDERS:
        raise BadInput(f"date order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}")
    return FileFormat(encoding, delimiter, decimal, date_order, size, digest)


def _scan_encoding(path: Path) -> tuple[int, str, str]:
    """Size, SHA-256 and encoding, reading the file once in 1 MB chunks."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    size = 0
    first = b""
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(CHUNK_BYTES):
                if not first:
                    first = chunk[:4]
                    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                        raise FileProblem(0, "the file is UTF-16: save it as CSV UTF-8 and import that")
                digest.update(chunk)
                if utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
                size += len(chunk)
            if utf8:
                decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if utf8:
        return size, digest.hexdigest(), "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    _check_cp1252(path)
    return size, digest.hexdigest(), "cp1252"


def _check_cp1252(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("cp1252")()
    offset = 0
    with path.open("rb") as raw:
        while chunk := raw.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise FileProblem(0, f"byte 0x{chunk[exc.start]:02x} at offset {offset + exc.start} is neither UTF-8 "
                                     "nor Windows-1252: save the file as CSV UTF-8") from None
            offset += len(chunk)


def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the sample into the most columns, consistently from row to row."""
    best, best_score = ",", (0, 0.0)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(cell.strip() for cell in row)][:50]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(1 for row in rows if len(row) == width) / len(rows)
        score = (1 if consistency >= 0.9 else 0, consistency * width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


_DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})*\.\d+$|^[+-]?\d+\.\d+$")
_SLASH_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.ASCII)


def _cells(sample: str, delimiter: str) -> Iterator[str]:
    try:
        for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
            yield from (cell.strip() for cell in row)
    except csv.Error:
        return


def _sniff_decimal(sample: str, delimiter: str) -> str:
    """A comma-separated file uses the decimal point; otherwise whichever the numbers show."""
    if delimiter == ",":
        return "."
    comma = point = 0
    for cell in _cells(sample, delimiter):
        if _DECIMAL_COMMA.match(cell):
            comma += 1
        elif _DECIMAL_POINT.match(cell):
            point += 1
    return "," if comma > point else "."


def _sniff_date_order(sample: str, decimal: str) -> str:
    """Day first unless a date in the sample can only be month first (or the file is US-style)."""
    for cell in _cells(sample, "," if decimal == "." else ";"):
        found = _SLASH_DATE.match(cell)
        if found:
            first, second = int(found.group(1)), int(found.group(2))
            if first > 12 >= second:
                return "dmy"
            if second > 12 >= first:
                return "mdy"
    return "dmy"


MAX_COLUMNS = 1000
"""More columns than any kind has, many times over: a wider row is refused before it is used
(a million-column header once took 633 MB to report)."""


class RowReader:
    """Records of a CSV file as lists of strings, numbered like spreadsheet rows (header = 1)."""

    def __init__(self, path: Path, file_format: FileFormat) -> None:
        self.path = path
        self.format = file_format
        self._raw: io.BufferedReader | None = None

    def position(self) -> int:
        """Bytes consumed so far (for progress)."""
        return self._raw.tell() if self._raw is not None and not self._raw.closed else 0

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open("rb") as raw:
            self._raw = raw
            text = io.TextIOWrapper(raw, encoding=self.format.encoding, newline="")
            reader = csv.reader(text, delimiter=self.format.delimiter)
            number = 0
            try:
                for number, cells in enumerate(reader, start=1):
                    if len(cells) > MAX_COLUMNS:
                        raise FileProblem(number, f"{len(cells)} cells in one row; a file has at most {MAX_COLUMNS} columns")
                    yield number, cells
            except csv.Error as exc:
                message = str(exc)
                if "field larger than field limit" in message:
                    message = f"a field is longer than {FIELD_LIMIT // (1024 * 1024)} MB"
                raise FileProblem(number + 1, f"cannot read the file: {message}") from None
            except UnicodeDecodeError as exc:
                raise FileProblem(number + 1, f"cannot decode the file as {self.format.encoding}: {exc.reason}") from None


# --- values ----------------------------------------------------------------------------------


class ValueProblem(ValueError):
    """A cell's value is wrong; the message says what is wrong with it."""


def unneutralise(text: str) -> str:
    """Undo the OWASP quote our exports put before a formula trigger, so exports import back."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def neutralise(text: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with ``'`` (OWASP CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


@functools.cache
def _number_pattern(decimal: str) -> re.Pattern[str]:
    group = "," if decimal == "." else "."
    return re.compile(rf"[+]?(?:\d{{1,3}}(?:{re.escape(group)}\d{{3}})+|\d+)(?:{re.escape(decimal)}\d+)?|[+]?{re.escape(decimal)}\d+",
                      re.ASCII)


@functools.cache
def _plain_number(decimal: str, scale: int) -> re.Pattern[str]:
    """Digits without grouping, at most ``scale`` decimals, below :data:`LARGEST`: nearly every cell."""
    return re.compile(rf"\d{{1,12}}(?:{re.escape(decimal)}\d{{1,{scale}}})?", re.ASCII)


def parse_decimal(text: str, decimal: str, scale: int, *, what: str = "number") -> Decimal:
    """A non-negative number in the file's convention (``1.234,5`` with a decimal comma)."""
    if _plain_number(decimal, scale).fullmatch(text):
        return Decimal(text if decimal == "." else text.replace(decimal, "."))
    cleaned = text.replace("\u00a0", "").replace(" ", "")
    group = "," if decimal == "." else "."
    pattern = _number_pattern(decimal)
    if cleaned.startswith("-") and pattern.fullmatch(cleaned[1:]):
        raise ValueProblem(f"{what} cannot be negative")
    if not pattern.fullmatch(cleaned):
        mark = "comma" if decimal == "," else "point"
        raise ValueProblem(f"not a {what} (this file uses a decimal {mark})")
    normal = cleaned.replace(group, "").replace(decimal, ".")
    try:
        value = Decimal(normal)
    except InvalidOperation:
        raise ValueProblem(f"not a {what}") from None
    if value != value.quantize(Decimal(1).scaleb(-scale)):
        raise ValueProblem(f"more than {scale} decimal places")
    if value >= LARGEST:
        raise ValueProblem(f"{what} is too large (the largest is 999,999,999,999)")
    return value


def decimal_reader(decimal: str, scale: int, what: str) -> Callable[[str], Decimal]:
    """``parse_decimal`` for one file's convention and one scale, the common plain cell answered
    by a bound regex and ``Decimal`` alone (a file of 100,000 rows reads 400,000 numbers)."""
    plain = _plain_number(decimal, scale).fullmatch

    def read(text: str) -> Decimal:
        if plain(text):
            return Decimal(text if decimal == "." else text.replace(decimal, "."))
        return parse_decimal(text, decimal, scale, what=what)

    return read


def parse_int(text: str) -> int:
    if not re.fullmatch(r"\+?\d{1,9}", text.replace(" ", ""), re.ASCII):
        raise ValueProblem("not a whole number of zero or more")
    return int(text.replace(" ", ""))


def parse_date(text: str, date_order: str) -> dt.date:
    """ISO ``2026-03-31`` (a midnight time is allowed), or day/month/year in the file's order."""
    value = text.strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?", value, re.ASCII)
    try:
        if iso:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        found = _SLASH_DATE.match(value)
        if found:
            first, second, year = int(found.group(1)), int(found.group(2)), int(found.group(3))
            day, month = (first, second) if date_order == "dmy" else (second, first)
            return dt.date(year, month, day)
    except ValueError as exc:
        raise ValueProblem(f"not a date: {exc}") from None
    expected = "DD/MM/YYYY" if date_order == "dmy" else "MM/DD/YYYY"
    raise ValueProblem(f"not a date (use YYYY-MM-DD or {expected})")


TRUE_WORDS = {"yes", "y", "true", "1", "active", "x", "ja", "oui", "si"}
FALSE_WORDS = {"no", "n", "false", "0", "inactive", "nein", "non"}


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueProblem("not yes or no")


ProgressCallback = Callable[[str, int, int], None]
"""``progress(phase, done_bytes, total_bytes)`` with phase ``checking`` or ``writing``."""
