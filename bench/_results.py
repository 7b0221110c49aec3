"""Every benchmark records each measured ratio here, so ``make bench`` ends with one table of every
ratio beside its goal.

A benchmark calls :func:`record` once per ratio.  Run alone, that prints the line; run under
``make bench`` (``python -m bench``) it also appends a JSON line to the file named by
``IMS_BENCH_RESULTS``, which ``bench/__main__.py`` reads back for the table."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_ENV = "IMS_BENCH_RESULTS"


@dataclass(frozen=True)
class Ratio:
    benchmark: str
    measure: str
    ratio: float
    at_most: float | None = None
    at_least: float | None = None
    detail: str = ""

    @property
    def goal(self) -> str:
        if self.at_most is not None:
            return f"<= {self.at_most:g}x"
        if self.at_least is not None:
            return f">= {self.at_least:g}x"
        return "-"

    @property
    def met(self) -> bool | None:
        if self.at_most is not None:
            return self.ratio <= self.at_most
        if self.at_least is not None:
            return self.ratio >= self.at_least
        return None


def record(benchmark: str, measure: str, ratio: float, *, at_most: float | None = None,
           at_least: float | None = None, detail: str = "") -> Ratio:
    """Print one ratio with its goal; under ``make bench`` also keep it for the closing table."""
    result = Ratio(benchmark, measure, ratio, at_most, at_least, detail)
    verdict = {True: "met", False: "MISSED", None: ""}[result.met]
    print(f"ratio  {measure}: {ratio:.2f}x  (goal {result.goal}) {verdict}  {detail}".rstrip(), flush=True)
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(result)) + "\n")
    return result


def read(path: Path) -> list[Ratio]:
    if not path.exists():
        return []
    return [Ratio(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def table(results: list[Ratio]) -> str:
    """The closing table: benchmark, measure, ratio, goal and whether it was met."""
    rows = [("benchmark", "measure", "ratio", "goal", "met")]
    rows += [(r.benchmark, r.measure, f"{r.ratio:.2f}x", r.goal, {True: "yes", False: "NO", None: ""}[r.met])
             for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
