"""What an import found and did: counts, problems by row/column/value, and the error file."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ims_tui.services.outputs import write_output
from ims_tui.services.transfer.columns import HeaderMapping
from ims_tui.services.transfer.reading import FileFormat, RowReader, neutralise

ACTIONS = ("create", "update", "unchanged", "refused")
_CODES = {action: index + 1 for index, action in enumerate(ACTIONS)}
SHOWN_VALUE = 60


@dataclass(frozen=True)
class Problem:
    """What is wrong, where: ``row`` counts like a spreadsheet (1 = header, 0 = the file)."""

    row: int
    column: str
    value: str
    message: str
    conflict: bool = False  # True: clashes with the store (exit 1); False: bad file content (exit 2)

    @classmethod
    def make(cls, row: int, column: str, value: object, message: str, *, conflict: bool = False) -> Problem:
        text = "" if value is None else str(value)
        if len(text) > SHOWN_VALUE:
            text = text[:SHOWN_VALUE] + f"... ({len(text)} characters)"
        return cls(row, column, text, message, conflict)

    def describe(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
        if self.value:
            where += f", value {self.value!r}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message,
                "conflict": self.conflict}


@dataclass(frozen=True)
class RowOutcome:
    row: int
    key: str
    action: str
    problems: tuple[Problem, ...] = ()


@dataclass
class ImportReport:
    """The result of :func:`~ims_tui.services.transfer.run_import` (a dry run or a real one)."""

    kind: str
    file: str
    dry_run: bool
    format: FileFormat | None = None
    mapping: HeaderMapping | None = None
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    errors_file: str | None = None
    keep_rows: bool = False
    _actions: bytearray = field(default_factory=bytearray, repr=False)
    _keys: dict[int, str] = field(default_factory=dict, repr=False)

    # -- recording -----------------------------------------------------------------------

    def reset_rows(self) -> None:
        self._actions = bytearray()
        self._keys = {}

    def record(self, row: int, key: str, action: str) -> None:
        if row >= len(self._actions):
            self._actions.extend(b"\0" * (row + 1024 - len(self._actions)))
        self._actions[row] = _CODES[action]
        if self.keep_rows:
            self._keys[row] = key

    def refuse(self, problem: Problem) -> None:
        self.problems.append(problem)
        if 0 < problem.row < len(self._actions) and self._actions[problem.row]:
            self._actions[problem.row] = _CODES["refused"]

    # -- reading -------------------------------------------------------------------------

    def count(self, action: str) -> int:
        return self._actions.count(_CODES[action])

    @property
    def created(self) -> int:
        return self.count("create")

    @property
    def updated(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def refused(self) -> int:
        return self.count("refused")

    @property
    def total(self) -> int:
        return len(self._actions) - self._actions.count(0)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 clean; 2 when the file's content is wrong; 1 when it is fine but clashes with the store."""
        if self.ok:
            return 0
        return 1 if all(p.conflict for p in self.problems) else 2

    def error_line(self) -> str:
        """The one line for stderr when the import was refused (the report stays on stdout)."""
        rows = f"{self.refused} row{'s' if self.refused != 1 else ''} refused" if self.refused else "the file was refused"
        return f"{rows}; nothing was written" + (" (dry run)" if self.dry_run else "")

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=lambda p: p.row)

    def outcomes(self) -> list[RowOutcome]:
        """Row by row (kept for dry runs): what would happen to each data row."""
        by_row: dict[int, list[Problem]] = {}
        for problem in self.problems:
            by_row.setdefault(problem.row, []).append(problem)
        return [
            RowOutcome(row, self._keys.get(row, ""), ACTIONS[code - 1], tuple(by_row.get(row, ())))
            for row, code in enumerate(self._actions) if code
        ]

    def summary(self, *, done: bool | None = None) -> str:
        done = self.committed if done is None else done
        verbs = ("created", "updated") if done else ("to create", "to update")
        if self.kind == "stock":
            verbs = ("posted", "updated") if done else ("to post", "to update")
        parts = [f"{self.created} {verbs[0]}"]
        if self.kind != "stock":
            parts.append(f"{self.updated} {verbs[1]}")
        parts.append(f"{self.unchanged} {'already imported' if self.kind == 'stock' else 'unchanged'}")
        parts.append(f"{self.refused} refused")
        return ", ".join(parts)

    def render(self, *, problem_limit: int = 50, row_limit: int = 500) -> str:
        lines = [f"{self.kind} from {Path(self.file).name}" + (f" ({self.format.describe()})" if self.format else "")]
        if self.mapping is not None:
            notes = [line for line, m in zip(self.mapping.describe(), self.mapping.matches, strict=True) if m.how != "exact"]
            if notes:
                lines.append("columns: " + "; ".join(notes))
        if self.keep_rows:
            outcomes = self.outcomes()
            labels = {"create": "post", "unchanged": "already imported"} if self.kind == "stock" else {}
            for outcome in outcomes[:row_limit]:
                lines.append(f"  row {outcome.row:<6} {outcome.key[:40]:<40} {labels.get(outcome.action, outcome.action)}")
            if len(outcomes) > row_limit:
                lines.append(f"  ... {len(outcomes) - row_limit} more rows (--json lists them all)")
        lines.append(("dry run: " if self.dry_run else "") + f"{self.total} rows: {self.summary()}")
        problems = self.sorted_problems()
        for problem in problems[:problem_limit]:
            lines.append("  " + problem.describe())
        if len(problems) > problem_limit:
            lines.append(f"  ... {len(problems) - problem_limit} more problems" + ("" if self.errors_file else " (--errors FILE writes them all)"))
        if not self.ok:
            lines.append("nothing was written" + (f"; rows with their errors written to {self.errors_file}" if self.errors_file else ""))
        elif self.dry_run:
            lines.append("nothing was written (dry run)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = {
            "kind": self.kind,
            "file": self.file,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "format": None if self.format is None else {
                "encoding": self.format.encoding, "delimiter": self.format.delimiter,
                "decimal": self.format.decimal, "date_order": self.format.date_order,
                "bytes": self.format.size, "sha256": self.format.sha256,
            },
            "columns": None if self.mapping is None else [
                {"header": m.header, "column": m.column, "how": m.how} for m in self.mapping.matches
            ],
            "rows": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "problems": [p.to_dict() for p in self.sorted_problems()],
            "errors_file": self.errors_file,
        }
        if self.keep_rows:
            data["row_outcomes"] = [
                {"row": o.row, "key": o.key, "action": o.action, "problems": [p.message for p in o.problems]}
                for o in self.outcomes()
            ]
        return data


def write_error_file(report: ImportReport, reader: RowReader | None, destination: Path) -> None:
    """Every row of the file with ``import_row`` and ``import_errors`` in front, so the user can
    filter on the errors, fix those cells and import the whole file again (the two extra columns
    are ignored on import).  Cells are OWASP-neutralised; the importer undoes that."""
    by_row: dict[int, list[str]] = {}
    for problem in report.sorted_problems():
        where = f"{problem.column}: " if problem.column else ""
        by_row.setdefault(problem.row, []).append(where + problem.message)
    delimiter = report.format.delimiter if report.format else ","

    def produce(scratch: Path) -> None:
        with scratch.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter)
            dropped: set[int] = set()
            if reader is None:
                writer.writerow(["import_row", "import_errors"])
                for row, messages in sorted(by_row.items()):
                    writer.writerow([row, neutralise("; ".join(messages))])
            else:
                for number, cells in reader:
                    if number == 1:
                        dropped = {i for i, h in enumerate(cells) if h.strip().lower() in ("import_row", "import_errors")}
                        writer.writerow(["import_row", "import_errors", *(c for i, c in enumerate(cells) if i not in dropped)])
                        continue
                    if not any(cell.strip() for i, cell in enumerate(cells) if i not in dropped):
                        continue
                    writer.writerow([number, neutralise("; ".join(by_row.get(number, []))),
                                     *(neutralise(c) for i, c in enumerate(cells) if i not in dropped)])
                for row in sorted(r for r in by_row if r in (0, 1)):
                    writer.writerow([row, neutralise("; ".join(by_row[row]))])
    write_output(destination, produce, suffix=".csv")
    report.errors_file = str(destination)
