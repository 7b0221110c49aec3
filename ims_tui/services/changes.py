"""The change feed: what other stations (and this one) just committed, within a second.

PostgreSQL: the ledger announces every posting with ``pg_notify`` inside its own transaction
(delivered only after commit, payload ids only: ``posting:<id>``, ``product:<id>``), and a
station LISTENs on a dedicated connection, then re-reads the few rows it needs.

SQLite: ``PRAGMA data_version`` on a dedicated connection changes only when another connection
commits (about 2.5 us a call), so it is polled every ``POLL_SECONDS``; when it moves, the feed
reads movements and catalogue audit rows newer than the last ones it saw.  SQLite writes are
serialised (``BEGIN IMMEDIATE``), so ids grow in commit order and ``id > last`` misses nothing.

No Textual here: the app runs :meth:`ChangeFeed.wait` in a thread worker.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from ims_tui.db.engine import Store
from ims_tui.db.models import AuditEntry, Location, Lot, Movement, Posting, Product
from ims_tui.services.actor import Actor
from ims_tui.services.errors import StoreError
from ims_tui.services.permissions import Permission, check

CHANNEL = "ims_changes"
POLL_SECONDS = 0.1
MAX_DETAILED_MOVEMENTS = 500
"""Beyond this many movements in one wake-up (a bulk import) the feed says 'everything changed'."""


@dataclass(frozen=True)
class LiveMovement:
    """One committed movement, as the Live screen shows it."""

    id: int
    posting_id: int
    at: dt.datetime
    kind: str
    product_id: int
    sku: str
    name: str
    qty: Decimal
    uom: str
    source_id: int
    source: str
    destination_id: int
    destination: str
    lot: str | None
    username: str
    station: str
    reason: str
    reference: str


@dataclass(frozen=True)
class Change:
    """What one wake-up of the feed learnt; ``everything`` means re-read all you show."""

    products: frozenset[int] = frozenset()
    locations: frozenset[int] = frozenset()
    movements: tuple[LiveMovement, ...] = ()
    everything: bool = False

    def touches_product(self, product_id: int | None) -> bool:
        return self.everything or (product_id is not None and product_id in self.products)

    def touches_location(self, location_id: int | None) -> bool:
        return self.everything or (location_id is not None and location_id in self.locations)


def announce(session: Session, kind: str, ident: int) -> None:
    """Tell listening stations about a change, in the caller's transaction (PostgreSQL only).

    SQLite needs nothing: its readers notice any commit through ``PRAGMA data_version``.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": f"{kind}:{ident}"})


class ChangeFeed(ABC):
    """Blocking reader of committed changes; one per station, used from one thread."""

    @abstractmethod
    def wait(self, timeout: float) -> Change | None:
        """Block up to ``timeout`` seconds; the change, or None when nothing was committed."""

    @abstractmethod
    def close(self) -> None:
        """Release the dedicated connection."""


def open_feed(store: Store) -> ChangeFeed:
    """The feed for this store's backend."""
    if store.backend == "postgresql":
        return PostgresFeed(store)
    return SqliteFeed(store)


def _movements_query():
    source, destination = aliased(Location), aliased(Location)
    return (
        select(
            Movement.id, Movement.posting_id, Movement.created_at, Posting.kind, Movement.product_id, Product.sku,
            Product.name, Movement.qty, Product.uom, Movement.from_location_id, source.code,
            Movement.to_location_id, destination.code, Lot.code, Movement.username, Movement.station,
            Movement.reason, Movement.reference,
        )
        .join(Posting, Posting.id == Movement.posting_id)
        .join(Product, Product.id == Movement.product_id)
        .join(source, source.id == Movement.from_location_id)
        .join(destination, destination.id == Movement.to_location_id)
        .outerjoin(Lot, Lot.id == Movement.lot_id)
    )


def _change_from(movements: Iterable[LiveMovement], products: Iterable[int] = (), *, everything: bool = False) -> Change:
    movements = tuple(movements)
    return Change(
        products=frozenset(products) | {m.product_id for m in movements},
        locations=frozenset(loc for m in movements for loc in (m.source_id, m.destination_id)),
        movements=movements,
        everything=everything,
    )


def recent_activity(store: Store, actor: Actor, limit: int = 100) -> list[LiveMovement]:
    """The latest movements across all stations, oldest first (the Live screen's backlog)."""
    check(store, actor, Permission.REPORTS, "live")
    with store.read() as session:
        rows = session.execute(_movements_query().order_by(Movement.id.desc()).limit(limit)).all()
    return [LiveMovement(*row) for row in reversed(rows)]


class SqliteFeed(ChangeFeed):
    def __init__(self, store: Store) -> None:
        self.store = store
        database = store.engine.url.database
        self._connection: sqlite3.Connection | None = None
        if database and database != ":memory:":
            args, kwargs = store.engine.dialect.create_connect_args(store.engine.url)
            try:
                self._connection = sqlite3.connect(*args, **{**kwargs, "isolation_level": None, "check_same_thread": False})
            except sqlite3.Error as exc:
                raise StoreError(f"cannot watch store {store.display_url}: {exc}") from None
        self._version = self._data_version()
        with store.read() as session:
            self._last_movement = session.scalar(select(func.max(Movement.id))) or 0
            self._last_audit = session.scalar(select(func.max(AuditEntry.id))) or 0

    def _data_version(self) -> int:
        if self._connection is None:
            return 0
        try:
            return self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot watch store {self.store.display_url}: {exc}") from None

    def wait(self, timeout: float) -> Change | None:
        deadline = time.monotonic() + timeout
        while True:
            version = self._data_version()
            if version != self._version:
                self._version = version
                change = self._collect()
                if change is not None:
                    return change
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(POLL_SECONDS, remaining))

    def _collect(self) -> Change | None:
        with self.store.read() as session:
            rows = session.execute(
                _movements_query().where(Movement.id > self._last_movement).order_by(Movement.id).limit(MAX_DETAILED_MOVEMENTS + 1)
            ).all()
            everything = len(rows) > MAX_DETAILED_MOVEMENTS
            if everything:
                self._last_movement = session.scalar(select(func.max(Movement.id))) or self._last_movement
                rows = rows[:MAX_DETAILED_MOVEMENTS]
            elif rows:
                self._last_movement = rows[-1][0]
            audits = session.execute(
                select(AuditEntry.id, AuditEntry.product_id).where(AuditEntry.id > self._last_audit).order_by(AuditEntry.id)
            ).all()
        if audits:
            self._last_audit = audits[-1][0]
        products = {product_id for _, product_id in audits if product_id is not None}
        if not rows and not products:
            return None
        return _change_from((LiveMovement(*row) for row in rows), products, everything=everything)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresFeed(ChangeFeed):
    def __init__(self, store: Store) -> None:
        import psycopg

        self.store = store
        self._psycopg = psycopg
        args, kwargs = store.engine.dialect.create_connect_args(store.engine.url)
        kwargs.pop("context", None)
        try:
            self._connection = psycopg.connect(*args, **kwargs, autocommit=True)
            self._connection.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise StoreError(f"cannot watch store {store.display_url}: {_first_line(exc)}") from None

    def wait(self, timeout: float) -> Change | None:
        postings: set[int] = set()
        products: set[int] = set()
        try:
            for notice in self._connection.notifies(timeout=timeout, stop_after=1):
                _parse(notice.payload, postings, products)
            if not postings and not products:
                return None
            # a posting often comes with others a moment later: take what is already there
            for notice in self._connection.notifies(timeout=0.005):
                _parse(notice.payload, postings, products)
        except self._psycopg.Error as exc:
            raise StoreError(f"lost the store's change feed: {_first_line(exc)}") from None
        with self.store.read() as session:
            rows = session.execute(
                _movements_query().where(Movement.posting_id.in_(sorted(postings))).order_by(Movement.id).limit(MAX_DETAILED_MOVEMENTS + 1)
            ).all() if postings else []
        everything = len(rows) > MAX_DETAILED_MOVEMENTS
        return _change_from((LiveMovement(*row) for row in rows[:MAX_DETAILED_MOVEMENTS]), products, everything=everything)

    def close(self) -> None:
        if not self._connection.closed:
            self._connection.close()


def _parse(payload: str, postings: set[int], products: set[int]) -> None:
    kind, _, ident = payload.partition(":")
    if not ident.isdigit():
        return
    if kind == "posting":
        postings.add(int(ident))
    elif kind == "product":
        products.add(int(ident))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


__all__ = ["CHANNEL", "Change", "ChangeFeed", "LiveMovement", "announce", "open_feed", "recent_activity"]
