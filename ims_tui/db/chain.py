"""The hash chain over the ledger and the audit log: tamper evidence beyond the triggers.

Every posting, movement and audit row gets one link in ``chain_links``: the SHA-256 of the row's
content and the hash of the link before it in its *stripe*.  Changing, deleting or slipping in a
row - with the file open in another program, or as a PostgreSQL superuser with the triggers
switched off (``session_replication_role = replica``) - breaks the chain, and ``ims check`` says
where.

Links are made at commit (a ``before_commit`` hook on the store's sessions), from the rows as
the database returns them, so they hash exactly what ``ims check`` will read back.  The hook takes
its stripe's head row as the last thing the transaction locks and holds it only through the
commit, after every balance lock: it cannot deadlock with the ledger's fixed lock order.  SQLite
serialises writers anyway and uses one stripe; PostgreSQL spreads writers over ``STRIPES`` heads
so concurrent postings rarely wait on each other, and writes a transaction's links and its new
head in one statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, text, update
from sqlalchemy.orm import Session, SessionTransaction

from ims_tui.db.direct import Direct, connection_of, run_driver_sql
from ims_tui.db.models import AuditEntry, ChainHead, Movement, Posting

STRIPES = 32
GENESIS = "0" * 64
PENDING = "ims_chain_pending"
_MARKS = "ims_chain_savepoints"

# The columns each link covers, fixed here (not "every column of the model") so a column added
# by a later migration does not change the hash of rows written before it.
_COVERED = {
    Posting: ("id", "idempotency_key", "kind", "reason", "reference", "username", "station", "created_at",
              "content_digest"),
    Movement: ("id", "posting_id", "product_id", "qty", "from_location_id", "to_location_id", "lot_id", "serial_id",
               "unit_cost", "reason", "reference", "username", "station", "created_at"),
    AuditEntry: ("id", "at", "username", "role", "station", "action", "target", "product_id", "summary", "outcome"),
}
CHAINED: dict[str, tuple[ColumnElement, ...]] = {
    model.__tablename__: tuple(getattr(model, name) for name in names) for model, names in _COVERED.items()
}
"""Chained table name -> the columns hashed, the id first."""
COLUMN_NAMES = {model.__tablename__: names for model, names in _COVERED.items()}


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def row_hash(table: str, row: Iterable[Any]) -> str:
    """The hash of a row's content: every column, in table order, in a canonical form."""
    payload = json.dumps([table, *(_canonical(v) for v in row)], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def link_hash(previous: str, table: str, row_id: int, content: str) -> str:
    return hashlib.sha256(f"{previous}|{table}|{row_id}|{content}".encode()).hexdigest()


def remember(session: Session, table: str, row_id: int, values: Mapping[str, Any]) -> None:
    """Note a row this transaction inserted into a chained table, with the values it was given
    (by column name); it is linked at commit.  The values are hashed as the database stores
    them - exact decimals, UTC times - so ``ims check`` reading the row back gets the same hash."""
    row = (row_id, *(values.get(name) for name in COLUMN_NAMES[table][1:]))
    session.info.setdefault(PENDING, []).append((table, row_id, row_hash(table, row)))


def remember_many(session: Session, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """:func:`remember` for many rows (each with its ``id``), hashed exactly as :func:`row_hash`
    hashes them; a value object shared by the rows (a batch's one timestamp) is put in canonical
    form once."""
    names = COLUMN_NAMES[table][1:]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    plain = (str, int, bool, type(None))
    memo: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, canonical form): the value is kept alive
    pending = session.info.setdefault(PENDING, [])
    for values in rows:
        row_id = values["id"]
        payload = [table, row_id]
        for name in names:
            value = values.get(name)
            if type(value) not in plain:
                seen = memo.get(id(value))
                if seen is None or seen[0] is not value:
                    seen = memo[id(value)] = (value, _canonical(value))
                value = seen[1]
            payload.append(value)
        pending.append((table, row_id, hashlib.sha256(encode(payload).encode("utf-8")).hexdigest()))


def mark(session: Session, transaction: SessionTransaction) -> None:
    """``after_transaction_create``: remember where a savepoint began in the pending rows."""
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(session.info.get(PENDING, ()))


def forget(session: Session, previous: SessionTransaction) -> None:
    """``after_soft_rollback``: rows inserted under a rolled-back savepoint (or transaction) are
    gone, so they get no link."""
    if previous.nested:
        start = session.info.get(_MARKS, {}).pop(id(previous), None)
        if start is not None and PENDING in session.info:
            del session.info[PENDING][start:]
    elif previous.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(_MARKS, None)


def seal(session: Session) -> None:
    """``before_commit``: link the rows this transaction inserted to the end of a stripe."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    connection = connection_of(session)
    # secrets, not random: forked processes share the random module's state and would all pick
    # the same stripe, queueing on one head row.
    append(connection, pending, stripe=0 if connection.dialect.name == "sqlite" else secrets.randbelow(STRIPES))


_TAKE_HEAD = Direct(
    update(ChainHead)
    .where(ChainHead.stripe == bindparam("head"))
    .values(seq=ChainHead.seq + bindparam("count"))
    .returning(ChainHead.seq, ChainHead.hash)
)
_SET_HEAD = Direct(update(ChainHead).where(ChainHead.stripe == bindparam("head")).values(hash=bindparam("new_hash")))
_LINK_COLUMNS = ("stripe", "seq", "tbl", "row_id", "row_hash", "hash")
_INSERT_LINKS_SQL = f"INSERT INTO chain_links ({', '.join(_LINK_COLUMNS)}) VALUES ({', '.join('?' * len(_LINK_COLUMNS))})"
"""SQLite: every column a plain int or text, nothing to convert."""
# PostgreSQL: the links (as arrays, any number) and the new head in one round trip; a
# data-modifying CTE always runs.
_INSERT_LINKS_AND_SET_HEAD = Direct(text(
    "WITH new_links AS (INSERT INTO chain_links (stripe, seq, tbl, row_id, row_hash, hash) "
    "SELECT :head, seq, tbl, row_id, row_hash, hash FROM unnest("
    "CAST(:seqs AS INTEGER[]), CAST(:tbls AS VARCHAR[]), CAST(:row_ids AS INTEGER[]), "
    "CAST(:row_hashes AS VARCHAR[]), CAST(:hashes AS VARCHAR[])) AS link(seq, tbl, row_id, row_hash, hash) "
    "RETURNING id) "
    "UPDATE chain_heads SET hash = :new_hash WHERE stripe = :head"
))


def append(connection: Connection, hashed: list[tuple[str, int, str]], *, stripe: int) -> None:
    """Add links for ``(table, row id, row hash)`` at the end of ``stripe`` (locking its head)."""
    if not hashed:
        return
    end, previous = _TAKE_HEAD.one(connection, {"head": stripe, "count": len(hashed)})
    # One link is one sha256 of link_hash's text; the links go to the driver as plain tuples (an
    # import seals hundreds of thousands in its write transaction: no dict or bind step per link).
    links = []
    add = links.append
    sha256 = hashlib.sha256
    for seq, (table, row_id, content) in enumerate(hashed, start=end - len(hashed) + 1):
        previous = sha256(f"{previous}|{table}|{row_id}|{content}".encode()).hexdigest()
        add((stripe, seq, table, row_id, content, previous))
    if connection.dialect.name == "postgresql":
        _INSERT_LINKS_AND_SET_HEAD.execute(connection, {
            "head": stripe, "new_hash": previous, "seqs": [link[1] for link in links],
            "tbls": [link[2] for link in links], "row_ids": [link[3] for link in links],
            "row_hashes": [link[4] for link in links], "hashes": [link[5] for link in links],
        })
        return
    run_driver_sql(connection, _INSERT_LINKS_SQL, links, many=True)
    _SET_HEAD.execute(connection, {"head": stripe, "new_hash": previous})
