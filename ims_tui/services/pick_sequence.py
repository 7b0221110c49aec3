"""Walking order of locations for pickers.

A location's ``pick_seq`` (importable) wins.  Without one, the order comes from its code read
as ``[PREFIX-]AISLE-BAY-LEVEL`` (``WH1-B-04-2``; separators ``-``, ``.``, ``_``, ``/``):
aisles in natural order, bays ascending in the first aisle, descending in the next and so on
(serpentine: the picker never walks back up an aisle he just walked down), levels ascending.
Locations whose codes do not read that way come last, by code.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[-._/]")


@lru_cache(maxsize=4096)
def _natural(text: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", text.upper()))


def _parts(code: str) -> tuple[str, str, int, str] | None:
    parts = _SEPARATORS.split(code)
    if len(parts) < 3 or not parts[-2].isdigit() or not parts[-3] or not parts[-1]:
        return None
    return "-".join(parts[:-3]), parts[-3], int(parts[-2]), parts[-1]


def walking_keys(locations: Iterable[tuple[int, str, int | None]]) -> dict[int, tuple]:
    """``(id, code, pick_seq)`` -> a sort key per location id, in walking order.

    Locations change rarely and every pick list needs them all: the keys of the last few
    location sets are kept (a set is compared whole, so any change is a new set)."""
    return _walking_keys(tuple(tuple(row) for row in locations))


@lru_cache(maxsize=8)
def _walking_keys(rows: tuple[tuple[int, str, int | None], ...]) -> dict[int, tuple]:
    parsed = {loc_id: _parts(code) for loc_id, code, seq in rows if seq is None}
    aisles: dict[str, set[str]] = defaultdict(set)
    for parts in parsed.values():
        if parts is not None:
            aisles[parts[0]].add(parts[1])
    aisle_rank = {(prefix, aisle): rank for prefix, names in aisles.items()
                  for rank, aisle in enumerate(sorted(names, key=_natural))}
    keys: dict[int, tuple] = {}
    for loc_id, code, seq in rows:
        if seq is not None:
            keys[loc_id] = (0, seq, (), 0, 0, (), code)
            continue
        parts = parsed[loc_id]
        if parts is None:
            keys[loc_id] = (2, 0, _natural(code), 0, 0, (), code)
            continue
        prefix, aisle, bay, level = parts
        rank = aisle_rank[(prefix, aisle)]
        keys[loc_id] = (1, 0, _natural(prefix), rank, bay if rank % 2 == 0 else -bay, _natural(level), code)
    return keys


def aisle_bay(code: str) -> tuple[str, str, int] | None:
    """(prefix, aisle, bay) of a code that reads as aisle-bay-level, for walking-distance models."""
    parts = _parts(code)
    return None if parts is None else parts[:3]
