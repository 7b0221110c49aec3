"""Core statements run straight on the DB-API cursor: the ledger's hot path.

A posting is a dozen small statements; SQLAlchemy's execution path (execution context, cache
key, result object, events) cost more per statement than SQLite took to run it.  A
:class:`Direct` statement is an ordinary Core statement, built from the models, compiled once per
dialect (and per length of each expanding ``IN`` list): its SQL, its parameter order, and the bind
and result processors of its column types.  Running it puts the processed parameters on the
cursor of the caller's own connection - the same transaction as the rest of the unit of work, the
same SQL and the same stored values SQLAlchemy would produce - and a driver error comes out as
SQLAlchemy's exception (``IntegrityError``, ``OperationalError`` ...), so the store's retries and
one-line errors see what they always saw.

Use it only where the statement count per operation is what costs (the ledger); everything else
reads better through the ORM and Core as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, Connection, Dialect, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None
_REQUIRED = object()


class _Compiled:
    """One statement for one dialect and one set of expanding-list lengths."""

    def __init__(self, statement: Executable, dialect: Dialect, lists: Mapping[str, Sequence[Any]],
                 required: frozenset[str]) -> None:
        """``lists``: each expanding parameter's list, the caller's or the literal one the statement
        carries (``col.in_((1, 2))``), for its length; ``required``: the parameters the caller gives."""
        lengths = {name: len(values) for name, values in lists.items()}
        if lengths:  # rendering the lists' placeholders wants a value for every parameter
            statement = statement.params({name: None for name in required} | {name: [None] * n for name, n in lengths.items()})
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self.positional = compiled.positiontup is not None
        # (name in the SQL, name in the caller's params, index in an expanding list or None,
        #  processor, the value a literal in the statement carries)
        self.binds: list[tuple[str, str, int | None, Processor, Any]] = []
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        if self.positional:
            names = compiled.positiontup
        else:
            names = [f"{name}_{i}" for name, bind in by_name.items() if bind.expanding
                     for i in range(1, lengths[bind.key] + 1)]
            names += [name for name, bind in by_name.items() if not bind.expanding]
        # columns whose Python-side default or onupdate (``updated_at``) SQLAlchemy would fill in
        generated = {column.key: column.default if compiled.isinsert else column.onupdate
                     for column in (*compiled.insert_prefetch, *compiled.update_prefetch)}
        for name in names:
            bind = by_name.get(name)
            if bind is not None and not bind.expanding:
                if bind.key in generated:
                    literal = _Generated(generated[bind.key])
                else:
                    literal = _REQUIRED if bind.key in required or bind.callable is not None else bind.value
                self.binds.append((name, bind.key, None, _processor(bind, dialect), literal))
                continue
            base, _, index = name.rpartition("_")
            bind = by_name[base]
            self.binds.append((name, bind.key, int(index) - 1, _processor(bind, dialect), lists[bind.key]))
        columns = getattr(statement, "selected_columns", None)
        if columns is None:  # an INSERT/UPDATE ... RETURNING; text returns no typed columns
            columns = getattr(statement, "exported_columns", ())
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.processes_results = any(self.results)
        self.names = [name for name, *_rest in self.binds]

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        append = values.append
        for _name, key, index, process, literal in self.binds:
            if key in params:
                value = params[key]
            elif literal is _REQUIRED:
                raise KeyError(f"no value for parameter {key!r} of a direct statement")
            elif type(literal) is _Generated:
                value = literal()
            else:
                value = literal
            if index is not None:
                value = value[index]
            append(process(value) if process is not None and value is not None else value)
        if self.positional:
            return values
        return dict(zip(self.names, values))

    def many(self, rows: Sequence[Mapping[str, Any]]) -> list[Sequence[Any] | dict[str, Any]]:
        """:meth:`parameters` of each row; when every row names every parameter (an executemany's
        rows usually do), one plan for all of them, a value object shared by the rows (a batch's one
        timestamp) converted once."""
        plan = []
        for _name, key, index, process, _literal in self.binds:
            if index is not None or any(key not in row for row in rows):
                return [self.parameters(row) for row in rows]
            plan.append((key, _once_per_object(process)))
        values = [[row[key] if process is None or row[key] is None else process(row[key]) for key, process in plan]
                  for row in rows]
        if self.positional:
            return values
        return [dict(zip(self.names, row)) for row in values]

    def row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if not self.processes_results:
            return tuple(row)
        return tuple(
            process(value) if process is not None and value is not None else value
            for process, value in zip(self.results, row, strict=True)
        )


def _once_per_object(process: Processor) -> Processor:
    """``process``, converting again only a value that is not the object it converted last."""
    if process is None:
        return None
    last: Any = object()
    converted: Any = None

    def convert(value: Any) -> Any:
        nonlocal last, converted
        if value is not last:
            last, converted = value, process(value)
        return converted

    return convert


class _Generated:
    """A column's Python-side default or onupdate, made at each execution."""

    def __init__(self, default: Any) -> None:
        self.default = default

    def __call__(self) -> Any:
        if self.default.is_callable:
            return self.default.arg(None)  # SQLAlchemy wraps a no-argument function to take a context
        return self.default.arg


def _processor(bind: BindParameter, dialect: Dialect) -> Processor:
    return bind.type.dialect_impl(dialect).bind_processor(dialect)


class Direct:
    """A Core statement run on the DB-API cursor of a SQLAlchemy connection.

    Every parameter is a named ``bindparam`` (an ``INSERT`` lists its columns in ``values()``);
    an expanding ``bindparam`` takes a non-empty list.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        binds = [element for element in visitors.iterate(statement) if isinstance(element, BindParameter)]
        self._required = frozenset(bind.key for bind in binds if bind.required)
        # expanding parameter -> the literal list it carries (None: the caller gives the list)
        self._expanding = {
            bind.key: None if bind.required else list(bind.value) for bind in binds if bind.expanding
        }
        self._compiled: dict[str | tuple[str, tuple[int, ...]], _Compiled] = {}

    def _for(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        if not self._expanding:  # most statements: one compiled form per dialect
            compiled = self._compiled.get(dialect.name)
            if compiled is None:
                compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect, {}, self._required)
            return compiled
        lists = {name: params[name] if name in params or literal is None else literal
                 for name, literal in self._expanding.items()}
        key = (dialect.name, tuple(len(values) for values in lists.values()))
        compiled = self._compiled.get(key)
        if compiled is None:
            if 0 in key[1]:
                raise ValueError(f"an empty list for one of {sorted(self._expanding)} in a direct statement")
            compiled = self._compiled[key] = _Compiled(self.statement, dialect, lists, self._required)
        return compiled

    def _execute(self, connection: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        compiled = self._for(connection.dialect, params)
        parameters = compiled.parameters(params)
        cursor = run_driver_sql(connection, compiled.sql, parameters)
        return compiled, cursor

    def execute(self, connection: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run it; the number of rows it changed."""
        _compiled, cursor = self._execute(connection, params or {})
        return cursor.rowcount

    def one(self, connection: Connection, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        """The first row (``None`` when there is none)."""
        compiled, cursor = self._execute(connection, params or {})
        row = cursor.fetchone()
        return None if row is None else compiled.row(row)

    def scalar(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        row = self.one(connection, params)
        return None if row is None else row[0]

    def all(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        compiled, cursor = self._execute(connection, params or {})
        return [compiled.row(row) for row in cursor.fetchall()]

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """One ``executemany`` (no RETURNING)."""
        if not rows:
            return
        compiled = self._for(connection.dialect, rows[0])
        run_driver_sql(connection, compiled.sql, compiled.many(rows), many=True)


_CONNECTION = "ims_direct_connection"


def connection_of(session: Session) -> Connection:
    """``session.connection()``, remembered for the session's current transaction and savepoint:
    the ledger, the audit row, the change events and the chain each need it, and SQLAlchemy's
    lookup is not free.  A savepoint begun since asks the session again (that is when SQLAlchemy
    emits its SAVEPOINT)."""
    transaction = session.get_transaction()
    cached = session.info.get(_CONNECTION)
    if (transaction is not None and cached is not None and cached[0] is transaction
            and cached[1] is session.get_nested_transaction()):
        return cached[2]
    connection = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), session.get_nested_transaction(), connection)
    return connection


def run_driver_sql(connection: Connection, sql: str, parameters: Any = None, *, many: bool = False) -> Any:
    """Run ``sql`` on the connection's DB-API cursor; a driver error becomes SQLAlchemy's, and a
    lost connection is invalidated as SQLAlchemy itself would."""
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
    except dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(connection, driver, cursor, sql, parameters, exc) from exc
    return cursor


def _as_sqlalchemy_error(connection: Connection, driver: Any, cursor: Any, sql: str, parameters: Any,
                         exc: Exception) -> DBAPIError:
    """A driver error as SQLAlchemy raises it (so retries and one-line messages treat both paths
    alike), the connection invalidated when it was lost."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(exc, driver, cursor)
    if lost:
        connection.invalidate(exc)
    return DBAPIError.instance(sql, parameters, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect)


def allocate_ids(connection: Connection, table: str, count: int) -> list[int]:
    """``count`` new primary keys for ``table`` (an integer ``id`` column), so a batch can insert its
    rows with an ``executemany`` and no RETURNING.  PostgreSQL draws them from the column's
    sequence (other writers draw theirs meanwhile: the ids are unique, not always consecutive);
    SQLite takes the ones after the largest id, which only a write transaction (``BEGIN
    IMMEDIATE``: no other writer until it ends) may do - SQLite would pick the same ones."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        cursor = run_driver_sql(
            connection, "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) FROM generate_series(1, %(count)s)",
            {"table": table, "count": count},
        )
        return [row[0] for row in cursor.fetchall()]
    cursor = run_driver_sql(connection, f'SELECT coalesce(max(id), 0) FROM "{table}"')
    start = cursor.fetchone()[0]
    return list(range(start + 1, start + 1 + count))


def copy_rows(connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """PostgreSQL only: ``COPY`` ``rows`` (dicts with the same keys, named by column) into ``table``
    (a SQLAlchemy ``Table``), each value converted by its column's type as an ``INSERT`` would;
    a driver error comes out as SQLAlchemy's.  For a batch too long for per-row round trips."""
    if not rows:
        return
    dialect = connection.dialect
    names = list(rows[0])
    processors = [_once_per_object(table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names]
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([value if process is None or value is None else process(value)
                                for value, process in zip([row[name] for name in names], processors)])
    except dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(connection, driver, cursor, sql, None, exc) from exc
    finally:
        cursor.close()


def one_of(dialect: str, column: Any, values: Sequence | None = None, *, name: str | None = None) -> Any:
    """``column IN (...)`` with the whole list as one parameter, however long it is: ``= ANY(array)``
    on PostgreSQL, ``IN (SELECT value FROM json_each(...))`` on SQLite - no statement of a thousand
    parameters to build, key and parse for each batch.  Given ``values``, the list is bound here;
    given ``name``, the statement can be built once and run with ``{name: list_parameter(...)}``."""
    value = None if values is None else list_parameter(dialect, values)
    if dialect == "postgresql":
        return column == any_(bindparam(name, value, type_=postgresql.ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name, value, type_=String()))))


def list_parameter(dialect: str, values: Sequence) -> Any:
    """A list as :func:`one_of`'s parameter takes it: an array on PostgreSQL, JSON text on SQLite."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))
