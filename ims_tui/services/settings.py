"""The store's own settings (site policy), kept in ``store_meta`` and changed by administrators.

Each setting has a key, a default and a parser; ``show`` lists them all, and every change is
audited in the transaction that makes it.  The valuation method is read by the ledger at posting
time, so a change takes effect for postings made after it and never rewrites history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import StoreMeta
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check

VALUATION_METHODS = ("fifo", "lifo", "average")


def _method(text: str) -> str:
    value = text.strip().lower()
    if value not in VALUATION_METHODS:
        raise BadInput(f"valuation method must be fifo, lifo or average, not {text!r}")
    return value


def _percent(text: str) -> str:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise BadInput(f"not a percentage: {text!r}") from None
    if not value.is_finite() or not 0 < value < 100:
        raise BadInput(f"a class boundary is a percentage between 0 and 100, not {text}")
    return format(value.normalize(), "f")


def _ratio(text: str) -> str:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise BadInput(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise BadInput(f"a variability boundary is a coefficient of variation above 0, not {text}")
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Setting:
    key: str
    default: str
    parse: Callable[[str], str]
    description: str


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("valuation_method", "fifo", _method, "cost of goods leaving stock: fifo, lifo or average (moving)"),
    Setting("abc_a", "80", _percent, "ABC: class A holds the items making up this % of consumption value"),
    Setting("abc_b", "95", _percent, "ABC: classes A and B together hold this % of consumption value"),
    Setting("xyz_x", "0.5", _ratio, "XYZ: class X has weekly demand varying at most this much (coefficient of variation)"),
    Setting("xyz_y", "1", _ratio, "XYZ: class Y varies at most this much; more is Z"),
)}


def read_all(session: Session) -> dict[str, str]:
    """Every setting's value (the default where the store has none)."""
    stored = dict(session.execute(select(StoreMeta.key, StoreMeta.value).where(StoreMeta.key.in_(SETTINGS))).all())
    return {key: stored.get(key, setting.default) for key, setting in SETTINGS.items()}


def get(session: Session, key: str) -> str:
    return read_all(session)[key]


def show(store: Store) -> dict[str, str]:
    with store.read() as session:
        return read_all(session)


def change(store: Store, actor: Actor, values: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Set several settings at once (administrators); returns ``{key: (before, after)}`` of what changed."""
    parsed = {}
    for key, raw in values.items():
        if key not in SETTINGS:
            raise BadInput(f"no setting {key!r}")
        parsed[key] = SETTINGS[key].parse(raw)
    check(store, actor, Permission.MANAGE_SETTINGS, ", ".join(sorted(values)))

    def work(session: Session) -> dict[str, tuple[str, str]]:
        current = read_all(session)
        merged = {**current, **parsed}
        if Decimal(merged["abc_a"]) >= Decimal(merged["abc_b"]):
            raise BadInput(f"class A's boundary ({merged['abc_a']}%) must be below class B's ({merged['abc_b']}%)")
        if Decimal(merged["xyz_x"]) >= Decimal(merged["xyz_y"]):
            raise BadInput(f"class X's boundary ({merged['xyz_x']}) must be below class Y's ({merged['xyz_y']})")
        changed = {key: (current[key], value) for key, value in parsed.items() if current[key] != value}
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        for key, (before, after) in changed.items():
            statement = insert(StoreMeta).values(key=key, value=after)
            session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": after}))
            audit.record(session, actor, "settings.change", key, f"{key}: {before} -> {after}")
        return changed

    return store.transact(work)


def set_valuation_method(store: Store, actor: Actor, method: str) -> tuple[str, str] | None:
    """The method for postings from now on; None when it already was."""
    return change(store, actor, {"valuation_method": method}).get("valuation_method")
