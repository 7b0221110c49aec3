"""What earlier rows of a file used, for the "also on row N" checks, in flat memory.

A dict of every SKU and barcode seen grows with the file (about 270 bytes a row).  This
mapping keeps them in a private temporary SQLite database instead: SQLite holds a bounded page
cache in memory and spills the rest to a temporary file it deletes on close, so a file of any
size is checked in the same memory.  Keys and values are JSON (tuples come back as lists).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, MutableMapping
from typing import Any

CACHE_KIB = 2048


class SeenKeys(MutableMapping[Any, Any]):
    def __init__(self) -> None:
        # "" opens a private temporary database on disk (not ":memory:", which would grow).
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")

    def __getitem__(self, key: Any) -> Any:
        row = self._db.execute("SELECT value FROM seen WHERE key = ?", (json.dumps(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return json.loads(row[0])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?)", (json.dumps(key), json.dumps(value)))

    def __delitem__(self, key: Any) -> None:
        if self._db.execute("DELETE FROM seen WHERE key = ?", (json.dumps(key),)).rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return (json.loads(key) for (key,) in self._db.execute("SELECT key FROM seen"))

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM seen").fetchone()[0]
