"""Opening the store: engine per backend, short write transactions, bounded retries.

SQLite: WAL, ``synchronous=FULL``, ``foreign_keys=ON``, ``busy_timeout``, and every transaction
begun with ``BEGIN IMMEDIATE`` (Python's default deferred begin lost updates under 8 writers on
these machines).  PostgreSQL: READ COMMITTED with conditional updates and row locks; a
serialization failure or deadlock (40001/40P01) is retried a bounded number of times, which is
safe because every posting carries an idempotency key.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ims_tui.db import chain
from ims_tui.db.direct import run_driver_sql
from ims_tui.errors import StoreError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("IMS_SQLITE_BUSY_TIMEOUT_MS", "15000"))
"""How long a SQLite writer waits for the lock before it looks for a long import to wait for."""
LONG_WRITE_PATIENCE_S = 4 * 3600
RETRYABLE_SQLSTATES = {"40001", "40P01"}
READ_ONLY_OPTION = "ims_read_only"
MAX_ATTEMPTS = 8


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # Writers take the write lock up front; readers use a deferred BEGIN, so under WAL they
        # never queue behind a writer.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        run_driver_sql(connection, "BEGIN" if read_only else "BEGIN IMMEDIATE")


PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only when it sat idle (the server may have
    restarted or cut it meanwhile): SQLAlchemy's ``pool_pre_ping`` pings on every checkout, a
    round trip per transaction that a station posting back to back does not need.  A connection
    that dies in between is still caught: :meth:`Store.transact` retries it (see ``_Lost``)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["ims_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("ims_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc  # the pool replaces it (documented recipe)


_SECRET_PARAMETERS = ("password", "sslpassword")


def redact(url: str) -> str:
    """The URL with its password hidden, for printing - in the user part or in the query
    (``?password=...``, which libpq accepts too)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    hidden = {key: "***" for key in parsed.query if key.lower() in _SECRET_PARAMETERS}
    return parsed.update_query_dict(hidden).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


class Store:
    """A handle on one store: an engine plus short-transaction helpers.  Thread-safe."""

    def __init__(self, url: str, *, echo: bool = False, create: bool = True) -> None:
        """``create=False``: a SQLite file that does not exist is refused (a mistyped path for a
        read-only command), instead of becoming a new empty store."""
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"not a database URL: {url!r}") from None
        self.backend = parsed.get_backend_name()
        self.on_wait: Callable[[str], None] | None = None
        """Told, once, when a write waits for another station's long write (an import)."""
        self._marker: Path | None = None
        if self.backend == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                _private_file(Path(database).expanduser(), create=create)
                self._marker = Path(database).expanduser().with_name(Path(database).name + "-long-write")
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            _configure_sqlite(self.engine)
        elif self.backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, echo=echo, connect_args={"connect_timeout": 5})
            _ping_when_idle(self.engine)
        else:
            raise StoreError(f"unsupported store backend {self.backend!r}: use sqlite:/// or postgresql+psycopg://")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_commit", chain.seal)
        event.listen(self._sessions, "after_transaction_create", chain.mark)
        event.listen(self._sessions, "after_soft_rollback", chain.forget)
        self._read_sessions = sessionmaker(self.engine.execution_options(**{READ_ONLY_OPTION: True}))

    @property
    def display_url(self) -> str:
        return redact(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def connect(self, *, begin: bool = False) -> Iterator[Connection]:
        """A raw connection (schema work), with the same one-line errors as sessions."""
        engine = self.engine if begin else self.engine.execution_options(**{READ_ONLY_OPTION: True})
        with _translate_errors(self), (engine.begin() if begin else engine.connect()) as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end so it never holds a write lock."""
        with _translate_errors(self), self._read_sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction, not retried (test set-up, schema tools).

        Services write through :meth:`transact`, which retries; here a lost race (40001/40P01)
        is one :class:`StoreError` line, never an internal exception.
        """
        try:
            with self._attempt() as session:
                yield session
        except _Retry:
            raise StoreError("the store was busy and undid this change (a conflict with another station); try again") from None

    @contextmanager
    def _attempt(self) -> Iterator[Session]:
        with _translate_errors(self), self._sessions() as session, session.begin():
            yield session

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, retrying serialization failures and deadlocks.

        ``work`` must be safe to run again from the start (it is, when it posts with an
        idempotency key and reads what it needs inside the transaction).  On SQLite, a write that
        finds the store locked by another station's long write (an import) says so through
        :attr:`on_wait` (or the listener of :func:`reporting_waits`) and keeps waiting for it,
        rather than failing after the busy timeout; when the long write is already under way, it
        says so before it starts waiting.
        """
        attempt, waited_since = 1, None
        if self._marker is not None and not _in_long_write.get() and (holder := self.long_write_holder()) is not None:
            waited_since = time.monotonic()
            self._say_waiting(holder)
        while True:
            try:
                with self._attempt() as session:
                    try:
                        return work(session)
                    except DBAPIError as exc:
                        if exc.connection_invalidated:  # before COMMIT was sent: nothing was written
                            raise _Lost() from exc
                        raise
            except _Retry:
                if attempt == MAX_ATTEMPTS:
                    raise StoreError("the store stayed too busy to commit; try again") from None
                time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())
                attempt += 1
            except StoreBusy:
                holder = None if _in_long_write.get() else self.long_write_holder()
                if holder is None:
                    raise
                if waited_since is None:
                    waited_since = time.monotonic()
                    self._say_waiting(holder)
                elif time.monotonic() - waited_since > LONG_WRITE_PATIENCE_S:
                    raise

    def _say_waiting(self, holder: str) -> None:
        listener = _wait_listener.get() or self.on_wait
        if listener is not None:
            listener(f"waiting for {holder} to finish ...")

    @contextmanager
    def long_write(self, what: str) -> Iterator[None]:
        """Around a write transaction that may hold SQLite's lock for long (an import): other
        stations' writes that find the store locked wait for it and say why, instead of failing."""
        if self._marker is None:
            yield
            return
        self._marker.write_text(json.dumps({"pid": os.getpid(), "what": what}), encoding="utf-8")
        token = _in_long_write.set(True)
        try:
            yield
        finally:
            _in_long_write.reset(token)
            self._marker.unlink(missing_ok=True)

    def long_write_holder(self) -> str | None:
        """What holds the store in a long write (``None`` when nothing does, or its process died)."""
        if self._marker is None:
            return None
        try:
            holder = json.loads(self._marker.read_text(encoding="utf-8"))
            os.kill(int(holder["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return str(holder.get("what", "another station's long write"))


def _private_file(path: Path, *, create: bool) -> None:
    """A new SQLite store is readable by its owner only (it holds password hashes): folders made
    for it are 0700 and the file 0600 (SQLite gives its -wal and -shm files the file's mode)."""
    if path.exists():
        return
    if not create:
        raise StoreError(f"no store at {path}: check --db, or create one there with 'ims db upgrade'")
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # another process made it a moment ago
    except OSError as exc:
        raise StoreError(f"cannot create a store at {path}: {exc.strerror or exc}") from None


_wait_listener: ContextVar[Callable[[str], None] | None] = ContextVar("ims_wait_listener", default=None)
_in_long_write: ContextVar[bool] = ContextVar("ims_in_long_write", default=False)
"""True inside :meth:`Store.long_write`: the long write's own transaction does not wait for itself
(other threads of the same process, a station's receipt beside its import, still do)."""


@contextmanager
def reporting_waits(listener: Callable[[str], None]) -> Iterator[None]:
    """Within this block (this thread or task), a write that waits for another station's long
    write tells ``listener`` instead of the store's :attr:`Store.on_wait` (a station's screen
    shows it on its own message line)."""
    token = _wait_listener.set(listener)
    try:
        yield
    finally:
        _wait_listener.reset(token)


class StoreBusy(StoreError):
    """SQLite stayed locked by another writer for the whole busy timeout."""


class _Retry(Exception):
    """Internal: the transaction lost a race the database resolved by aborting it."""


class _Lost(_Retry):
    """Internal: the pooled connection was dead (the server restarted, an idle connection was
    cut) before the transaction committed; the pool has dropped it, so the retry takes a live one."""


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "diag", None), "sqlstate", None)


@contextmanager
def _translate_errors(store: Store) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if _sqlstate(exc) in RETRYABLE_SQLSTATES:
            raise _Retry() from exc
        if store.backend == "sqlite" and "is not a database" in str(exc.orig):
            raise StoreError(f"{store.display_url} is not an ims store (not a SQLite database)") from None
        if store.backend == "sqlite" and "database is locked" in str(exc.orig):
            raise StoreBusy(f"cannot use store {store.display_url}: {_first_line(exc.orig)}") from None
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise StoreError(f"cannot use store {store.display_url}: {_first_line(exc.orig)}") from None
        raise


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else type(error).__name__
