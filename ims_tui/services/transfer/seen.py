"""What earlier rows of a file used, for the "also on row N" checks, in flat memory.

A batch of rows is looked up and recorded in two statements (:meth:`SeenKeys.first_seen`,
:meth:`SeenKeys.count`), not two per row.

A dict of every SKU and barcode seen grows with the file (about 270 bytes a row).  This
mapping keeps them in a private temporary SQLite database instead: SQLite holds a bounded page
cache in memory and spills the rest to a temporary file it deletes on close, so a file of any
size is checked in the same memory.  Keys and values are JSON (tuples come back as lists).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
import sqlite3
from collections.abc import Iterator, MutableMapping
from typing import Any

CACHE_KIB = 2048
IN_LIST = 500




def _encode(value: Any) -> str:
    """``json.dumps(value)``, without its general machinery for the strings, numbers and tuples of
    them that the checks record (a batch encodes thousands)."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int:
        return str(value)
    if kind is tuple or kind is list:
        if len(value) == 2 and type(value[0]) is int and type(value[1]) is str:  # (row, key): most values
            return f"[{value[0]}, {encode_basestring_ascii(value[1])}]"
        return "[" + ", ".join(map(_encode, value)) + "]"
    return json.dumps(value)


class SeenKeys(MutableMapping[Any, Any]):
    def __init__(self) -> None:
        # "" opens a private temporary database on disk (not ":memory:", which would grow).
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")

    def __getitem__(self, key: Any) -> Any:
        row = self._db.execute("SELECT value FROM seen WHERE key = ?", (_encode(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return json.loads(row[0])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?)", (_encode(key), _encode(value)))

    def __delitem__(self, key: Any) -> None:
        if self._db.execute("DELETE FROM seen WHERE key = ?", (_encode(key),)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return (json.loads(key) for (key,) in self._db.execute("SELECT key FROM seen"))

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM seen").fetchone()[0]

    def first_seen(self, entries: list[tuple[Any, Any]]) -> list[Any | None]:
        """For each ``(key, value)`` in order: the value recorded under ``key`` earlier (by an earlier
        call or an earlier entry of this one), else None - and then ``value`` is recorded for it."""
        keys = [key for key, _ in entries]
        encoded = list(map(encode_basestring_ascii if set(map(type, keys)) <= {str} else _encode, keys))
        stored = self._stored(encoded)
        found: list[Any | None] = []
        new: list[tuple[str, str]] = []
        for key, (_, value) in zip(encoded, entries):
            earlier = stored.get(key)
            if earlier is None:
                stored[key] = text = _encode(value)
                new.append((key, text))
                found.append(None)
            else:
                found.append(json.loads(earlier))
        self._store(new)
        return found

    def count(self, keys: list[Any]) -> list[int]:
        """For each key in order, how many times it has been counted, this time included (1 the
        first time); the counts are kept for later calls."""
        encoded = [_encode(key) for key in keys]
        counts = {key: int(value) for key, value in self._stored(encoded).items()}
        found = []
        for key in encoded:
            counts[key] = counts.get(key, 0) + 1
            found.append(counts[key])
        self._store([(key, str(value)) for key, value in counts.items()])
        return found

    def _stored(self, encoded: list[str]) -> dict[str, str]:
        unique = list(dict.fromkeys(encoded))
        stored: dict[str, str] = {}
        for start in range(0, len(unique), IN_LIST):
            chunk = unique[start : start + IN_LIST]
            stored.update(self._db.execute(f"SELECT key, value FROM seen WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return stored

    def _store(self, pairs: list[tuple[str, str]]) -> None:
        if pairs:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO seen VALUES (?, ?)", pairs)
            self._db.execute("COMMIT")
