"""The store's own settings (site policy), kept in ``store_meta`` and changed by administrators.

Each setting has a key, a default and a parser; ``show`` lists them all, and every change is
audited in the transaction that makes it.  The valuation method is read by the ledger at posting
time, so a change takes effect for postings made after it and never rewrites history.

Security policy - how many failed sign-ins lock an account, for how long, and after how many idle
minutes a station locks - lives here too, not in each station's file: a station file may make it
stricter, never weaker (:func:`effective_policy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
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


def _window_days(text: str) -> str:
    value = str(text).strip()
    if not value.isascii() or not value.isdigit() or not 7 <= int(value) <= 730:
        raise BadInput(f"the demand window is a whole number of days from 7 to 730, not {text!r}")
    return str(int(value))


def _service_level(text: str) -> str:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise BadInput(f"not a percentage: {text!r}") from None
    if not value.is_finite() or not 50 <= value < 100:
        raise BadInput(f"the service level is a percentage from 50 to below 100, not {text}")
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
    Setting("replenish_window_days", "90", _window_days,
            "replenishment: days of shipments and issues that demand (run-out dates, reorder points) is taken from"),
    Setting("replenish_service_level", "95", _service_level,
            "replenishment: % of lead times a demand-based reorder point should cover without running out"),
)}


def read_all(session: Session) -> dict[str, str]:
    """Every setting's value (the default where the store has none)."""
    stored = dict(session.execute(select(StoreMeta.key, StoreMeta.value).where(StoreMeta.key.in_(SETTINGS))).all())
    return {key: stored.get(key, setting.default) for key, setting in SETTINGS.items()}


def get(session: Session, key: str) -> str:
    return read_all(session)[key]


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


SECURITY_PREFIX = "security."


@dataclass(frozen=True)
class SecurityPolicy:
    max_failed_logins: int = 5
    lockout_minutes: float = 15.0
    idle_lock_minutes: float = 5.0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        idle = f"{self.idle_lock_minutes:g} idle minutes" if self.idle_lock_minutes else "never when idle"
        return (f"accounts lock after {self.max_failed_logins} failed sign-ins, for {self.lockout_minutes:g} minutes; "
                f"stations lock after {idle}")


# Each setting's bounds: no policy an administrator types can switch the lockout off.
_BOUNDS = {"max_failed_logins": (1, 100), "lockout_minutes": (1, 24 * 60), "idle_lock_minutes": (0, 24 * 60)}


def security_policy(session: Session) -> SecurityPolicy:
    """The store's policy (defaults for what was never set)."""
    rows = session.execute(select(StoreMeta.key, StoreMeta.value).where(StoreMeta.key.startswith(SECURITY_PREFIX)))
    values = {key.removeprefix(SECURITY_PREFIX): value for key, value in rows}
    policy = SecurityPolicy()
    for name, text in values.items():
        if name in _BOUNDS:
            policy = replace(policy, **{name: type(getattr(policy, name))(float(text))})
    return policy


def read_security_policy(store: Store) -> SecurityPolicy:
    with store.read() as session:
        return security_policy(session)


def effective_policy(store_policy: SecurityPolicy, *, max_failed_logins: int | None = None,
                     lockout_minutes: float | None = None, idle_lock_minutes: float | None = None) -> SecurityPolicy:
    """The store's policy made stricter by a station's own values, never weaker: fewer failures,
    a longer lockout, a shorter idle time (0 - never lock - only where the store allows it)."""
    policy = store_policy
    if max_failed_logins is not None:
        policy = replace(policy, max_failed_logins=min(policy.max_failed_logins, max(1, int(max_failed_logins))))
    if lockout_minutes is not None:
        policy = replace(policy, lockout_minutes=max(policy.lockout_minutes, lockout_minutes))
    if idle_lock_minutes:
        idle = policy.idle_lock_minutes
        policy = replace(policy, idle_lock_minutes=min(idle, idle_lock_minutes) if idle else idle_lock_minutes)
    return policy


def show(store: Store, actor: Actor) -> dict:
    """Every store setting, for ``ims settings show``: the plain ones by key, and the security policy."""
    check(store, actor, Permission.LOOKUP, "settings")
    with store.read() as session:
        return {**read_all(session), "security": security_policy(session).to_dict()}


def set_security(store: Store, actor: Actor, **changes: float | None) -> SecurityPolicy:
    """Change the store's security policy (administrators); audited with before and after."""
    check(store, actor, Permission.MANAGE_SETTINGS, "security policy")
    wanted = {name: value for name, value in changes.items() if value is not None}
    if not wanted:
        raise BadInput("nothing to change: give --max-failed-logins, --lockout-minutes or --idle-lock-minutes")
    for name, value in wanted.items():
        low, high = _BOUNDS[name]
        if not low <= value <= high:
            raise BadInput(f"{name.replace('_', '-')} must be from {low} to {high}, not {value:g}")
    with store.write() as session:
        before = security_policy(session)
        after = replace(before, **{name: type(getattr(before, name))(value) for name, value in wanted.items()})
        for name in wanted:
            row = session.get(StoreMeta, SECURITY_PREFIX + name)
            text = f"{getattr(after, name):g}"
            if row is None:
                session.add(StoreMeta(key=SECURITY_PREFIX + name, value=text))
            else:
                row.value = text
        summary = "; ".join(f"{name}: {getattr(before, name):g} -> {getattr(after, name):g}" for name in wanted)
        audit.record(session, actor, "settings.security", "security policy", summary)
    return after
