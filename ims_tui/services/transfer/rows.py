"""One data row of an import: its cells read into typed values, with what is wrong with them."""

from __future__ import annotations

from dataclasses import dataclass, field
import functools
from collections.abc import Callable
from typing import Any

from ims_tui.db.types import MONEY_SCALE, QTY_SCALE
from ims_tui.services.text import first_control
from ims_tui.services.transfer.columns import LIST_SEPARATOR, Column, HeaderMapping, KindSpec
from ims_tui.services.transfer.reading import (
    FileFormat,
    FORMULA_TRIGGERS,
    ValueProblem,
    decimal_reader,
    parse_bool,
    parse_date,
    parse_int,
)
from ims_tui.services.transfer.report import Problem


MULTILINE = ("description",)


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]  # column -> typed value; None for an empty cell
    raw: dict[str, str]  # column -> the cell as written (for messages)
    headers: dict[str, str]  # column -> the file's header for it
    problems: list[Problem] = field(default_factory=list)
    key: str = ""
    action: str = ""
    wishes: Any = None  # what the row asks for, from the file alone (screened once)
    plan: Any = None  # what writing it does, against the store (checked again when writing)

    def problem(self, column: str, message: str, *, value: object = None, conflict: bool = False) -> None:
        shown = self.raw.get(column, "") if value is None else value
        self.problems.append(Problem.make(self.number, self.headers.get(column, column), shown, message, conflict=conflict))

    def get(self, column: str) -> Any:
        return self.values.get(column)


class RowParser:
    """Turns a record's cells into a :class:`ParsedRow` using the header mapping and the file format."""

    def __init__(self, kind_spec: KindSpec, mapping: HeaderMapping, file_format: FileFormat) -> None:
        self.spec = kind_spec
        self.used = mapping.used
        self.headers = {m.column: m.header for m in mapping.matches if m.column}
        self.width = len(mapping.matches)
        self.format = file_format
        self.money = decimal_reader(file_format.decimal, MONEY_SCALE, "money amount")
        self.qty = decimal_reader(file_format.decimal, QTY_SCALE, "quantity")
        self.columns = [kind_spec.column(name) for name in self.used]
        # Per used column, decided once: (name, cell index, required, allowed controls, converter, max length).
        self._reads = [(column.name, self.used[column.name], column.required, "\n\t" if column.name in MULTILINE else "",
                        self._converter(column), column.max_length) for column in self.columns]
        self._unused_required = [column for column in kind_spec.required if column not in self.used]
        self._indexes = tuple(self.used.values())

    def is_blank(self, cells: list[str]) -> bool:
        width = len(cells)
        for index in self._indexes:
            if index < width and cells[index].strip():
                return False
        return True

    def parse(self, number: int, cells: list[str]) -> ParsedRow:
        values: dict[str, Any] = {}
        raw: dict[str, str] = {}
        row = ParsedRow(number, values, raw, self.headers)
        width = len(cells)
        if width > self.width and any(cell.strip() for cell in cells[self.width:]):
            row.problem("", f"the row has {width} cells but the header has {self.width}: check the quoting", value="")
        for name, index, required, allowed, convert, max_length in self._reads:
            text = cells[index].strip() if index < width else ""
            if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:  # unneutralise(), inline
                text = text[1:]
            raw[name] = text
            if not text:
                values[name] = None
                if required:
                    row.problem(name, f"{name} is required")
                continue
            if not text.isprintable():
                control = first_control(text, allowed)
                if control is not None:
                    values[name] = None
                    row.problem(name, f"contains a control character (U+{ord(text[control]):04X}): type plain text")
                    continue
            try:
                values[name] = text if convert is None else convert(text)
            except ValueProblem as exc:
                values[name] = None
                row.problem(name, str(exc))
                continue
            if max_length is not None and len(text) > max_length:
                row.problem(name, f"longer than {max_length} characters ({len(text)})")
        for name in self._unused_required:
            values[name] = None
        return row

    def _converter(self, column: Column) -> Callable[[str], Any] | None:
        """The function reading a non-empty cell of ``column`` (None: the text as it is)."""
        type_, choices = column.type, column.choices
        if type_ == "text":
            return None
        if type_ == "money":
            return self.money
        if type_ == "qty":
            return self.qty
        if type_ == "int":
            return parse_int
        if type_ == "date":
            return functools.partial(parse_date, date_order=self.format.date_order)
        if type_ == "bool":
            return parse_bool
        if type_ == "choice":
            def choice(text: str) -> str:
                word = text.lower()
                if word not in choices:
                    raise ValueProblem(f"must be one of {', '.join(choices)}")
                return word
            return choice
        if type_ == "list":
            def parts(text: str) -> tuple[str, ...]:
                return tuple(filter(None, map(str.strip, text.split(LIST_SEPARATOR))))  # the non-empty parts, stripped
            return parts
        raise AssertionError(f"unknown column type {type_}")
