"""The machinery every report shares: parameters, columns, paging, totals and SQL dialect helpers.

A report is a SQL query that aggregates in the database (never a replay of history in Python):
its ``build`` turns the parameters into a :class:`Query` whose result columns are the report's
columns, and this module pages it (``LIMIT``/``OFFSET`` on the ordered result), totals it, and
streams it for exports.  Quantities come back as scaled integers (scale 3) and money as scaled
integers of scale 7 (quantity x unit cost), converted here to exact decimals.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Date, DateTime, bindparam, select, text
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Product, Warehouse
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check

VALUE_SCALE = 7  # quantity (scale 3) x unit cost (scale 4)
CENT = Decimal("0.01")
PAGE = 200
BATCH = 2000

# column types: text | money (scale-7 value) | cost (scale-4 unit cost) | qty | int | date | datetime | number
Columns = tuple[tuple[str, str], ...]
BY_CHOICES = ("product", "category", "warehouse")


@dataclass(frozen=True)
class ReportParams:
    """What a report may be asked for; each report says which of these it reads."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    as_of: dt.date | None = None
    warehouse: str | None = None
    category: str | None = None
    supplier: str | None = None
    by: str = "product"
    days: int = 30
    lot: str | None = None
    serial: str | None = None
    so: str | None = None
    product: str | None = None
    today: dt.date | None = None
    """The date reports treat as today (tests pin it; default: the UTC date)."""

    def given(self) -> set[str]:
        defaults = ReportParams()
        return {name for name in ("date_from", "date_to", "as_of", "warehouse", "category", "supplier", "by",
                                  "days", "lot", "serial", "so", "product")
                if getattr(self, name) != getattr(defaults, name)}

    @property
    def day(self) -> dt.date:
        return self.today or dt.datetime.now(dt.timezone.utc).date()

    def period(self) -> tuple[dt.date, dt.date]:
        """``--from``..``--to`` inclusive; default: the 365 days up to today."""
        end = self.date_to or self.day
        start = self.date_from or end - dt.timedelta(days=364)
        if start > end:
            raise BadInput(f"the period starts ({start}) after it ends ({end})")
        return start, end


PARAM_FLAGS = {"date_from": "--from", "date_to": "--to", "as_of": "--as-of", "warehouse": "--warehouse",
               "category": "--category", "supplier": "--supplier", "by": "--by", "days": "--days", "lot": "--lot",
               "serial": "--serial", "so": "--so", "product": "--product"}


def midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in UTC: a date ``D`` as a bound means "before D+1 00:00" for an end."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Query:
    sql: str
    params: dict[str, Any]
    order: str


@dataclass(frozen=True)
class Chart:
    """The chart a report's screen draws and its XLSX carries: ``label`` column against ``value``."""

    kind: str  # "bar" | "line"
    title: str
    label: str
    value: str


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    description: str
    accepts: frozenset[str]
    columns: Callable[[ReportParams], Columns]
    build: Callable[[Session, ReportParams], Query]
    chart: Chart | None = None
    finish: Callable[[ReportParams, dict[str, Any]], dict[str, Any]] | None = None
    """Per-row work SQL cannot do portably (a square root, a class from the settings)."""
    notes: str = ""
    totals: bool = True
    prepare: Callable[[Session, ReportParams], dict[str, Any]] = field(default=lambda session, params: {})
    series: Callable[[Session, ReportParams], list[tuple[str, Decimal]]] | None = None
    """The chart's points (a few dozen at most, aggregated in SQL); None: no chart."""
    before: Callable[[Store, ReportParams], object] | None = None
    """Work in its own short transactions before the report's read (the valuation's snapshot)."""


@dataclass
class ReportPage:
    columns: Columns
    rows: list[tuple]
    next_offset: int | None


REPORTS: dict[str, Report] = {}


def register(report: Report) -> Report:
    REPORTS[report.name] = report
    return report


def get_report(name: str) -> Report:
    from ims_tui.services import reports as _  # noqa: F401 - registers every report

    if name not in REPORTS:
        raise BadInput(f"no report {name!r}: choose one of {', '.join(REPORTS)}")
    return REPORTS[name]


def validate(report: Report, params: ReportParams) -> None:
    extra = sorted(params.given() - report.accepts)
    if extra:
        flags = ", ".join(PARAM_FLAGS[name] for name in extra)
        raise BadInput(f"the {report.name} report does not take {flags}")
    if params.by not in BY_CHOICES:
        raise BadInput(f"--by must be one of {', '.join(BY_CHOICES)}, not {params.by!r}")
    if params.by != "product" and "by" not in report.accepts:
        raise BadInput(f"the {report.name} report is by product only")
    if params.days < 0:
        raise BadInput(f"--days cannot be negative ({params.days})")


# --- dialect helpers -----------------------------------------------------------------------------


class Dialect:
    """The few places SQLite and PostgreSQL spell things differently."""

    def __init__(self, session: Session | Connection) -> None:
        self.name = (session.get_bind() if isinstance(session, Session) else session).dialect.name
        self.pg = self.name == "postgresql"

    @property
    def movements(self) -> str:
        """``movements m`` for a scan of the whole ledger: on SQLite a plain table scan, not a walk
        of the (product, time) index with a random row read per movement."""
        return "movements m" if self.pg else "movements m NOT INDEXED"

    def greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"

    def num(self, expr: str) -> str:
        """Exact on PostgreSQL (numeric), a double on SQLite: for shares and averages."""
        return f"CAST({expr} AS {'NUMERIC' if self.pg else 'REAL'})"

    def day(self, column: str) -> str:
        """Days since 1970-01-01 (UTC) of a timestamp column."""
        if self.pg:
            return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / 86400) AS INTEGER)"
        return f"CAST(julianday(date({column})) - 2440587.5 AS INTEGER)"

    def date_day(self, column: str) -> str:
        """Days since 1970-01-01 of a DATE column."""
        if self.pg:
            return f"({column} - DATE '1970-01-01')"
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"

    def month(self, column: str) -> str:
        if self.pg:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
        return f"substr({column}, 1, 7)"


def epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def warehouse_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    found = session.scalar(select(Warehouse.id).where(Warehouse.code == code.strip()))
    if found is None:
        raise BadInput(f"unknown warehouse {code!r}")
    return found


def check_category(session: Session, category: str | None) -> None:
    if category is not None and session.scalar(select(Product.id).where(Product.category == category).limit(1)) is None:
        raise BadInput(f"no products in category {category!r}")


def product_filter(params: ReportParams, alias: str = "p") -> str:
    return f" AND {alias}.category = :category" if params.category is not None else ""


# --- running ---------------------------------------------------------------------------------


def _bound(session: Session, query: Query, extra: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    params = {**query.params, **extra}
    binds = []
    for name, value in params.items():
        if isinstance(value, dt.datetime):
            binds.append(bindparam(name, type_=DateTime(timezone=True)))
        elif isinstance(value, dt.date):
            binds.append(bindparam(name, type_=Date()))
    return binds, params


REPORT_WORK_MEM = "128MB"


def _roomy(session: Session) -> None:
    """Let PostgreSQL sort and hash a report's rows in memory (the default 4 MB spilled the
    valuation's sorts to disk at a million movements); for this transaction only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def execute_sql(session: Session, sql: str, query: Query, extra: dict[str, Any]):  # type: ignore[no-untyped-def]
    _roomy(session)
    binds, params = _bound(session, query, extra)
    statement = text(sql).bindparams(*binds) if binds else text(sql)
    return session.execute(statement, params)


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    return dt.date.fromisoformat(str(value)[:10])


def _scaled(value: Any, scale: int, quantum: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, int):
        number = Decimal(value).scaleb(-scale)
    else:
        number = Decimal(str(value)).scaleb(-scale)
    return number.quantize(quantum) if quantum is not None else number.normalize() + 0


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": lambda v: "" if v is None else str(v),
    "money": lambda v: _scaled(v, VALUE_SCALE, CENT),
    "cost": lambda v: _scaled(v, 4, Decimal("0.0001")),
    "qty": lambda v: _scaled(v, 3, None),
    "int": lambda v: None if v is None else int(v),
    "date": _as_date,
    "datetime": _as_datetime,
    "number": lambda v: None if v is None or (isinstance(v, float) and not math.isfinite(v)) else Decimal(str(v)).quantize(CENT),
}


def _converter(report: Report, params: ReportParams, columns: Columns, context: dict[str, Any]) -> Callable[[Any], tuple]:
    converters = [CONVERT[type_] for _, type_ in columns]
    names = [name for name, _ in columns]

    def convert(row: Any) -> tuple:
        mapping = row._mapping
        values = {name: converters[i](mapping[name]) if name in mapping else None for i, name in enumerate(names)}
        if report.finish is not None:
            values = report.finish(params, {**values, "_raw": mapping, "_context": context})
        return tuple(values[name] for name in names)

    return convert


def _prepared(store: Store, actor: Actor, name: str, params: ReportParams) -> Report:
    report = get_report(name)
    validate(report, params)
    check(store, actor, Permission.REPORTS, f"report {name}")
    if report.before is not None:
        report.before(store, params)
    return report


def page(store: Store, actor: Actor, name: str, params: ReportParams, offset: int = 0, limit: int = PAGE) -> ReportPage:
    """One page of ``name``'s rows, computed in the database."""
    report = _prepared(store, actor, name, params)
    with store.read() as session:
        query = report.build(session, params)
        context = report.prepare(session, params)
        columns = report.columns(params)
        convert = _converter(report, params, columns, context)
        sql = f"SELECT * FROM ({query.sql}) r ORDER BY {query.order} LIMIT :_limit OFFSET :_offset"
        rows = [convert(row) for row in execute_sql(session, sql, query, {"_limit": limit + 1, "_offset": offset})]
    more = len(rows) > limit
    return ReportPage(columns, rows[:limit], offset + limit if more else None)


def totals(store: Store, actor: Actor, name: str, params: ReportParams) -> dict[str, Any]:
    """The sum of every money and quantity column over the whole report (one query)."""
    report = _prepared(store, actor, name, params)
    columns = report.columns(params)
    summed = [(column, type_) for column, type_ in columns if type_ in ("money", "qty")]
    if not summed or not report.totals:
        return {}
    with store.read() as session:
        query = report.build(session, params)
        sql = "SELECT COUNT(*) AS _rows, " + ", ".join(f"SUM({column}) AS {column}" for column, _ in summed) + f" FROM ({query.sql}) r"
        row = execute_sql(session, sql, query, {}).one()._mapping
    result: dict[str, Any] = {"rows": int(row["_rows"])}
    for column, type_ in summed:
        result[column] = CONVERT[type_](row[column]) if row[column] is not None else CONVERT[type_](0)
    return result


def iterate(store: Store, actor: Actor, name: str, params: ReportParams) -> tuple[Columns, Iterator[tuple]]:
    """Every row of the report, streamed (a server-side cursor on PostgreSQL): memory stays flat."""
    report = _prepared(store, actor, name, params)

    def rows() -> Iterator[tuple]:
        with store.read() as session:
            query = report.build(session, params)
            context = report.prepare(session, params)
            convert = _converter(report, params, report.columns(params), context)
            binds, bound = _bound(session, query, {})
            _roomy(session)
            sql = f"SELECT * FROM ({query.sql}) r ORDER BY {query.order}"
            statement = text(sql).bindparams(*binds) if binds else text(sql)
            result = session.execute(statement.execution_options(stream_results=True, yield_per=BATCH), bound)
            for row in result:
                yield convert(row)

    return report.columns(params), rows()


def chart_series(store: Store, actor: Actor, name: str, params: ReportParams) -> list[tuple[str, Decimal]]:
    """The points of the report's chart (``[]`` when it has none)."""
    report = _prepared(store, actor, name, params)
    if report.series is None:
        return []
    with store.read() as session:
        return report.series(session, params)


def top_rows_series(
    build: Callable[[Session, ReportParams], Query], label: str, value: str, limit: int = 10
) -> Callable[[Session, ReportParams], list[tuple[str, Decimal]]]:
    """A chart of the ``limit`` largest rows of ``build``'s query by ``value`` (``label`` "by":
    the ``--by`` column)."""

    def series(session: Session, params: ReportParams) -> list[tuple[str, Decimal]]:
        query = build(session, params)
        label_column = params.by if label == "by" else label
        sql = (f"SELECT {label_column} AS label, {value} AS value FROM ({query.sql}) r "
               f"ORDER BY {value} DESC LIMIT {int(limit)}")
        return [(str(row.label), CONVERT["money"](row.value)) for row in execute_sql(session, sql, query, {})]

    return series


def count(store: Store, actor: Actor, name: str, params: ReportParams) -> int:
    report = _prepared(store, actor, name, params)
    with store.read() as session:
        query = report.build(session, params)
        return int(execute_sql(session, f"SELECT COUNT(*) FROM ({query.sql}) r", query, {}).scalar_one())

