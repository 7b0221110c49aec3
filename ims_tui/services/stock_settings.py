"""The store's settings for counts and scrap, kept in ``store_meta`` (site policy, not station).

``count.tolerance_pct`` / ``count.tolerance_value``: a counted line whose variance is within both
is approved by itself; above either, it asks for a recount by a different counter.
``count.frequency_days.A|B|C``: how often a product of that ABC class is due for a count.
``count.scheduled_max_products``: how many due products one scheduled count takes.
``scrap.approval_value``: scrap worth more than this needs a manager's approval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import StoreMeta
from ims_tui.services import audit
from ims_tui.services.actor import Actor
from ims_tui.services.errors import BadInput
from ims_tui.services.permissions import Permission, check
from ims_tui.values import MONEY_SCALE, parse_number

DEFAULTS = {
    "count.tolerance_pct": "2",
    "count.tolerance_value": "50",
    "count.frequency_days.A": "30",
    "count.frequency_days.B": "90",
    "count.frequency_days.C": "180",
    "count.scheduled_max_products": "50",
    "scrap.approval_value": "100",
}


@dataclass(frozen=True)
class StockSettings:
    tolerance_pct: Decimal
    tolerance_value: Decimal
    frequency_days: dict[str, int]
    scheduled_max_products: int
    scrap_approval_value: Decimal

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        freq = ", ".join(f"{cls} every {days} days" for cls, days in self.frequency_days.items())
        return (
            f"count tolerance: {self.tolerance_pct}% and {self.tolerance_value} in value\n"
            f"scheduled counts: {freq}; at most {self.scheduled_max_products} products per count\n"
            f"scrap above {self.scrap_approval_value} in value needs a manager's approval"
        )


def read_settings(session: Session) -> StockSettings:
    stored = dict(session.execute(select(StoreMeta.key, StoreMeta.value).where(StoreMeta.key.in_(list(DEFAULTS)))).all())
    value = {key: stored.get(key, default) for key, default in DEFAULTS.items()}
    return StockSettings(
        tolerance_pct=Decimal(value["count.tolerance_pct"]),
        tolerance_value=Decimal(value["count.tolerance_value"]),
        frequency_days={cls: int(value[f"count.frequency_days.{cls}"]) for cls in "ABC"},
        scheduled_max_products=int(value["count.scheduled_max_products"]),
        scrap_approval_value=Decimal(value["scrap.approval_value"]),
    )


def get_settings(store: Store, actor: Actor) -> StockSettings:
    check(store, actor, Permission.LOOKUP, "settings")
    with store.read() as session:
        return read_settings(session)


def _non_negative(name: str, raw: object, *, whole: bool = False) -> str:
    number = parse_number(str(raw), what=name, scale=MONEY_SCALE)
    if number < 0:
        raise BadInput(f"{name} cannot be negative ({raw})")
    if whole and number != number.to_integral_value():
        raise BadInput(f"{name} must be a whole number, not {raw}")
    return format(number.normalize(), "f")


def change_settings(store: Store, actor: Actor, changes: dict[str, object]) -> StockSettings:
    """Set some of :data:`DEFAULTS`' keys (managers: counts need approve-count, scrap needs adjust)."""
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise BadInput(f"unknown setting {unknown[0]!r}")
    if any(key.startswith("count.") for key in changes):
        check(store, actor, Permission.APPROVE_COUNT, "count settings")
    if any(key.startswith("scrap.") for key in changes):
        check(store, actor, Permission.ADJUST, "scrap settings")
    clean = {}
    for key, raw in changes.items():
        whole = key.startswith("count.frequency_days") or key == "count.scheduled_max_products"
        clean[key] = _non_negative(key, raw, whole=whole)
        if whole and Decimal(clean[key]) == 0:
            raise BadInput(f"{key} must be at least 1")
    with store.write() as session:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        for key, value in clean.items():
            statement = insert(StoreMeta).values(key=key, value=value)
            session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": value}))
        audit.record(session, actor, "settings.stock", "settings", "; ".join(f"{k} = {v}" for k, v in clean.items()))
        return read_settings(session)
