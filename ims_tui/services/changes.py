"""The change feed: what other stations (and this one) just committed, within a second.

Every mutation says which **topics** it changed with :func:`emit`, inside its own transaction
(the unit of work: the change, its audit rows and its change events commit or roll back
together).  A topic is one of :data:`TOPICS`; adding one is adding a line there.

PostgreSQL: :func:`emit` is a ``pg_notify`` (delivered only after commit, small payloads
``<topic>:<ident>``, e.g. ``stock:<posting id>``, ``purchase_orders:PO-000012``), and a station
LISTENs on a dedicated connection, then re-reads the few rows it needs.

SQLite: :func:`emit` writes a ``change_events`` row (a posting's ``stock`` event is its
movements, which the feed reads anyway: no extra row on the ledger's hot path).  ``PRAGMA data_version`` on a dedicated
connection changes only when another connection commits (about 2.5 us a call), so it is polled
every ``POLL_SECONDS``; when it moves, the feed reads the events and movements newer than the
last ones it saw.  SQLite writes are serialised (``BEGIN IMMEDIATE``), so ids grow in commit
order and ``id > last`` misses nothing.

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

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session, aliased

from ims_tui.db.direct import Direct, connection_of
from ims_tui.db.engine import Store
from ims_tui.db.models import ChangeEvent, Location, Lot, Movement, Posting, Product
from ims_tui.services.actor import Actor
from ims_tui.services.errors import StoreError
from ims_tui.services.permissions import Permission, check

TOPICS: tuple[str, ...] = (
    "products",
    "stock",
    "purchase_orders",
    "drafts",
    "sales_orders",
    "picks",
    "counts",
    "transfers",
    "alerts",
)
"""What a change can be about; screens refresh on the topics they show."""

CHANNEL = "ims_changes"
KEEP_EVENTS = 10_000
"""SQLite keeps about this many change events; a writer prunes older ones now and then."""
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
    events: frozenset[tuple[str, str]] = frozenset()
    """(topic, ident) pairs, e.g. ``("purchase_orders", "PO-000012")``, ``("drafts", "receipt:7")``."""

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(TOPICS) if self.everything else frozenset(topic for topic, _ in self.events)

    def touches(self, *topics: str) -> bool:
        """True when this change is about any of ``topics`` (always, when ``everything``)."""
        return self.everything or any(topic in self.topics for topic in topics)

    def idents(self, topic: str) -> frozenset[str]:
        return frozenset(ident for name, ident in self.events if name == topic)

    def touches_product(self, product_id: int | None) -> bool:
        return self.everything or (product_id is not None and product_id in self.products)

    def touches_location(self, location_id: int | None) -> bool:
        return self.everything or (location_id is not None and location_id in self.locations)


_EMITTED = "ims_emitted"


def emit(session: Session, topic: str, ident: object = "") -> None:
    """Record that this transaction changed ``topic`` (``ident`` names what: an id, a PO number).

    Part of the caller's transaction: announced when it commits, never when it rolls back.
    The same (topic, ident) twice in one transaction is announced once.
    """
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}; add it to changes.TOPICS")
    ident = str(ident)[:120]
    emitted = session.info.setdefault(_EMITTED, set())
    if (topic, ident) in emitted:
        return
    emitted.add((topic, ident))
    connection = connection_of(session)
    if connection.dialect.name == "postgresql":
        _NOTIFY.execute(connection, {"channel": CHANNEL, "payload": f"{topic}:{ident}"})
        return
    if topic == "stock":
        return  # the SQLite feed reads the posting's movements themselves: no second row per posting
    event_id = connection.execute(_INSERT_EVENT, {"topic": topic, "ident": ident}).inserted_primary_key[0]
    if event_id % 1000 == 0:
        connection.execute(delete(ChangeEvent).where(ChangeEvent.id <= event_id - KEEP_EVENTS))


def emit_many(session: Session, topic: str, idents: Iterable[object]) -> None:
    """:func:`emit` for each of ``idents`` (a batch of postings): on PostgreSQL one statement
    notifies them all; SQLite's ``stock`` events are the movements themselves, as ever."""
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}; add it to changes.TOPICS")
    emitted = session.info.setdefault(_EMITTED, set())
    fresh = []
    for ident in idents:
        pair = (topic, str(ident)[:120])
        if pair not in emitted:
            emitted.add(pair)
            fresh.append(pair[1])
    if not fresh:
        return
    connection = connection_of(session)
    if connection.dialect.name == "postgresql":
        _NOTIFY_MANY.execute(connection, {"channel": CHANNEL, "payloads": [f"{topic}:{ident}" for ident in fresh]})
        return
    if topic == "stock":
        return
    for ident in fresh:
        emitted.discard((topic, ident))
        emit(session, topic, ident)


_NOTIFY = Direct(text("SELECT pg_notify(:channel, :payload)"))
_NOTIFY_MANY = Direct(text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS TEXT[])) AS p(payload)"))
_INSERT_EVENT = insert(ChangeEvent)


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


def _change_from(movements: Iterable[LiveMovement], events: Iterable[tuple[str, str]] = (), *, everything: bool = False) -> Change:
    movements = tuple(movements)
    events = frozenset(events) | {("stock", str(m.posting_id)) for m in movements}
    products = {int(ident) for topic, ident in events if topic == "products" and ident.isdigit()}
    return Change(
        products=frozenset(products) | {m.product_id for m in movements},
        locations=frozenset(loc for m in movements for loc in (m.source_id, m.destination_id)),
        movements=movements,
        everything=everything,
        events=events,
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
            self._last_event = session.scalar(select(func.max(ChangeEvent.id))) or 0

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
            events = session.execute(
                select(ChangeEvent.id, ChangeEvent.topic, ChangeEvent.ident)
                .where(ChangeEvent.id > self._last_event).order_by(ChangeEvent.id)
            ).all()
        if events:
            self._last_event = events[-1][0]
        if not rows and not events:
            return None
        return _change_from((LiveMovement(*row) for row in rows), ((topic, ident) for _, topic, ident in events),
                            everything=everything)

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
        events: set[tuple[str, str]] = set()
        try:
            for notice in self._connection.notifies(timeout=timeout, stop_after=1):
                events.add(_parse(notice.payload))
            if not events:
                return None
            # a posting often comes with others a moment later: take what is already there
            for notice in self._connection.notifies(timeout=0.005):
                events.add(_parse(notice.payload))
        except self._psycopg.Error as exc:
            raise StoreError(f"lost the store's change feed: {_first_line(exc)}") from None
        postings = {int(ident) for topic, ident in events if topic == "stock" and ident.isdigit()}
        with self.store.read() as session:
            rows = session.execute(
                _movements_query().where(Movement.posting_id.in_(sorted(postings))).order_by(Movement.id).limit(MAX_DETAILED_MOVEMENTS + 1)
            ).all() if postings else []
        everything = len(rows) > MAX_DETAILED_MOVEMENTS
        return _change_from((LiveMovement(*row) for row in rows[:MAX_DETAILED_MOVEMENTS]), events, everything=everything)

    def close(self) -> None:
        if not self._connection.closed:
            self._connection.close()


def _parse(payload: str) -> tuple[str, str]:
    topic, _, ident = payload.partition(":")
    return topic, ident


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


__all__ = ["CHANNEL", "TOPICS", "Change", "ChangeFeed", "LiveMovement", "emit", "open_feed", "recent_activity"]
